// Package identity is knit's identity graph: records and identifiers as
// nodes, evidence as edges, and union-find clustering that applies the
// edges in a fixed precedence order and refuses those that would break a
// guard (per-type limits, generic values, never-match overrides). It is
// pure Go on integers; the pipeline feeds it and stores what it decides.
package identity

import (
	"cmp"
	"fmt"
	"hash/maphash"

	"github.com/knit-cdp/knit/internal/parallel"
)

// TypeSpec describes an identifier type to the graph.
type TypeSpec struct {
	Name     string
	Limit    int  // most values of this type one profile may hold; 0 = no limit
	Priority int  // lower links first
	Strong   bool // counts when deciding whether another value is generic
}

// Kind is the kind of evidence an edge carries, in precedence order: edges
// of a lower kind are applied first.
type Kind uint8

const (
	AlwaysMatch   Kind = iota // a person said these records are one customer
	Dedupe                    // a dedupe rule matched two records of one source
	HasIdentifier             // a record carries an identifier
	CoOccurrence              // two identifiers appeared in one event row
	Rule                      // a match rule matched two records
)

func (k Kind) String() string {
	return [...]string{"always-match", "dedupe", "identifier", "co-occurrence", "rule"}[k]
}

// forced reports whether edges of this kind bypass per-type limits. An
// override and a source's own dedupe rule are explicit statements that two
// records are one customer; limits guard against incidental links, such as
// a shared device or a reused identifier. Never-match overrides still win.
func (k Kind) forced() bool { return k == AlwaysMatch || k == Dedupe }

// Edge is one piece of evidence between two nodes.
type Edge struct {
	A, B  int32 // node IDs
	Kind  Kind
	Group int32 // source rank (HasIdentifier, Dedupe, CoOccurrence) or rule index (Rule)
	Time  int64 // when the evidence was seen (unix seconds), earlier first
	Rule  int32 // rule index for Dedupe and Rule edges, -1 otherwise
}

// Node is a record or an identifier.
type Node struct {
	Record bool
	Type   int16  // identifier type index, or source index for records
	Value  string // identifier value, or record key (source/pk)
}

// Graph accumulates nodes and edges. It is not safe for concurrent use.
type Graph struct {
	Types  []TypeSpec
	Nodes  []Node
	Edges  []Edge
	idents nodeIndex // identifier nodes by type and value
	recs   nodeIndex // record nodes by key
	seed   maphash.Seed
	values arena // node values
	never  [][2]int32
	// owner groups limited identifiers that a source's own dedupe rule put
	// in one customer: they count once against a limit (see SetOwner).
	owner map[int32]int32
}

// SetOwner declares that an identifier belongs to a group (the dedupe
// group of the records carrying it). Identifiers with the same owner count
// as one value against their type's limit: a member who enrolled twice
// keeps both loyalty IDs, and still cannot absorb a third person's.
func (g *Graph) SetOwner(ident, owner int32) {
	if g.owner == nil {
		g.owner = map[int32]int32{}
	}
	g.owner[ident] = owner
}

func (g *Graph) ownerOf(ident int32) int32 {
	if o, ok := g.owner[ident]; ok {
		return o
	}
	return ident
}

// New returns an empty graph for the given identifier types.
func New(types []TypeSpec) *Graph {
	return &Graph{Types: types, seed: maphash.MakeSeed()}
}

// Ident returns the node of an identifier, creating it on first use.
func (g *Graph) Ident(typ int, value string) int32 {
	h := nodeHash(g.seed, false, typ, value)
	if n, ok := g.lookupIdent(h, typ, value); ok {
		return n
	}
	n := int32(len(g.Nodes))
	// The value is often a slice of the whole source line it was read
	// from; a copy lets that line be freed.
	g.Nodes = append(g.Nodes, Node{Type: int16(typ), Value: g.values.clone(value)})
	g.idents.add(h, n)
	return n
}

// LookupIdent returns the node of an identifier, if it exists.
func (g *Graph) LookupIdent(typ int, value string) (int32, bool) {
	return g.lookupIdent(nodeHash(g.seed, false, typ, value), typ, value)
}

func (g *Graph) lookupIdent(h uint32, typ int, value string) (int32, bool) {
	return g.idents.find(h, func(n int32) bool {
		return int(g.Nodes[n].Type) == typ && g.Nodes[n].Value == value
	})
}

// Record returns the node of a record, creating it on first use; created
// says whether it is new. The graph keeps its own copy of the key.
func (g *Graph) Record(source int, key string) (n int32, created bool) {
	h := nodeHash(g.seed, true, 0, key)
	if n, ok := g.lookupRecord(h, key); ok {
		return n, false
	}
	n = int32(len(g.Nodes))
	g.Nodes = append(g.Nodes, Node{Record: true, Type: int16(source), Value: g.values.clone(key)})
	g.recs.add(h, n)
	return n, true
}

// LookupRecord returns the node of a record key, if it exists.
func (g *Graph) LookupRecord(key string) (int32, bool) {
	return g.lookupRecord(nodeHash(g.seed, true, 0, key), key)
}

