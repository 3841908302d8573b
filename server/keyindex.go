package server

import (
	"hash/maphash"
	"sync/atomic"
)

// keyIndex maps the published index's keys (one identifier type's
// standardised values, record keys, customer IDs) to node numbers. Lookups
// read it without a lock while one writer at a time (holding the state's
// write lock) adds to it.
//
// It holds no pointer per key. A sync.Map here was half a million small
// objects for 100,000 visitors, which the garbage collector marked on
// every cycle while its workers filled both cores; profile lookups queued
// behind them (docs/BENCHMARKS.md, issue 5). Here a key is an entry in a
// block of entries and its bytes are in a chunk of bytes, and the table is
// a slice of integers: a few objects per thousand keys.
//
// Publication: the writer fills an entry and its key bytes, then stores
// the slot; a reader loads the slot, then reaches the entry and the bytes
// (blocks.go says how). A table that grows is copied whole and swapped in;
// a reader still probing the old one finds every key added before the
// swap, as if it had looked a moment earlier.
type keyIndex struct {
	table   atomic.Pointer[[]atomic.Uint64] // hash<<32 | entry+1; 0 is empty; len a power of two
	entries blocks[keyEntry]
	// chunks hold the keys' bytes. Each is made at its full length, so no
	// slice header a reader may load is written again; as for blocks, a
	// reader never indexes past the chunks it loaded.
	chunks atomic.Pointer[[][]byte]
	fill   int // bytes used of the last chunk; the writer's
}

type keyEntry struct {
	node  atomic.Int32 // replaced when a customer ID moves to another node
	chunk uint32
	off   uint32
	len   uint32
}

const keyChunk = 64 << 10

var keySeed = maphash.MakeSeed()

func keyHash(key string) uint32 { return uint32(maphash.String(keySeed, key) >> 32) }

// load returns the node stored under key.
func (x *keyIndex) load(key string) (int32, bool) {
	t := x.table.Load()
	if t == nil {
		return 0, false
	}
	slots := *t
	h := keyHash(key)
	mask := uint32(len(slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := slots[i].Load()
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) != h {
			continue
		}
		if e := x.entries.at(int32(uint32(s) - 1)); x.is(e, key) {
			return e.node.Load(), true
		}
	}
}

// is reports whether e's key is key (the comparison copies nothing).
func (x *keyIndex) is(e *keyEntry, key string) bool {
	chunks := *x.chunks.Load()
	return string(chunks[e.chunk][e.off:e.off+e.len]) == key
}

// store puts node under key, replacing what was there. Writer only.
func (x *keyIndex) store(key string, node int32) {
	if t := x.table.Load(); t != nil {
		slots := *t
		h := keyHash(key)
		mask := uint32(len(slots) - 1)
		for i := h & mask; ; i = (i + 1) & mask {
			s := slots[i].Load()
			if s == 0 {
				break
			}
			if uint32(s>>32) != h {
				continue
			}
			if e := x.entries.at(int32(uint32(s) - 1)); x.is(e, key) {
				e.node.Store(node)
				return
			}
		}
	}
	e := x.add(key, node)
	x.put(keyHash(key), e)
}

// add appends an entry for key and returns its number.
func (x *keyIndex) add(key string, node int32) uint32 {
	var chunks [][]byte
	if p := x.chunks.Load(); p != nil {
		chunks = *p
	}
	if len(chunks) == 0 || x.fill+len(key) > len(chunks[len(chunks)-1]) {
		chunks = append(chunks, make([]byte, max(keyChunk, len(key))))
		x.chunks.Store(&chunks)
		x.fill = 0
	}
	last := len(chunks) - 1
	e := x.entries.alloc()
	e.node.Store(node)
	e.chunk, e.off, e.len = uint32(last), uint32(x.fill), uint32(len(key))
	x.fill += copy(chunks[last][x.fill:], key)
	return uint32(x.entries.n - 1)
}

// put stores entry e's slot, growing the table first at three quarters full.
func (x *keyIndex) put(h, e uint32) {
	t := x.table.Load()
	if t == nil || int(x.entries.n)*4 > len(*t)*3 {
		size := 1024
		if t != nil {
			size = 2 * len(*t)
		}
		grown := make([]atomic.Uint64, size)
		if t != nil {
			for i := range *t {
				if s := (*t)[i].Load(); s != 0 {
					insert(grown, s)
				}
			}
		}
		t = &grown
		insert(grown, uint64(h)<<32|uint64(e+1))
		x.table.Store(t)
		return
	}
	insert(*t, uint64(h)<<32|uint64(e+1))
}

func insert(slots []atomic.Uint64, s uint64) {
	mask := uint32(len(slots) - 1)
	i := uint32(s>>32) & mask
	for slots[i].Load() != 0 {
		i = (i + 1) & mask
	}
	slots[i].Store(s)
}
