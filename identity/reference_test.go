package identity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/knit-cdp/knit/internal/parallel"
)

// randomGraph builds a graph shaped like a unify run (records with
// identifiers, dedupe groups with owners, co-occurrences with times, rule
// links, overrides, repeated evidence), small enough in values that limits,
// generic values and never-match overrides refuse many links.
func randomGraph(seed uint64, people int) *Graph {
	rng := rand.New(rand.NewPCG(seed, 7))
	g := New(unifyTypes(3))
	pick := func(n int) int { return rng.IntN(max(n, 1)) }
	ident := func(typ int, spread int) int32 { return g.Ident(typ, fmt.Sprintf("v%d", pick(spread))) }
	var recs []int32
	for i := 0; i < people; i++ {
		src := pick(3)
		rec, _ := g.Record(src, fmt.Sprintf("s%d/%d", src, i))
		recs = append(recs, rec)
		for typ, spread := range []int{people, people, people / 2, people / 3, people * 2} {
			if rng.IntN(3) == 0 {
				continue
			}
			g.Link(Edge{A: rec, B: ident(typ, spread), Kind: HasIdentifier, Group: int32(src), Rule: -1})
		}
	}
	for i := 0; i < people; i++ {
		a, b := ident(rng.IntN(5), people), ident(rng.IntN(5), people)
		if a != b {
			g.Link(Edge{A: a, B: b, Kind: CoOccurrence, Group: int32(pick(2)), Time: int64(pick(50)) - 10, Rule: -1})
		}
	}
	for i := 0; i < people/4; i++ {
		a, b := recs[pick(len(recs))], recs[pick(len(recs))]
		kind := []Kind{Dedupe, Rule, Rule, AlwaysMatch}[pick(4)]
		rule := int32(pick(2))
		if kind == AlwaysMatch {
			rule = -1
		}
		g.Link(Edge{A: a, B: b, Kind: kind, Group: int32(pick(2)), Rule: rule})
		if kind == Dedupe {
			g.SetOwner(ident(1, people), a)
		}
	}
	for i := 0; i < people/20; i++ {
		g.Never(recs[pick(len(recs))], recs[pick(len(recs))])
	}
	// The same evidence again, and in another order.
	for i := 0; i < len(g.Edges)/10; i++ {
		e := g.Edges[pick(len(g.Edges))]
		if rng.IntN(2) == 0 {
			e.A, e.B = e.B, e.A
		}
		g.Link(e)
	}
	rng.Shuffle(len(g.Edges), func(i, j int) { g.Edges[i], g.Edges[j] = g.Edges[j], g.Edges[i] })
	return g
}

// referenceResolve is clustering written plainly, as specified: edges
// oriented by content hash and sorted by the full key, repeats dropped,
// generic values refused, then union-find with per-root maps of limited
// identifiers and never-match records, each refusal text formatted anew.
func referenceResolve(g *Graph, opt Options) (root []int32, decisions []Decision, reasons []string) {
	hash := make([]uint64, len(g.Nodes))
	for n, node := range g.Nodes {
		hash[n] = contentHash(node)
	}
	edges := slices.Clone(g.Edges)
	for i, e := range edges {
		if hash[e.A] > hash[e.B] || hash[e.A] == hash[e.B] && e.A > e.B {
			edges[i].A, edges[i].B = e.B, e.A
		}
	}
	key := func(e Edge) [6]uint64 {
		return [6]uint64{
			uint64(e.Kind)<<56 | uint64(uint32(e.Group))<<24 | uint64(g.edgePriority(e))&0xffffff,
			uint64(e.Time) ^ 1<<63,
			hash[e.A]>>32<<32 | hash[e.B]>>32,
			hash[e.A], hash[e.B], uint64(e.Rule) ^ 1<<63,
		}
	}
	slices.SortFunc(edges, func(x, y Edge) int {
		kx, ky := key(x), key(y)
		return slices.Compare(kx[:], ky[:])
	})
	edges = slices.CompactFunc(edges, func(p, e Edge) bool {
		return p.A == e.A && p.B == e.B && p.Kind == e.Kind && p.Rule == e.Rule
	})
	generic := map[int32]Generic{}
	for _, gv := range g.detectGeneric(opt.GenericThreshold) {
		generic[gv.Node] = gv
	}
	parent := make([]int32, len(g.Nodes))
	limited := map[int32][]int32{}
	neverIn := map[int32][]int32{}
	never := map[int32][]int32{}
	for i := range parent {
		parent[i] = int32(i)
		if n := g.Nodes[i]; !n.Record && g.Types[n.Type].Limit > 0 {
			limited[int32(i)] = []int32{int32(i)}
		}
	}
	for _, p := range g.never {
		never[p[0]] = append(never[p[0]], p[1])
		never[p[1]] = append(never[p[1]], p[0])
		neverIn[p[0]], neverIn[p[1]] = []int32{p[0]}, []int32{p[1]}
	}
	var find func(int32) int32
	find = func(x int32) int32 {
		if parent[x] != x {
			parent[x] = find(parent[x])
		}
		return parent[x]
	}
	size := map[int32]int{}
	sizeOf := func(r int32) int { return size[r] + 1 }
	union := func(a, b int32, force bool) string {
		ra, rb := find(a), find(b)
		if ra == rb {
			return ""
		}
		for _, side := range [2][2]int32{{ra, rb}, {rb, ra}} {
			for _, rec := range neverIn[side[0]] {
				for _, partner := range never[rec] {
					if find(partner) == side[1] {
						return fmt.Sprintf("never-match override: %s and %s", g.Nodes[rec].Value, g.Nodes[partner].Value)
					}
				}
			}
		}
		merged := append(slices.Clone(limited[ra]), limited[rb]...)
		if !force {
			seen := map[[2]int32]bool{}
			counts := map[int16]int{}
			for _, n := range merged {
				t := g.Nodes[n].Type
				k := [2]int32{int32(t), g.ownerOf(n)}
				if seen[k] {
					continue
				}
				seen[k] = true
				counts[t]++
				if counts[t] > g.Types[t].Limit {
					return fmt.Sprintf("limit: the profile would hold %d %s values (at most %d)", counts[t], g.Types[t].Name, g.Types[t].Limit)
				}
			}
		}
		if sizeOf(ra) < sizeOf(rb) {
			ra, rb = rb, ra
		}
		parent[rb] = ra
		size[ra] += sizeOf(rb)
		limited[ra] = merged
		neverIn[ra] = append(neverIn[ra], neverIn[rb]...)
		return ""
	}
	for _, e := range edges {
		var reason string
		if gv, ok := generic[e.A]; ok {
			reason = g.genericReason(gv)
		} else if gv, ok := generic[e.B]; ok {
			reason = g.genericReason(gv)
		} else {
			reason = union(e.A, e.B, e.Kind.forced())
		}
		decisions = append(decisions, Decision{Edge: e, Accepted: reason == ""})
		reasons = append(reasons, reason)
	}
	root = make([]int32, len(g.Nodes))
	for i := range root {
		root[i] = find(int32(i))
	}
	return root, decisions, reasons
}

