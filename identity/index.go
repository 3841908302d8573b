package identity

import (
	"hash/maphash"
	"unsafe"
)

// nodeIndex finds a node by its content (kind, type and value). It holds
// no pointers: a run keeps millions of identifiers and record keys live,
// and a map[string]int32 of them is millions of pointers the garbage
// collector follows on every cycle, besides hashing every key string again
// each time the map grows. Here a slot is the top 32 bits of the value's
// hash and the node number; the values themselves are Graph.Nodes'.
type nodeIndex struct {
	slots []uint64 // hash<<32 | node+1; 0 is empty. len is a power of two
	n     int
}

// nodeHash is the hash of a node's content; identifiers of different
// types with the same value hash apart.
func nodeHash(seed maphash.Seed, record bool, typ int, value string) uint32 {
	h := maphash.String(seed, value)
	if !record {
		h ^= uint64(typ+1) * 0x9e3779b97f4a7c15
		h ^= h >> 29 // the top bits are kept: let the type reach them
		h *= 0xbf58476d1ce4e5b9
	}
	return uint32(h >> 32)
}

// find returns the node with hash h for which same is true.
func (x *nodeIndex) find(h uint32, same func(int32) bool) (int32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := uint32(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == h && same(int32(uint32(s)-1)) {
			return int32(uint32(s) - 1), true
		}
	}
}

// add indexes node n under hash h; the caller has checked it is absent.
func (x *nodeIndex) add(h uint32, n int32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.put(uint64(h)<<32 | uint64(uint32(n)+1))
	x.n++
}

func (x *nodeIndex) put(s uint64) {
	mask := uint32(len(x.slots) - 1)
	i := uint32(s>>32) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

// grow doubles the table; slots move by their stored hash, no value is
// read or hashed again.
func (x *nodeIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, max(1024, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			x.put(s)
		}
	}
}

// arena holds copies of node values in large shared blocks: one
// allocation per megabyte instead of one per value, and the collector
// marks a block once for all the values in it.
type arena struct {
	block []byte
}

const arenaBlock = 1 << 20

// clone copies s into the arena. The copy is never modified: the block's
// bytes past it are only appended to.
func (a *arena) clone(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > arenaBlock/16 {
		return string([]byte(s))
	}
	if cap(a.block)-len(a.block) < len(s) {
		a.block = make([]byte, 0, arenaBlock)
	}
	start := len(a.block)
	a.block = append(a.block, s...)
	return unsafe.String(&a.block[start], len(s))
}
