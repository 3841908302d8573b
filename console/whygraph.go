package console

import (
	"slices"
	"strconv"
	"strings"

	"github.com/knit-cdp/knit/lookup"
)

// The "why merged" picture is laid out on the server, deterministically:
// the anchor record on the left, then one column per link distance from
// it (breadth-first, neighbours in the order of the records), so a star
// of records joined to the anchor reads as a fan and a chain as a row.
// The template draws it as inline SVG; every text is escaped by
// html/template, and the table below the picture says the same in words.

const (
	graphColW    = 400.0 // between columns: room for an edge label
	graphRowH    = 84.0  // between nodes of a column
	graphMargin  = 40.0
	graphPerCol  = 24 // nodes per column before it wraps into another
	graphLabelSz = 46 // characters of an edge label drawn on the picture
)

type graphNode struct {
	X, Y   float64
	ID     string
	Label  string // the record key, shortened for the picture
	Record bool
	Anchor bool
	Title  string // the full text, for the tooltip
}

type graphEdge struct {
	X1, Y1, X2, Y2 float64
	// Path is set for an edge between nodes of one column: a curve, so it
	// does not run over the nodes in between.
	Path   string
	LX, LY float64 // where the label goes
	Label  string
	Title  string
}

type graphLayout struct {
	Width, Height float64
	Nodes         []graphNode
	Edges         []graphEdge
}

func layoutWhy(g *lookup.WhyGraph) graphLayout {
	n := len(g.Nodes)
	if n == 0 {
		return graphLayout{}
	}
	index := make(map[string]int, n)
	for i, node := range g.Nodes {
		index[node.ID] = i
	}
	adj := make([][]int, n)
	for _, e := range g.Edges {
		a, b := index[e.A], index[e.B]
		adj[a] = append(adj[a], b)
		adj[b] = append(adj[b], a)
	}
	// Breadth-first from the anchor (node 0); nodes the walk does not reach
	// (beyond a truncated profile's drawn records) start walks of their own
	// in the next column.
	layer := make([]int, n)
	for i := range layer {
		layer[i] = -1
	}
	var columns [][]int
	for start := 0; start < n; start++ {
		if layer[start] >= 0 {
			continue
		}
		base := len(columns)
		layer[start] = base
		queue := []int{start}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for len(columns) <= layer[v] {
				columns = append(columns, nil)
			}
			columns[layer[v]] = append(columns[layer[v]], v)
			next := append([]int(nil), adj[v]...)
			slices.Sort(next)
			for _, w := range next {
				if layer[w] < 0 {
					layer[w] = layer[v] + 1
					queue = append(queue, w)
				}
			}
		}
	}
	// Wrap tall columns into several.
	var cols [][]int
	for _, c := range columns {
		for len(c) > graphPerCol {
			cols = append(cols, c[:graphPerCol])
			c = c[graphPerCol:]
		}
		cols = append(cols, c)
	}
	tallest := 0
	for _, c := range cols {
		tallest = max(tallest, len(c))
	}
	out := graphLayout{
		Width:  2*graphMargin + float64(len(cols)-1)*graphColW + 160,
		Height: 2*graphMargin + float64(tallest-1)*graphRowH + 20,
	}
	out.Nodes = make([]graphNode, n)
	col := make([]int, n)
	for ci, c := range cols {
		// Centre each column vertically against the tallest.
		top := graphMargin + float64(tallest-len(c))*graphRowH/2
		for ri, v := range c {
			node := g.Nodes[v]
			col[v] = ci
			out.Nodes[v] = graphNode{
				X: graphMargin + 40 + float64(ci)*graphColW, Y: top + float64(ri)*graphRowH,
				ID: node.ID, Label: shorten(node.ID, 30), Record: node.Record, Anchor: node.Anchor, Title: nodeTitle(node),
			}
		}
	}
	for _, e := range g.Edges {
		a, b := out.Nodes[index[e.A]], out.Nodes[index[e.B]]
		var labels []string
		for _, ev := range e.Evidence {
			labels = append(labels, ev.Label())
		}
		label := labels[0]
		if len(labels) > 1 {
			label += " (+" + strconv.Itoa(len(labels)-1) + ")"
		}
		ge := graphEdge{X1: a.X, Y1: a.Y, X2: b.X, Y2: b.Y, Label: shorten(label, graphLabelSz), Title: strings.Join(labels, "\n")}
		if col[index[e.A]] == col[index[e.B]] {
			// Bulge to the right of the column, proportionally to the gap.
			bx := a.X + 40 + 0.35*abs(b.Y-a.Y)
			ge.Path = "M" + ftoa(a.X) + "," + ftoa(a.Y) + " Q" + ftoa(bx) + "," + ftoa((a.Y+b.Y)/2) + " " + ftoa(b.X) + "," + ftoa(b.Y)
			ge.LX, ge.LY = a.X+20+0.2*abs(b.Y-a.Y), (a.Y+b.Y)/2-6
			out.Width = max(out.Width, bx+graphMargin+200)
		} else {
			ge.LX, ge.LY = (a.X+b.X)/2, (a.Y+b.Y)/2-6
		}
		out.Edges = append(out.Edges, ge)
	}
	return out
}

func nodeTitle(n lookup.WhyNode) string {
	if !n.Record {
		return n.ID + " (an identifier no record of this profile carries)"
	}
	var keys []string
	for _, k := range n.Keys {
		keys = append(keys, k.Type+":"+k.Value)
	}
	t := n.ID
	if n.Anchor {
		t += " (anchor: keeps the customer ID)"
	}
	if len(keys) > 0 {
		t += "\n" + strings.Join(keys, ", ")
	}
	return t
}

// shorten cuts a text to at most n characters (not bytes), with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
