package identity

// Live is the identity graph of knit serve: it applies one edge at a time,
// as events arrive, with the same union-find and the same guards as
// Resolve (per-type limits counted by owner, never-match overrides) plus
// the values that the last batch run found generic. Resolve's behaviour is
// untouched: Live only grows the union-find as nodes appear. Not safe for
// concurrent use; the caller locks.
type Live struct {
	g       *Graph
	uf      *unionFind
	generic map[int32]string
	// members lists, for a root, the nodes of its cluster (merged smaller
	// into larger, like limited), so a profile's keyring is one lookup. It
	// is indexed by node, and nil for a node alone: self[n:n+1] stands for
	// it, so most nodes cost no allocation.
	members [][]int32
	self    []int32 // self[n] == n
}

// NewLive returns an empty live graph for the given identifier types.
func NewLive(types []TypeSpec) *Live {
	g := New(types)
	return &Live{g: g, uf: newUnionFind(g, 0), generic: map[int32]string{}}
}

// grow extends the union-find to cover nodes added to the graph.
func (l *Live) grow() {
	for i := int32(len(l.uf.parent)); i < int32(len(l.g.Nodes)); i++ {
		l.uf.add()
		l.members = append(l.members, nil)
		l.self = append(l.self, i)
	}
}

// Ident returns the node of an identifier, creating it on first use.
func (l *Live) Ident(typ int, value string) int32 {
	n := l.g.Ident(typ, value)
	l.grow()
	return n
}

// Record returns the node of a record key, creating it on first use.
func (l *Live) Record(source int, key string) int32 {
	n, _ := l.g.Record(source, key)
	l.grow()
	return n
}

// LookupIdent and LookupRecord find existing nodes.
func (l *Live) LookupIdent(typ int, value string) (int32, bool) { return l.g.LookupIdent(typ, value) }
func (l *Live) LookupRecord(key string) (int32, bool)           { return l.g.LookupRecord(key) }

// Node returns a node's content.
func (l *Live) Node(n int32) Node { return l.g.Nodes[n] }

// Types returns the identifier types.
func (l *Live) Types() []TypeSpec { return l.g.Types }

// Len returns the number of nodes.
func (l *Live) Len() int { return len(l.g.Nodes) }

// SetOwner makes limited identifiers count once against their limit (see
// Graph.SetOwner): a batch profile that legitimately holds two loyalty IDs
// after a dedupe must not be frozen by its own history.
func (l *Live) SetOwner(ident, owner int32) { l.g.SetOwner(ident, owner) }

// MarkGeneric makes an identifier link nothing, with the reason reported.
func (l *Live) MarkGeneric(n int32, reason string) { l.generic[n] = reason }

// Never forbids two records from sharing a profile.
func (l *Live) Never(a, b int32) {
	l.uf.never[a] = append(l.uf.never[a], b)
	l.uf.never[b] = append(l.uf.never[b], a)
	for _, r := range [2]int32{a, b} {
		root := l.uf.find(r)
		l.uf.neverIn[root] = append(l.uf.neverIn[root], r)
	}
}

// Find returns the representative of a node's cluster.
func (l *Live) Find(n int32) int32 { return l.uf.find(n) }

// Root is Find without path compression: it writes nothing, so readers
// holding a shared lock may call it concurrently.
func (l *Live) Root(n int32) int32 {
	for l.uf.parent[n] != n {
		n = l.uf.parent[n]
	}
	return n
}

// Members returns the nodes of the cluster whose root is given.
func (l *Live) Members(root int32) []int32 {
	if m := l.members[root]; m != nil {
		return m
	}
	return l.self[root : root+1 : root+1]
}

// Union links two nodes with evidence of a kind and returns "" or the
// reason a guard refused it. It returns the roots before the union, so the
// caller can carry its own per-cluster state (customer IDs) across.
func (l *Live) Union(a, b int32, kind Kind) (reason string, ra, rb int32) {
	ra, rb = l.uf.find(a), l.uf.find(b)
	for _, n := range [2]int32{a, b} {
		if r, ok := l.generic[n]; ok {
			return r, ra, rb
		}
	}
	if ra == rb {
		return "", ra, rb
	}
	if r := l.uf.union(a, b, kind.forced()); r.guard != none {
		return l.uf.text(r), ra, rb
	}
	root := l.uf.find(a)
	gone := ra
	if root == ra {
		gone = rb
	}
	l.members[root] = append(l.Members(root), l.Members(gone)...)
	l.members[gone] = nil
	return "", ra, rb
}
