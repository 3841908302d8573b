package identity

import "fmt"

// unionFind is a disjoint-set forest that also tracks, per cluster, the
// identifiers of limited types and the records under never-match
// overrides, so a union that would break a guard can be refused.
//
// Everything per node lives in flat int32 slices: millions of nodes in
// maps of slices cost an allocation each and gave the garbage collector
// millions of objects to scan on every cycle.
type unionFind struct {
	g      *Graph
	parent []int32
	size   []int32
	// The limited identifiers of a cluster form a linked list: head and
	// tail for a root (-1 when it has none), next for a node. A union
	// appends the second root's list to the first's, so the order is the
	// one a guard reads them in, with no allocation.
	head, tail, next []int32
	// tally holds, for a root, how many limited identifiers of each type
	// its list has, a byte per type (slot gives a type's byte, -1 for
	// none), saturating at 255. When no type would pass its limit even
	// counting every identifier as a distinct owner, a union is safe
	// without walking the lists; tally is nil when some limited type has
	// no byte (more than eight, or a limit over 254).
	tally []uint64
	slot  []int8
	// neverIn holds, for a root, the records of its cluster that have a
	// never-match partner.
	neverIn map[int32][]int32
	never   map[int32][]int32
	// Scratch for limitReason, reused across unions.
	owners []typeOwner
	counts []int32 // per type
}

type typeOwner struct {
	typ   int16
	owner int32
}

// guard names what refused a union.
type guard uint8

const (
	none guard = iota
	neverMatch
	limit
)

// refusal is why a union was refused, as data: the text is made once per
// distinct reason (see refusals), not once per refused edge.
type refusal struct {
	guard        guard
	typ          int16 // limit: the type that would exceed its limit
	rec, partner int32 // never-match: the two records
}

func newUnionFind(g *Graph, n int) *unionFind {
	uf := &unionFind{
		g:       g,
		parent:  make([]int32, 0, n),
		size:    make([]int32, 0, n),
		head:    make([]int32, 0, n),
		tail:    make([]int32, 0, n),
		next:    make([]int32, 0, n),
		neverIn: map[int32][]int32{}, never: map[int32][]int32{},
		counts: make([]int32, len(g.Types)),
	}
	uf.slot = make([]int8, len(g.Types))
	slots := 0
	for t, spec := range g.Types {
		uf.slot[t] = -1
		if spec.Limit > 0 {
			uf.slot[t] = int8(slots)
			slots++
			if spec.Limit > 254 {
				slots = 9
			}
		}
	}
	if slots <= 8 {
		uf.tally = make([]uint64, 0, n)
	}
	for i := 0; i < n; i++ {
		uf.add()
	}
	return uf
}

// add makes the next node of the graph a cluster of its own.
func (uf *unionFind) add() {
	i := int32(len(uf.parent))
	uf.parent = append(uf.parent, i)
	uf.size = append(uf.size, 1)
	uf.next = append(uf.next, -1)
	var tally uint64
	if node := uf.g.Nodes[i]; !node.Record && uf.g.Types[node.Type].Limit > 0 {
		uf.head = append(uf.head, i)
		uf.tail = append(uf.tail, i)
		if int(node.Type) < len(uf.slot) && uf.slot[node.Type] >= 0 {
			tally = 1 << (8 * uint(uf.slot[node.Type]))
		}
	} else {
		uf.head = append(uf.head, -1)
		uf.tail = append(uf.tail, -1)
	}
	if uf.tally != nil {
		uf.tally = append(uf.tally, tally)
	}
	if len(uf.counts) < len(uf.g.Types) {
		uf.counts = make([]int32, len(uf.g.Types))
	}
}

func (uf *unionFind) find(x int32) int32 {
	for uf.parent[x] != x {
		uf.parent[x] = uf.parent[uf.parent[x]] // path halving
		x = uf.parent[x]
	}
	return x
}

// root is find without path compression: it writes nothing, so roots
// can be read on several goroutines once the unions are done.
func (uf *unionFind) root(x int32) int32 {
	for uf.parent[x] != x {
		x = uf.parent[x]
	}
	return x
}

