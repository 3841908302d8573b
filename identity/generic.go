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
	// Identifiers on each record, to see a value's neighbours through the
	// records it sits on.
	recIdents := map[int32][]int32{}
	coOccur := map[int32][]int32{}
	degree := make([]int32, len(g.Nodes))
	for _, e := range g.Edges {
		switch e.Kind {
		case HasIdentifier:
			rec, id := e.A, e.B
			if !g.Nodes[rec].Record {
				rec, id = id, rec
			}
			recIdents[rec] = append(recIdents[rec], id)
		case CoOccurrence:
			coOccur[e.A] = append(coOccur[e.A], e.B)
			coOccur[e.B] = append(coOccur[e.B], e.A)
			degree[e.A]++
			degree[e.B]++
		}
	}
	identRecs := map[int32][]int32{}
	for rec, ids := range recIdents {
		for _, id := range ids {
			degree[id] += int32(len(ids) - 1)
			identRecs[id] = append(identRecs[id], rec)
		}
	}
	var out []Generic
	for n, d := range degree {
		if int(d) <= threshold || g.Nodes[n].Record {
			continue // too few neighbours to exceed the threshold
		}
		own := g.Nodes[n].Type
		seen := map[int32]bool{}
		perType := map[int16]int{}
		note := func(m int32) {
			t := g.Nodes[m].Type
			if m == int32(n) || t == own || !g.Types[t].Strong || seen[m] {
				return
			}
			seen[m] = true
			perType[t]++
		}
		for _, m := range coOccur[int32(n)] {
			note(m)
		}
		for _, rec := range identRecs[int32(n)] {
			for _, m := range recIdents[rec] {
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
			out = append(out, Generic{Node: int32(n), Type: g.Types[worstType].Name, Distinct: worst})
		}
	}
	slices.SortFunc(out, func(a, b Generic) int { return cmp.Compare(a.Node, b.Node) })
	return out
}