func (g *Graph) lookupRecord(h uint32, key string) (int32, bool) {
	return g.recs.find(h, func(n int32) bool { return g.Nodes[n].Value == key })
}

// Link adds an edge.
func (g *Graph) Link(e Edge) { g.Edges = append(g.Edges, e) }

// Never forbids two records from ever sharing a profile.
func (g *Graph) Never(a, b int32) { g.never = append(g.never, [2]int32{a, b}) }

// Decision is what clustering did with one edge. It holds no pointers:
// a run makes millions of decisions, and a pointer-free slice is one the
// garbage collector never scans. Result.Reason gives the refusal text.
type Decision struct {
	Edge     Edge
	Accepted bool
	reason   int32 // index into Result.reasons + 1; 0 when accepted
}

// Generic is an identifier value detected as generic.
type Generic struct {
	Node     int32
	Type     string // the type it was seen with too many values of
	Distinct int
}

// Result is the outcome of clustering.
type Result struct {
	Root      []int32    // per node: the representative of its cluster
	Decisions []Decision // every edge, in the order it was applied
	Generic   []Generic
	reasons   []string // distinct refusal texts (see Reason)
}

// Reason says why a decision refused its edge; "" when it was accepted.
func (r *Result) Reason(d Decision) string {
	if d.reason == 0 {
		return ""
	}
	return r.reasons[d.reason-1]
}

// Options tune clustering.
type Options struct {
	// GenericThreshold: an identifier seen with more distinct values of one
	// strong type than this is generic and links nothing. 0 disables.
	GenericThreshold int
}

// Resolve clusters the graph. The edge order, and so every guard decision,
// depends only on the content of nodes and edges, never on the order they
// were added: the same inputs in any row order give the same clusters.
func (g *Graph) Resolve(opt Options) *Result {
	// Generic values and the union-find are found from the edges as
	// given, on one goroutine, while the others order the edges; nothing
	// writes g.Edges meanwhile.
	var (
		generic []Generic
		uf      *unionFind
		keys    []edgeKey
		hash    []uint64
	)
	parallel.Do(func() { keys, hash = g.sortedEdges() }, func() {
		generic = g.detectGeneric(opt.GenericThreshold)
		uf = newUnionFind(g, len(g.Nodes))
	})
	// isGeneric is a flag per node (a byte each) and genericAt the position
	// in generic: millions of edges are checked, a few dozen values hit.
	isGeneric := make([]bool, len(g.Nodes))
	genericAt := make(map[int32]int, len(generic))
	for i, gv := range generic {
		isGeneric[gv.Node] = true
		genericAt[gv.Node] = i
	}

	for _, pair := range g.never {
		uf.never[pair[0]] = append(uf.never[pair[0]], pair[1])
		uf.never[pair[1]] = append(uf.never[pair[1]], pair[0])
	}
	for rec := range uf.never {
		uf.neverIn[rec] = []int32{rec}
	}
	res := &Result{Decisions: g.orientedEdges(keys, hash), Generic: generic}
	rs := refusals{res: res, index: map[string]int32{}, generic: map[int32]int32{}, limit: map[int16]int32{}}
	// The decisions hold the edges in order; repeats are dropped in place.
	kept := 0
	for i := range res.Decisions {
		d := res.Decisions[i]
		e := d.Edge
		if kept > 0 {
			if p := res.Decisions[kept-1].Edge; p.A == e.A && p.B == e.B && p.Kind == e.Kind && p.Rule == e.Rule {
				continue // the same evidence twice
			}
		}
		switch {
		case isGeneric[e.A]:
			d.reason = rs.generic1(g, generic[genericAt[e.A]])
		case isGeneric[e.B]:
			d.reason = rs.generic1(g, generic[genericAt[e.B]])
		default:
			if r := uf.union(e.A, e.B, e.Kind.forced()); r.guard != none {
				d.reason = rs.of(uf, r)
			}
		}
		d.Accepted = d.reason == 0
		res.Decisions[kept] = d
		kept++
	}
	res.Decisions = res.Decisions[:kept]
	// No union runs now: the roots are read without path compression, so
	// the cores share the nodes without writing.
	res.Root = make([]int32, len(g.Nodes))
	parallel.For(len(res.Root), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			res.Root[i] = uf.root(int32(i))
		}
	})
	return res
}

// orientedEdges returns the edges in the order of keys as decisions yet to
// be made, each edge oriented as its key was (the end of smaller content
// hash first). The edges are read in a random order, one cache miss each:
// the cores share the misses.
func (g *Graph) orientedEdges(keys []edgeKey, hash []uint64) []Decision {
	out := make([]Decision, len(keys))
	parallel.For(len(keys), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			e := g.Edges[keys[i].edge]
			if hash[e.A] > hash[e.B] || hash[e.A] == hash[e.B] && e.A > e.B {
				e.A, e.B = e.B, e.A
			}
			out[i].Edge = e
		}
	})
	return out
}

