// Package parallel spreads the batch pipeline's CPU-bound loops over the
// process's cores with results that never depend on scheduling: every
// worker owns a disjoint part of the output, and a sort's result is a
// function of its input alone. The stages between load and write used to
// run on one goroutine while the second core idled.
package parallel

import (
	"runtime"
	"slices"
	"sync"
)

// MinItems is the size below which work stays on the calling goroutine:
// starting goroutines costs more than small inputs save. Tests lower it to
// exercise the parallel paths on small data.
var MinItems = 1 << 14

// workers is how many goroutines a split uses.
func workers() int { return runtime.GOMAXPROCS(0) }

// Workers is how many chunks For splits n items into: one per core, or
// one when n is small.
func Workers(n int) int {
	if w := workers(); n >= MinItems && w > 1 {
		return min(w, n)
	}
	return 1
}

// For calls f on consecutive chunks [lo, hi) that together cover [0, n),
// one chunk per core, and returns when all have finished. f must write
// only to what its chunk owns.
func For(n int, f func(lo, hi int)) {
	w := Workers(n)
	if w == 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < w; i++ {
		wg.Go(func() { f(i*n/w, (i+1)*n/w) })
	}
	f(0, n/w)
	wg.Wait()
}

// Each calls f(0), …, f(n-1) concurrently, one goroutine each, and
// returns when all have finished.
func Each(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { f(i) })
	}
	if n > 0 {
		f(0)
	}
	wg.Wait()
}

// Do runs the functions concurrently and returns when all have finished.
func Do(fs ...func()) { Each(len(fs), func(i int) { fs[i]() }) }

// SortFunc sorts s in ascending order as determined by cmp, like
// slices.SortFunc, on up to GOMAXPROCS cores: it splits s around the median
// of a sample, then sorts the two parts concurrently. cmp must be a strict
// total order (only an element compares equal to itself) for the result to
// equal slices.SortFunc's; otherwise equal elements may end up in another
// order than slices.SortFunc would put them, though in the same order on
// every run for the same input.
func SortFunc[S ~[]E, E any](s S, cmp func(a, b E) int) {
	sortParts(s, cmp, workers())
}

func sortParts[E any](s []E, cmp func(a, b E) int, parts int) {
	if parts < 2 || len(s) < MinItems {
		slices.SortFunc(s, cmp)
		return
	}
	mid := partition(s, cmp)
	if mid == 0 || mid == len(s) {
		slices.SortFunc(s, cmp) // the sample's median is an extreme: no split to be had
		return
	}
	Do(func() { sortParts(s[:mid], cmp, parts/2) }, func() { sortParts(s[mid:], cmp, parts-parts/2) })
}

// sampleSize is how many evenly spaced elements choose the pivot: their
// median lands within a few percent of the middle, so the two halves take
// about as long to sort.
const sampleSize = 255

// partition moves the elements that sort before a pivot (the median of an
// evenly spaced sample) to the front and returns how many there are.
func partition[E any](s []E, cmp func(a, b E) int) int {
	sample := make([]E, 0, sampleSize)
	for i := range sampleSize {
		sample = append(sample, s[i*(len(s)-1)/(sampleSize-1)])
	}
	slices.SortFunc(sample, cmp)
	pivot := sample[sampleSize/2]
	i, j := 0, len(s)-1
	for {
		for i <= j && cmp(s[i], pivot) < 0 {
			i++
		}
		for i <= j && cmp(s[j], pivot) >= 0 {
			j--
		}
		if i >= j {
			return i
		}
		s[i], s[j] = s[j], s[i]
		i++
		j--
	}
}
