package parallel

import (
	"cmp"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
)

// withWorkers runs f with n Ps and the parallel paths on for small inputs.
func withWorkers(t *testing.T, n int, f func()) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	defer func(m int) { MinItems = m }(MinItems)
	MinItems = 300
	f()
}

type item struct{ key, id int }

// The parallel sort gives exactly slices.SortFunc's order under a strict
// total order, on inputs with few distinct keys, sorted, reversed, all
// equal and random, with 2, 3 and 4 workers.
func TestSortFuncEqualsSequential(t *testing.T) {
	byKeyThenID := func(a, b item) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.id, b.id)) }
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := map[string]func(i, n int) int{
		"random":   func(i, n int) int { return rng.IntN(n) },
		"few keys": func(i, n int) int { return rng.IntN(3) },
		"sorted":   func(i, n int) int { return i },
		"reversed": func(i, n int) int { return n - i },
		"equal":    func(i, n int) int { return 7 },
	}
	for _, workers := range []int{2, 3, 4} {
		withWorkers(t, workers, func() {
			for name, key := range inputs {
				for _, n := range []int{0, 1, 299, 300, 1000, 20000} {
					s := make([]item, n)
					for i := range s {
						s[i] = item{key(i, n), i}
					}
					rng.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
					want := slices.Clone(s)
					slices.SortFunc(want, byKeyThenID)
					SortFunc(s, byKeyThenID)
					if !slices.Equal(s, want) {
						t.Fatalf("%d workers, %s, %d items: the parallel sort differs from slices.SortFunc", workers, name, n)
					}
				}
			}
		})
	}
}

// With ties between distinct elements the result is still sorted, and the
// same on every run for the same input.
func TestSortFuncTiesDeterministic(t *testing.T) {
	byKey := func(a, b item) int { return cmp.Compare(a.key, b.key) }
	withWorkers(t, 2, func() {
		rng := rand.New(rand.NewPCG(3, 4))
		s := make([]item, 5000)
		for i := range s {
			s[i] = item{rng.IntN(10), i}
		}
		first := slices.Clone(s)
		SortFunc(first, byKey)
		if !slices.IsSortedFunc(first, byKey) {
			t.Fatal("not sorted")
		}
		for range 20 {
			again := slices.Clone(s)
			SortFunc(again, byKey)
			if !slices.Equal(again, first) {
				t.Fatal("the order of tied elements changed between runs")
			}
		}
	})
}

// For covers every index exactly once, in chunks, below and above the
// parallel threshold.
func TestForCoversEachIndexOnce(t *testing.T) {
	withWorkers(t, 3, func() {
		for _, n := range []int{0, 1, 299, 300, 301, 10007} {
			seen := make([]atomic.Int32, n)
			var chunks atomic.Int32
			For(n, func(lo, hi int) {
				chunks.Add(1)
				if lo >= hi {
					t.Errorf("empty chunk [%d, %d)", lo, hi)
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			if want := map[bool]int32{true: 3, false: min(int32(n), 1)}[n >= MinItems]; chunks.Load() != want {
				t.Fatalf("n=%d: %d chunks, want %d", n, chunks.Load(), want)
			}
			for i := range seen {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("n=%d: index %d visited %d times", n, i, c)
				}
			}
		}
	})
}