// refusals gives each refusal its text's number in Result.reasons, making
// each text once: many edges share one reason (every link of a generic
// value, every limit of one type), and formatting it per edge was a
// measurable part of clustering.
type refusals struct {
	res     *Result
	index   map[string]int32 // text → number
	generic map[int32]int32  // generic node → number
	limit   map[int16]int32  // limited type → number
}

func (rs *refusals) text(reason string) int32 {
	i, ok := rs.index[reason]
	if !ok {
		rs.res.reasons = append(rs.res.reasons, reason)
		i = int32(len(rs.res.reasons))
		rs.index[reason] = i
	}
	return i
}

func (rs *refusals) generic1(g *Graph, gv Generic) int32 {
	i, ok := rs.generic[gv.Node]
	if !ok {
		i = rs.text(g.genericReason(gv))
		rs.generic[gv.Node] = i
	}
	return i
}

func (rs *refusals) of(uf *unionFind, r refusal) int32 {
	if r.guard == neverMatch {
		return rs.text(uf.neverText(r.rec, r.partner))
	}
	i, ok := rs.limit[r.typ]
	if !ok {
		i = rs.text(uf.limitText(r.typ))
		rs.limit[r.typ] = i
	}
	return i
}

// edgeKey is an edge's place in the order clustering applies edges: kind,
// source or rule group and type priority in class, then time, then the
// top halves of the two ends' content hashes; edge indexes g.Edges. Ties
// (rare: equal top halves) fall back to the full hashes, then the rule.
type edgeKey struct {
	class, time, ends uint64
	rule              int32
	edge              int32
}

// sortedEdges returns the edges' keys in the order clustering applies
// them, and the nodes' content hashes. Nodes are ordered by a hash of
// their content (FNV-1a, stable across processes and machines) rather than
// by sorting millions of strings; keys are packed into integers so the
// sort compares three words per step, and reads the edges themselves only
// on a tie. Repeats of one piece of evidence end up next to each other,
// ordered by index (they are equal in everything else): Resolve skips
// them. Hashing, packing and sorting are split across the cores; the
// order is a strict total one, so it never depends on how.
func (g *Graph) sortedEdges() ([]edgeKey, []uint64) {
	hash := make([]uint64, len(g.Nodes))
	parallel.For(len(g.Nodes), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			hash[n] = contentHash(g.Nodes[n])
		}
	})
	keys := make([]edgeKey, len(g.Edges))
	parallel.For(len(g.Edges), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			e := g.Edges[i]
			ha, hb := min(hash[e.A], hash[e.B]), max(hash[e.A], hash[e.B])
			prio := uint64(g.edgePriority(e)) & 0xffffff
			keys[i] = edgeKey{
				class: uint64(e.Kind)<<56 | uint64(uint32(e.Group))<<24 | prio,
				time:  uint64(e.Time) ^ 1<<63, // order signed times as unsigned
				ends:  ha>>32<<32 | hb>>32,
				rule:  e.Rule,
				edge:  int32(i),
			}
		}
	})
	// ends compares the two ends' hashes in orientation order: the smaller
	// first, as orientedEdges puts them.
	ends := func(e Edge) (uint64, uint64) { return min(hash[e.A], hash[e.B]), max(hash[e.A], hash[e.B]) }
	parallel.SortFunc(keys, func(x, y edgeKey) int {
		switch {
		case x.class != y.class:
			return cmp.Compare(x.class, y.class)
		case x.time != y.time:
			return cmp.Compare(x.time, y.time)
		case x.ends != y.ends:
			return cmp.Compare(x.ends, y.ends)
		}
		xa, xb := ends(g.Edges[x.edge])
		ya, yb := ends(g.Edges[y.edge])
		return cmp.Or(cmp.Compare(xa, ya), cmp.Compare(xb, yb), cmp.Compare(x.rule, y.rule), cmp.Compare(x.edge, y.edge))
	})
	return keys, hash
}

// contentHash is FNV-1a over a node's kind, type and value.
func contentHash(n Node) uint64 {
	h := uint64(14695981039346656037)
	mix := func(b byte) { h ^= uint64(b); h *= 1099511628211 }
	if n.Record {
		mix(1)
	} else {
		mix(2)
		mix(byte(n.Type))
		mix(byte(n.Type >> 8))
	}
	for i := 0; i < len(n.Value); i++ {
		mix(n.Value[i])
	}
	return h
}

func (g *Graph) genericReason(gv Generic) string {
	n := g.Nodes[gv.Node]
	return fmt.Sprintf("generic value: %s:%s was seen with %d distinct %s values", g.Types[n.Type].Name, n.Value, gv.Distinct, gv.Type)
}

// edgePriority orders edges within a kind and group by the priority of the
// identifier types they touch: the more trusted type links first.
func (g *Graph) edgePriority(e Edge) int {
	p := 1 << 30
	for _, n := range [2]int32{e.A, e.B} {
		if node := g.Nodes[n]; !node.Record {
			p = min(p, g.Types[node.Type].Priority)
		}
	}
	return p
}
