package server

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestKeyIndexStoresAndReplaces(t *testing.T) {
	var x keyIndex
	if _, ok := x.load("anything"); ok {
		t.Fatal("an empty index found a key")
	}
	// Enough keys to grow the table several times and fill more than one
	// chunk, one key longer than a chunk, and the empty key.
	keys := []string{"", strings.Repeat("long", keyChunk/2)}
	for i := range 5000 {
		keys = append(keys, "visitor-"+strconv.Itoa(i))
	}
	for i, k := range keys {
		x.store(k, int32(i))
	}
	for i, k := range keys {
		if n, ok := x.load(k); !ok || n != int32(i) {
			t.Fatalf("load(%.20q) = %d, %v; want %d", k, n, ok, i)
		}
	}
	for _, k := range []string{"visitor-5000", "visitor-", "long", "visitor-1 "} {
		if n, ok := x.load(k); ok {
			t.Errorf("load(%q) found node %d of a key never stored", k, n)
		}
	}
	// A customer ID that moves to another node is replaced, not added.
	x.store("visitor-7", 99999)
	if n, _ := x.load("visitor-7"); n != 99999 {
		t.Errorf("after a second store, load = %d; want 99999", n)
	}
	if int(x.entries.n) != len(keys) {
		t.Errorf("%d entries after storing %d keys, one of them twice", x.entries.n, len(keys))
	}
}

// Two keys whose hashes share the 32 bits a slot keeps must both be found:
// the slot's hash only narrows the search, the key decides.
func TestKeyIndexHashCollision(t *testing.T) {
	seen := map[uint32]string{}
	var a, b string
	for i := 0; a == "" && i < 1<<22; i++ {
		k := "k" + strconv.Itoa(i)
		h := keyHash(k)
		if other, ok := seen[h]; ok {
			a, b = other, k
		}
		seen[h] = k
	}
	if a == "" {
		t.Fatal("no two keys with the same 32-bit hash among 4M")
	}
	var x keyIndex
	x.store(a, 1)
	if _, ok := x.load(b); ok {
		t.Fatalf("%q found under %q, which shares its hash", b, a)
	}
	x.store(b, 2)
	x.store(a, 3)
	if n, _ := x.load(a); n != 3 {
		t.Errorf("load(%q) = %d; want 3", a, n)
	}
	if n, _ := x.load(b); n != 2 {
		t.Errorf("load(%q) = %d; want 2", b, n)
	}
}

// Readers running beside the writer find every key whose store finished
// before they looked, with its node, while the table grows under them (run
// with -race to check the publication order too).
func TestKeyIndexConcurrentReaders(t *testing.T) {
	const keys = 50000
	var x keyIndex
	var stored atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint(r); ; i += 7919 {
				select {
				case <-stop:
					return
				default:
				}
				done := stored.Load()
				if done == 0 {
					continue
				}
				k := int32(i % uint(done))
				if n, ok := x.load("key-" + strconv.Itoa(int(k))); !ok || n != k {
					errs <- "load of key-" + strconv.Itoa(int(k)) + ", stored before the load began, gave " + strconv.Itoa(int(n))
					return
				}
			}
		}()
	}
	for i := range int32(keys) {
		x.store("key-"+strconv.Itoa(int(i)), i)
		stored.Store(i + 1)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
