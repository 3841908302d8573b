package identity

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// buildWorld adds the same nodes and edges in an order given by perm, so
// tests can check that clustering depends on content, not order.
func buildWorld(seed uint64) *Graph {
	types := []TypeSpec{{Name: "user_id", Limit: 1, Priority: 0, Strong: true}, {Name: "email", Priority: 1, Strong: true}, {Name: "anonymous_id", Limit: 3, Priority: 2}}
	g := New(types)
	type rec struct {
		key    string
		idents [][2]string
	}
	var recs []rec
	for i := 0; i < 60; i++ {
		recs = append(recs, rec{key: fmt.Sprintf("crm/%d", i), idents: [][2]string{{"user_id", fmt.Sprintf("u%d", i%50)}, {"email", fmt.Sprintf("e%d@x.com", i%37)}}})
	}
	for i := 0; i < 40; i++ {
		recs = append(recs, rec{key: fmt.Sprintf("web/a%d", i), idents: [][2]string{{"anonymous_id", fmt.Sprintf("a%d", i)}}})
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	typeIndex := map[string]int{"user_id": 0, "email": 1, "anonymous_id": 2}
	var edges []Edge
	for _, r := range recs {
		n, _ := g.Record(0, r.key)
		for _, id := range r.idents {
			edges = append(edges, Edge{A: n, B: g.Ident(typeIndex[id[0]], id[1]), Kind: HasIdentifier, Rule: -1})
		}
	}
	// Devices signed in by several users: co-occurrences.
	for i := 0; i < 40; i++ {
		a := g.Ident(2, fmt.Sprintf("a%d", i))
		for j := 0; j < 3; j++ {
			u := g.Ident(0, fmt.Sprintf("u%d", (i*7+j*13)%50))
			edges = append(edges, Edge{A: a, B: u, Kind: CoOccurrence, Time: int64((i + j) % 5), Rule: -1})
		}
	}
	rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
	for _, e := range edges {
		g.Link(e)
	}
	return g
}

// partition describes a clustering by node content, independent of IDs.
func partition(g *Graph, res *Result) []string {
	byRoot := map[int32][]string{}
	for n, root := range res.Root {
		byRoot[root] = append(byRoot[root], g.Nodes[n].Value)
	}
	var out []string
	for _, members := range byRoot {
		slices.Sort(members)
		out = append(out, fmt.Sprint(members))
	}
	slices.Sort(out)
	return out
}

func TestResolveIndependentOfInsertionOrder(t *testing.T) {
	want := partition(buildWorld(1), buildWorld(1).Resolve(Options{GenericThreshold: 10}))
	for seed := uint64(2); seed < 8; seed++ {
		g := buildWorld(seed)
		got := partition(g, g.Resolve(Options{GenericThreshold: 10}))
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: clustering differs from seed 1", seed)
		}
	}
}

func TestLimitRefusesSecondUserID(t *testing.T) {
	types := []TypeSpec{{Name: "user_id", Limit: 1, Strong: true}, {Name: "anonymous_id"}}
	g := New(types)
	dev := g.Ident(1, "device")
	a, b := g.Ident(0, "alice"), g.Ident(0, "bob")
	g.Link(Edge{A: dev, B: a, Kind: CoOccurrence, Time: 1, Rule: -1})
	g.Link(Edge{A: dev, B: b, Kind: CoOccurrence, Time: 2, Rule: -1})
	res := g.Resolve(Options{})
	if res.Root[a] == res.Root[b] {
		t.Fatal("alice and bob merged through a shared device")
	}
	if res.Root[dev] != res.Root[a] {
		t.Error("the device goes with the earlier sign-in")
	}
	refused := 0
	for _, d := range res.Decisions {
		if !d.Accepted {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("refused %d links, want 1", refused)
	}
}

func TestOwnersCountOnceAgainstLimit(t *testing.T) {
	types := []TypeSpec{{Name: "loyalty_id", Limit: 1, Strong: true}, {Name: "anonymous_id"}}
	g := New(types)
	r1, _ := g.Record(0, "loyalty/708")
	r2, _ := g.Record(0, "loyalty/710")
	l1, l2 := g.Ident(0, "708"), g.Ident(0, "710")
	g.SetOwner(l1, r1)
	g.SetOwner(l2, r1)
	g.Link(Edge{A: r1, B: r2, Kind: Dedupe, Rule: 0})
	g.Link(Edge{A: r1, B: l1, Kind: HasIdentifier, Rule: -1})
	g.Link(Edge{A: r2, B: l2, Kind: HasIdentifier, Rule: -1})
	res := g.Resolve(Options{})
	if res.Root[l1] != res.Root[l2] {
		t.Fatal("a dedupe group keeps both of its loyalty IDs under a limit of one")
	}
	// A third person's ID still cannot join.
	g2 := g
	r3, _ := g2.Record(0, "loyalty/999")
	l3 := g2.Ident(0, "999")
	dev := g2.Ident(1, "device")
	g2.Link(Edge{A: r3, B: l3, Kind: HasIdentifier, Rule: -1})
	g2.Link(Edge{A: dev, B: l1, Kind: CoOccurrence, Time: 1, Rule: -1})
	g2.Link(Edge{A: dev, B: l3, Kind: CoOccurrence, Time: 2, Rule: -1})
	res = g2.Resolve(Options{})
	if res.Root[l3] == res.Root[l1] {
		t.Error("a third loyalty ID joined the dedupe group through a device")
	}
}

func TestGenericValueLinksNothing(t *testing.T) {
	types := []TypeSpec{{Name: "loyalty_id", Strong: true}, {Name: "email", Strong: true}}
	g := New(types)
	card := g.Ident(0, "9999")
	var emails []int32
	for i := 0; i < 5; i++ {
		e := g.Ident(1, fmt.Sprintf("walkin%d@x.com", i))
		emails = append(emails, e)
		g.Link(Edge{A: card, B: e, Kind: CoOccurrence, Time: int64(i), Rule: -1})
	}
	res := g.Resolve(Options{GenericThreshold: 3})
	if len(res.Generic) != 1 || res.Generic[0].Node != card || res.Generic[0].Distinct != 5 {
		t.Fatalf("generic = %+v, want the card seen with 5 emails", res.Generic)
	}
	if res.Root[emails[0]] == res.Root[emails[1]] {
		t.Error("walk-ins merged through the generic card")
	}
}

func TestNeverMatchWinsOverAlwaysMatch(t *testing.T) {
	g := New([]TypeSpec{{Name: "email"}})
	a, _ := g.Record(0, "crm/a")
	b, _ := g.Record(0, "crm/b")
	g.Never(a, b)
	g.Link(Edge{A: a, B: b, Kind: AlwaysMatch, Rule: -1})
	res := g.Resolve(Options{})
	if res.Root[a] == res.Root[b] {
		t.Error("never-match must win")
	}
}

func BenchmarkResolve(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		g := buildWorld(1)
		b.StartTimer()
		g.Resolve(Options{GenericThreshold: 10})
	}
}
