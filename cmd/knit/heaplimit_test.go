package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestLimitHeap(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	t.Setenv("GOMEMLIMIT", "")
	limitHeap()
	if got := debug.SetMemoryLimit(-1); got != defaultHeapLimit {
		t.Errorf("without GOMEMLIMIT the heap limit is %d, want %d", got, defaultHeapLimit)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "8GiB") // the runtime read it at start; knit leaves it alone
	limitHeap()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set knit changed the heap limit to %d", got)
	}
}
