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
// Publication: the writer fills an entry and its key bytes, publishes the
// directory that reaches them, then stores the slot; a reader loads the
// slot, then the directory. A table that grows is copied whole and
// swapped in; a reader still probing the old one finds every key added
// before the swap, as if it had looked a moment earlier.
type keyIndex struct {
	table atomic.Pointer[[]atomic.Uint64] // hash<<32 | entry+1; 0 is empty; len a power of two
	dir   atomic.Pointer[keyDir]
	n     int // entries; written by the writer only
	fill  int // bytes used of the last chunk; the writer's
}

// keyDir reaches the entries and the key bytes. The writer appends to its
// own copy and publishes it; the arrays behind are shared, and a reader
// never indexes past the lengths it loaded. Blocks and chunks are made at
// their full length, so no slice header a reader may load is rewritten.
type keyDir struct {
	entries [][]keyEntry
	chunks  [][]byte
}

type keyEntry struct {
	node  atomic.Int32 // replaced when a customer ID moves to another node
	chunk uint32
	off   uint32
	len   uint32
}

const (
	keyEntryBlock = 1024
	keyChunk      = 64 << 10
)

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
		d := x.dir.Load()
		if e := d.entry(uint32(s) - 1); d.is(e, key) {
			return e.node.Load(), true
		}
	}
}

func (d *keyDir) entry(i uint32) *keyEntry {
	return &d.entries[i/keyEntryBlock][i%keyEntryBlock]
}

// is reports whether e's key is key (the comparison copies nothing).
func (d *keyDir) is(e *keyEntry, key string) bool {
	return string(d.chunks[e.chunk][e.off:e.off+e.len]) == key
}

// store puts node under key, replacing what was there. Writer only.
func (x *keyIndex) store(key string, node int32) {
	if t := x.table.Load(); t != nil {
		slots := *t
		h := keyHash(key)
		mask := uint32(len(slots) - 1)
		d := x.dir.Load()
		for i := h & mask; ; i = (i + 1) & mask {
			s := slots[i].Load()
			if s == 0 {
				break
			}
			if uint32(s>>32) != h {
				continue
			}
			if e := d.entry(uint32(s) - 1); d.is(e, key) {
				e.node.Store(node)
				return
			}
		}
	}
	e := x.add(key, node)
	x.put(keyHash(key), e)
}

// add appends an entry for key and publishes the directory that reaches it.
func (x *keyIndex) add(key string, node int32) uint32 {
	var d keyDir
	if old := x.dir.Load(); old != nil {
		d = *old
	}
	i := uint32(x.n)
	if int(i)/keyEntryBlock == len(d.entries) {
		d.entries = append(d.entries, make([]keyEntry, keyEntryBlock))
	}
	e := d.entry(i)
	e.node.Store(node)
	last := len(d.chunks) - 1
	if last < 0 || x.fill+len(key) > len(d.chunks[last]) {
		d.chunks = append(d.chunks, make([]byte, max(keyChunk, len(key))))
		last++
		x.fill = 0
	}
	e.chunk, e.off, e.len = uint32(last), uint32(x.fill), uint32(len(key))
	x.fill += copy(d.chunks[last][x.fill:], key)
	x.dir.Store(&d)
	x.n++
	return i
}

// put stores entry e's slot, growing the table first at three quarters full.
func (x *keyIndex) put(h, e uint32) {
	t := x.table.Load()
	if t == nil || x.n*4 > len(*t)*3 {
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
