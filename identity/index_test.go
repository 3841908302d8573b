package identity

import (
	"strconv"
	"testing"
)

// The graph finds every node by content after the index has grown many
// times, keeps types and records apart, and creates each node once.
func TestGraphFindsNodesByContent(t *testing.T) {
	g := New(unifyTypes(20))
	const n = 50_000
	want := map[[2]string]int32{}
	for i := 0; i < n; i++ {
		v := strconv.Itoa(i)
		for typ := 0; typ < 3; typ++ { // the same value under three types: three nodes
			want[[2]string{strconv.Itoa(typ), v}] = g.Ident(typ, v)
		}
		rec, created := g.Record(i%2, "src/"+v)
		if !created {
			t.Fatalf("record src/%s existed before it was added", v)
		}
		want[[2]string{"rec", v}] = rec
	}
	if len(g.Nodes) != 4*n {
		t.Fatalf("%d nodes, want %d", len(g.Nodes), 4*n)
	}
	for i := 0; i < n; i++ {
		v := strconv.Itoa(i)
		for typ := 0; typ < 3; typ++ {
			w := want[[2]string{strconv.Itoa(typ), v}]
			if got := g.Ident(typ, v); got != w {
				t.Fatalf("Ident(%d, %s) = %d, want %d", typ, v, got, w)
			}
			if got, ok := g.LookupIdent(typ, v); !ok || got != w || g.Nodes[got].Value != v || int(g.Nodes[got].Type) != typ {
				t.Fatalf("LookupIdent(%d, %s) = %d %v", typ, v, got, ok)
			}
		}
		w := want[[2]string{"rec", v}]
		if got, created := g.Record(0, "src/"+v); created || got != w {
			t.Fatalf("Record(src/%s) = %d %v, want %d false", v, got, created, w)
		}
		if got, ok := g.LookupRecord("src/" + v); !ok || got != w || !g.Nodes[got].Record {
			t.Fatalf("LookupRecord(src/%s) = %d %v", v, got, ok)
		}
	}
	if _, ok := g.LookupIdent(3, "1"); ok {
		t.Fatal("a value of another type was found as a phone")
	}
	if _, ok := g.LookupRecord("1"); ok {
		t.Fatal("an identifier was found as a record")
	}
	if _, ok := g.LookupIdent(0, "src/1"); ok {
		t.Fatal("a record key was found as an identifier")
	}
	if len(g.Nodes) != 4*n {
		t.Fatalf("lookups added nodes: %d, want %d", len(g.Nodes), 4*n)
	}
}

// Slots with equal hashes are told apart by the node's content.
func TestNodeIndexCollisions(t *testing.T) {
	var x nodeIndex
	vals := map[int32]string{}
	for n := int32(0); n < 2000; n++ {
		vals[n] = strconv.Itoa(int(n))
		x.add(uint32(n%3), n) // three hashes for all nodes
	}
	for n := int32(0); n < 2000; n++ {
		v := vals[n]
		got, ok := x.find(uint32(n%3), func(m int32) bool { return vals[m] == v })
		if !ok || got != n {
			t.Fatalf("find %d = %d %v", n, got, ok)
		}
	}
	if _, ok := x.find(1, func(m int32) bool { return vals[m] == "x" }); ok {
		t.Fatal("found an absent value")
	}
}
