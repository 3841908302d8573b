package identity

import (
	"fmt"
	"slices"
)

// unionFind is a disjoint-set forest that also tracks, per cluster, the
// identifiers of limited types and the records under never-match
// overrides, so a union that would break a guard can be refused.
type unionFind struct {
	g      *Graph
	parent []int32
	size   []int32
	// limited holds, for a root, the identifier nodes of types with a
	// limit in its cluster. Most clusters have few.
	limited map[int32][]int32
	// neverIn holds, for a root, the records of its cluster that have a
	// never-match partner.
	neverIn map[int32][]int32
	never   map[int32][]int32
}

func newUnionFind(g *Graph, n int) *unionFind {
	uf := &unionFind{
		g: g, parent: make([]int32, n), size: make([]int32, n),
		limited: map[int32][]int32{}, neverIn: map[int32][]int32{}, never: map[int32][]int32{},
	}
	for i := range uf.parent {
		uf.parent[i] = int32(i)
		uf.size[i] = 1
		node := g.Nodes[i]
		if !node.Record && g.Types[node.Type].Limit > 0 {
			uf.limited[int32(i)] = []int32{int32(i)}
		}
	}
	return uf
}

func (uf *unionFind) find(x int32) int32 {
	for uf.parent[x] != x {
		uf.parent[x] = uf.parent[uf.parent[x]] // path halving
		x = uf.parent[x]
	}
	return x
}

// union joins the clusters of a and b and returns "" or, when a guard
// forbids it, the reason. force skips the limit guard (always-match
// overrides win over limits) but never a never-match override.
func (uf *unionFind) union(a, b int32, force bool) string {
	ra, rb := uf.find(a), uf.find(b)
	if ra == rb {
		return ""
	}
	if reason := uf.neverReason(ra, rb); reason != "" {
		return reason
	}
	merged := append(slices.Clone(uf.limited[ra]), uf.limited[rb]...)
	if !force {
		if reason := uf.limitReason(merged); reason != "" {
			return reason
		}
	}
	if uf.size[ra] < uf.size[rb] {
		ra, rb = rb, ra
	}
	uf.parent[rb] = ra
	uf.size[ra] += uf.size[rb]
	if len(merged) > 0 {
		uf.limited[ra] = merged
	}
	delete(uf.limited, rb)
	if n := uf.neverIn[rb]; len(n) > 0 {
		uf.neverIn[ra] = append(uf.neverIn[ra], n...)
		delete(uf.neverIn, rb)
	}
	return ""
}

func (uf *unionFind) neverReason(ra, rb int32) string {
	if len(uf.never) == 0 {
		return ""
	}
	for _, side := range [2][2]int32{{ra, rb}, {rb, ra}} {
		for _, rec := range uf.neverIn[side[0]] {
			for _, partner := range uf.never[rec] {
				if uf.find(partner) == side[1] {
					return fmt.Sprintf("never-match override: %s and %s", uf.g.Nodes[rec].Value, uf.g.Nodes[partner].Value)
				}
			}
		}
	}
	return ""
}

func (uf *unionFind) limitReason(merged []int32) string {
	if len(merged) < 2 {
		return ""
	}
	// Distinct owners per type; owners are few per cluster, so a slice
	// scan beats a map.
	type seen struct {
		typ   int16
		owner int32
	}
	var owners []seen
	counts := map[int16]int{}
	for _, n := range merged {
		t := uf.g.Nodes[n].Type
		o := uf.g.ownerOf(n)
		dup := false
		for _, s := range owners {
			if s.typ == t && s.owner == o {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		owners = append(owners, seen{t, o})
		counts[t]++
		if limit := uf.g.Types[t].Limit; counts[t] > limit {
			return fmt.Sprintf("limit: the profile would hold %d %s values (at most %d)", counts[t], uf.g.Types[t].Name, limit)
		}
	}
	return ""
}
