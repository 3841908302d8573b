package identity

import (
	"cmp"
	"slices"
)

// detectGeneric finds identifier values that stand for many people: a
// store's own loyalty card scanned for walk-in customers, a shared
// household phone. A value is generic when it is seen, on its records or in
// its event rows, with more than threshold distinct values of one strong
// identifier type (other than its own). Such values link nothing; the
// decision is reported so a person can see it.
func (g *Graph) detectGeneric(threshold int) []Generic {
	if threshold <= 0 {
		return nil
	}
	n := len(g.Nodes)
	// Adjacency in compressed form (offsets into one array) rather than
	// maps of slices: millions of records and identifiers fit in a few
	// flat arrays. recIdents lists each record's identifiers; identRecs
	// each identifier's records; co each identifier's co-occurring ones.
	var recIdents, identRecs, co csr
	recIdents.init(n)
	identRecs.init(n)
	co.init(n)
	for _, e := range g.Edges {
		switch e.Kind {
		case HasIdentifier:
			rec, id := e.A, e.B
			if !g.Nodes[rec].Record {
				rec, id = id, rec
			}
			recIdents.count(rec)
			identRecs.count(id)
		case CoOccurrence:
			co.count(e.A)
			co.count(e.B)
		}
	}
	recIdents.alloc()
	identRecs.alloc()
	co.alloc()
	for _, e := range g.Edges {
		switch e.Kind {
		case HasIdentifier:
			rec, id := e.A, e.B
			if !g.Nodes[rec].Record {
				rec, id = id, rec
			}
			recIdents.add(rec, id)
			identRecs.add(id, rec)
		case CoOccurrence:
			co.add(e.A, e.B)
			co.add(e.B, e.A)
		}
	}
	var out []Generic
	seen := map[int32]bool{}
	perType := map[int16]int{}
	for x := 0; x < n; x++ {
		if g.Nodes[x].Record {
			continue
		}
		// An upper bound on its neighbours: too few cannot exceed the threshold.
		degree := len(co.of(int32(x)))
		for _, rec := range identRecs.of(int32(x)) {
			degree += len(recIdents.of(rec)) - 1
		}
		if degree <= threshold {
			continue
		}
		own := g.Nodes[x].Type
		clear(seen)
		clear(perType)
		note := func(m int32) {
			t := g.Nodes[m].Type
			if m == int32(x) || t == own || !g.Types[t].Strong || seen[m] {
				return
			}
			seen[m] = true
			perType[t]++
		}
		for _, m := range co.of(int32(x)) {
			note(m)
		}
		for _, rec := range identRecs.of(int32(x)) {
			for _, m := range recIdents.of(rec) {
				note(m)
			}
		}
		worst, worstType := 0, int16(-1)
		for t, c := range perType {
			if c > worst || c == worst && t < worstType {
				worst, worstType = c, t
			}
		}
		if worst > threshold {
			out = append(out, Generic{Node: int32(x), Type: g.Types[worstType].Name, Distinct: worst})
		}
	}
	slices.SortFunc(out, func(a, b Generic) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// csr is an adjacency list in compressed sparse row form.
type csr struct {
	off  []int32 // off[n]..off[n+1] index into to
	fill []int32
	to   []int32
}

func (c *csr) init(n int)       { c.off = make([]int32, n+1) }
func (c *csr) count(from int32) { c.off[from+1]++ }
func (c *csr) alloc() {
	for i := 1; i < len(c.off); i++ {
		c.off[i] += c.off[i-1]
	}
	c.to = make([]int32, c.off[len(c.off)-1])
	c.fill = slices.Clone(c.off[:len(c.off)-1])
}
func (c *csr) add(from, to int32) {
	c.to[c.fill[from]] = to
	c.fill[from]++
}
func (c *csr) of(n int32) []int32 { return c.to[c.off[n]:c.off[n+1]] }
