package identity

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// unifyGraph builds a graph shaped like the 1M unify workload, scaled by
// people: per person a loyalty record (loyalty_id, email, phone), most
// with an e-commerce account (user_id, email, phone) and a dedupe twin
// now and then, web visitors whose anonymous IDs co-occur with the
// loyalty ID, rule links between a person's records, and shared phones
// that turn out generic or break a limit.
func unifyGraph(people int) *Graph {
	rng := rand.New(rand.NewPCG(1, 2))
	g := New(unifyTypes(20))
	id := func(typ int, n int) int32 { return g.Ident(typ, strconv.Itoa(n)) }
	has := func(rec, ident int32, src int) {
		g.Link(Edge{A: rec, B: ident, Kind: HasIdentifier, Group: int32(src), Rule: -1})
	}
	phone := func(i int) int32 {
		if rng.IntN(50) == 0 {
			return id(3, rng.IntN(people/20)) // a shared phone
		}
		return id(3, i)
	}
	for i := 0; i < people; i++ {
		key := strconv.Itoa(i)
		loyalty, _ := g.Record(0, "loyalty/"+key)
		lid, email := id(1, i), id(2, i)
		has(loyalty, lid, 0)
		has(loyalty, email, 0)
		has(loyalty, phone(i), 0)
		if rng.IntN(50) == 0 {
			twin, _ := g.Record(0, "loyalty/"+key+"b")
			has(twin, id(1, people+i), 0)
			has(twin, email, 0)
			g.Link(Edge{A: loyalty, B: twin, Kind: Dedupe, Rule: 0})
		}
		if rng.IntN(10) < 7 {
			acct, _ := g.Record(1, "ecommerce/"+key)
			has(acct, id(0, i), 1)
			has(acct, email, 1)
			ph := phone(i)
			has(acct, ph, 1)
			g.Link(Edge{A: loyalty, B: acct, Kind: Rule, Group: 0, Rule: 1})
		}
		for v := rng.IntN(3); v > 0; v-- {
			anon := id(4, rng.IntN(people*2))
			visitor, _ := g.Record(2, "web/"+strconv.Itoa(int(anon)))
			has(visitor, anon, 2)
			g.Link(Edge{A: anon, B: lid, Kind: CoOccurrence, Group: 2, Time: 1_600_000_000 + rng.Int64N(1e8), Rule: -1})
		}
	}
	return g
}

// unifyTypes are the identifier types of the coffee example.
func unifyTypes(anonymousLimit int) []TypeSpec {
	return []TypeSpec{
		{Name: "user_id", Limit: 1, Priority: 0, Strong: true},
		{Name: "loyalty_id", Limit: 1, Priority: 1, Strong: true},
		{Name: "email", Priority: 2, Strong: true},
		{Name: "phone", Priority: 3},
		{Name: "anonymous_id", Limit: anonymousLimit, Priority: 4},
	}
}

var (
	largeOnce  sync.Once
	largeGraph *Graph
)

// BenchmarkResolveLarge clusters a unify-shaped graph of 500,000 people:
// 3.5 million nodes and 3.9 million edges, built once.
func BenchmarkResolveLarge(b *testing.B) {
	largeOnce.Do(func() { largeGraph = unifyGraph(500_000) })
	b.ReportAllocs()
	for b.Loop() {
		largeGraph.Resolve(Options{GenericThreshold: 3})
	}
	b.ReportMetric(float64(len(largeGraph.Edges)), "edges")
}