// union joins the clusters of a and b, or, when a guard forbids it,
// returns why. force skips the limit guard (always-match overrides win
// over limits) but never a never-match override.
func (uf *unionFind) union(a, b int32, force bool) refusal {
	ra, rb := uf.find(a), uf.find(b)
	if ra == rb {
		return refusal{}
	}
	if r := uf.neverReason(ra, rb); r.guard != none {
		return r
	}
	if !force {
		if r := uf.limitReason(ra, rb); r.guard != none {
			return r
		}
	}
	// The merged list: ra's identifiers, then rb's.
	head, tail := uf.head[ra], uf.tail[rb]
	switch {
	case head < 0:
		head = uf.head[rb]
	case tail < 0:
		tail = uf.tail[ra]
	default:
		uf.next[uf.tail[ra]] = uf.head[rb]
	}
	if uf.size[ra] < uf.size[rb] {
		ra, rb = rb, ra
	}
	uf.parent[rb] = ra
	uf.size[ra] += uf.size[rb]
	uf.head[ra], uf.tail[ra] = head, tail
	uf.head[rb], uf.tail[rb] = -1, -1
	if uf.tally != nil {
		uf.tally[ra] = addTally(uf.tally[ra], uf.tally[rb])
	}
	if n := uf.neverIn[rb]; len(n) > 0 {
		uf.neverIn[ra] = append(uf.neverIn[ra], n...)
		delete(uf.neverIn, rb)
	}
	return refusal{}
}

func (uf *unionFind) neverReason(ra, rb int32) refusal {
	if len(uf.never) == 0 {
		return refusal{}
	}
	for _, side := range [2][2]int32{{ra, rb}, {rb, ra}} {
		for _, rec := range uf.neverIn[side[0]] {
			for _, partner := range uf.never[rec] {
				if uf.find(partner) == side[1] {
					return refusal{guard: neverMatch, rec: rec, partner: partner}
				}
			}
		}
	}
	return refusal{}
}

func (uf *unionFind) neverText(rec, partner int32) string {
	return fmt.Sprintf("never-match override: %s and %s", uf.g.Nodes[rec].Value, uf.g.Nodes[partner].Value)
}

// limitReason checks the limited identifiers the union of ra and rb would
// hold, ra's first, and names the first type whose count of distinct
// owners goes over its limit.
func (uf *unionFind) limitReason(ra, rb int32) refusal {
	ha, hb := uf.head[ra], uf.head[rb]
	if ha < 0 && (hb < 0 || hb == uf.tail[rb]) || hb < 0 && ha == uf.tail[ra] {
		return refusal{} // fewer than two
	}
	if uf.tally != nil && uf.withinLimits(ra, rb) {
		return refusal{}
	}
	t := uf.overLimit(ha, hb)
	for _, s := range uf.owners {
		uf.counts[s.typ] = 0
	}
	uf.owners = uf.owners[:0]
	if t < 0 {
		return refusal{}
	}
	return refusal{guard: limit, typ: t}
}

// withinLimits reports whether ra's and rb's identifiers together are
// within every limit even if all were of distinct owners.
func (uf *unionFind) withinLimits(ra, rb int32) bool {
	ta, tb := uf.tally[ra], uf.tally[rb]
	for t, s := range uf.slot {
		if s >= 0 && int(ta>>(8*uint(s))&0xff+tb>>(8*uint(s))&0xff) > uf.g.Types[t].Limit {
			return false
		}
	}
	return true
}

// addTally adds two tallies byte by byte, each saturating at 255.
func addTally(a, b uint64) uint64 {
	var sum uint64
	for s := uint(0); s < 64; s += 8 {
		sum |= min(a>>s&0xff+b>>s&0xff, 0xff) << s
	}
	return sum
}

// overLimit walks the lists from ha and hb, counting distinct owners per
// type in uf.owners and uf.counts (the caller clears them); it returns the
// first type to go over its limit, or -1. Owners are few per cluster, so a
// slice scan beats a map.
func (uf *unionFind) overLimit(ha, hb int32) int16 {
	for _, h := range [2]int32{ha, hb} {
		for n := h; n >= 0; n = uf.next[n] {
			t := uf.g.Nodes[n].Type
			o := uf.g.ownerOf(n)
			dup := false
			for _, s := range uf.owners {
				if s.typ == t && s.owner == o {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			uf.owners = append(uf.owners, typeOwner{t, o})
			uf.counts[t]++
			if uf.counts[t] > int32(uf.g.Types[t].Limit) {
				return t
			}
		}
	}
	return -1
}

// text is the reason a union was refused.
func (uf *unionFind) text(r refusal) string {
	if r.guard == neverMatch {
		return uf.neverText(r.rec, r.partner)
	}
	return uf.limitText(r.typ)
}

// limitText is the reason a union was refused for a type's limit: the
// count that broke it is always one over the limit.
func (uf *unionFind) limitText(t int16) string {
	limit := uf.g.Types[t].Limit
	return fmt.Sprintf("limit: the profile would hold %d %s values (at most %d)", limit+1, uf.g.Types[t].Name, limit)
}
