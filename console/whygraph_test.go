package console

import (
	"testing"

	"github.com/knit-cdp/knit/lookup"
)

// The layout is a function of the graph alone: the anchor on the left,
// its neighbours one column right, their neighbours further, an edge
// inside a column drawn as a curve, and every node inside the picture.
func TestLayoutWhyColumns(t *testing.T) {
	g := &lookup.WhyGraph{
		Nodes: []lookup.WhyNode{{ID: "a/1", Record: true, Anchor: true}, {ID: "b/2", Record: true}, {ID: "c/3", Record: true}, {ID: "d/4", Record: true}, {ID: "email:x@y", Record: false}},
		Edges: []lookup.WhyEdge{
			{A: "a/1", B: "b/2", Evidence: []lookup.WhyEvidence{{Kind: "identifier", Values: "email:x@y"}}},
			{A: "a/1", B: "c/3", Evidence: []lookup.WhyEvidence{{Kind: "rule", Rule: "same name", Values: "doe"}, {Kind: "identifier", Values: "phone:1"}}},
			{A: "b/2", B: "c/3", Evidence: []lookup.WhyEvidence{{Kind: "identifier", Values: "phone:2"}}},
			{A: "c/3", B: "d/4", Evidence: []lookup.WhyEvidence{{Kind: "dedupe", Rule: "dedupe", Values: "x"}}},
		},
	}
	l := layoutWhy(g)
	x := func(i int) float64 { return l.Nodes[i].X }
	if !(x(0) < x(1) && x(1) == x(2) && x(2) < x(3)) {
		t.Errorf("columns: %v %v %v %v; want anchor, then b and c, then d", x(0), x(1), x(2), x(3))
	}
	if x(4) <= x(3) {
		t.Errorf("an unconnected node gets a column of its own after the rest: %v", x(4))
	}
	for _, n := range l.Nodes {
		if n.X < 0 || n.Y < 0 || n.X > l.Width || n.Y > l.Height {
			t.Errorf("node %s at (%v,%v) outside %vx%v", n.ID, n.X, n.Y, l.Width, l.Height)
		}
	}
	if l.Edges[1].Label != "same name: doe (+1)" || l.Edges[2].Path == "" || l.Edges[0].Path != "" {
		t.Errorf("edges %+v", l.Edges)
	}
	if again := layoutWhy(g); again.Width != l.Width || again.Nodes[3] != l.Nodes[3] {
		t.Error("the layout is not deterministic")
	}
}