// TestResolveMatchesReference checks every decision, reason and root of
// Resolve against the plain version on random graphs, one of them large
// enough that nodes share the top half of their content hash.
func TestResolveMatchesReference(t *testing.T) {
	sizes := []int{50, 200, 1000, 1000, 5000, 30000}
	if testing.Short() {
		sizes = sizes[:5]
	}
	for i, people := range sizes {
		g := randomGraph(uint64(i+1), people)
		wantRoot, want, wantReasons := referenceResolve(g, Options{GenericThreshold: 3})
		res := g.Resolve(Options{GenericThreshold: 3})
		if len(res.Decisions) != len(want) {
			t.Fatalf("%d people: %d decisions, want %d", people, len(res.Decisions), len(want))
		}
		refused := 0
		for j, d := range res.Decisions {
			if d.Edge != want[j].Edge || d.Accepted != want[j].Accepted || res.Reason(d) != wantReasons[j] {
				t.Fatalf("%d people: decision %d is %+v %q, want %+v %q", people, j, d.Edge, res.Reason(d), want[j].Edge, wantReasons[j])
			}
			if !d.Accepted {
				refused++
			}
		}
		// Union-find roots differ by tie-breaks; the clusters must not.
		same := map[[2]int32]bool{}
		for n := range wantRoot {
			same[[2]int32{wantRoot[n], res.Root[n]}] = true
		}
		if len(same) != countDistinct(wantRoot) || len(same) != countDistinct(res.Root) {
			t.Fatalf("%d people: clusters differ from the reference", people)
		}
		if refused == 0 || refused == len(want) {
			t.Fatalf("%d people: %d of %d refused; the graph exercises no guard", people, refused, len(want))
		}
		t.Logf("%d people: %d decisions, %d refused, %d generic", people, len(want), refused, len(res.Generic))
	}
}

func countDistinct(xs []int32) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return len(slices.Compact(s))
}

// Resolve splits hashing, ordering and reading the edges across the
// cores; its decisions, reasons and roots must equal those of the same
// work on one goroutine, run after run, with one to four workers.
func TestResolveParallelEqualsSequential(t *testing.T) {
	defer func(n int) { parallel.MinItems = n }(parallel.MinItems)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, people := range []int{300, 3000} {
		g := randomGraph(uint64(i+11), people)
		parallel.MinItems = math.MaxInt
		runtime.GOMAXPROCS(1)
		want := g.Resolve(Options{GenericThreshold: 3})
		parallel.MinItems = 64
		for _, procs := range []int{2, 3, 4, 2} {
			runtime.GOMAXPROCS(procs)
			got := g.Resolve(Options{GenericThreshold: 3})
			if !slices.Equal(got.Root, want.Root) || !slices.Equal(got.Decisions, want.Decisions) || !slices.Equal(got.reasons, want.reasons) {
				t.Fatalf("%d people, %d workers: the parallel result differs from the sequential one", people, procs)
			}
		}
	}
}
