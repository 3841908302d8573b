package server

import "sync/atomic"

// blocks is an append-only list of values kept in arrays of blockLen that
// never move: a few objects per thousand values for the garbage collector
// to mark, and each value's address fixed. One writer appends (holding
// the state's write lock); a reader reaches value i without a lock,
// through the directory of arrays the writer publishes, once it has learnt
// i from something published after the value (an index slot, a node
// number). The directory's arrays are shared between its versions, and a
// reader never indexes past the length it loaded.
type blocks[T any] struct {
	dir atomic.Pointer[[]*[blockLen]T]
	n   int32 // values handed out; the writer's
}

const blockLen = 1024

// alloc hands out value n (then n is one more), zeroed. Writer only.
func (b *blocks[T]) alloc() *T {
	var d []*[blockLen]T
	if p := b.dir.Load(); p != nil {
		d = *p
	}
	if int(b.n)/blockLen == len(d) {
		d = append(d, new([blockLen]T))
		b.dir.Store(&d)
	}
	v := &d[b.n/blockLen][b.n%blockLen]
	b.n++
	return v
}

// at returns value i, which alloc has handed out.
func (b *blocks[T]) at(i int32) *T {
	d := *b.dir.Load()
	return &d[i/blockLen][i%blockLen]
}
