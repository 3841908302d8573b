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

// knit run collects at GOGC=400 unless the environment sets GOGC, which
// the runtime has then applied already and knit leaves alone.
func TestRunGCPercent(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	checkGCPercent(t, "knit run", limitHeap, runGCPercent)
}

// checkGCPercent checks that set applies want when GOGC is not set and
// leaves GOGC alone when it is.
func checkGCPercent(t *testing.T, cmd string, set func(), want int) {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	set()
	if got := debug.SetGCPercent(100); got != want {
		t.Errorf("without GOGC %s collects at GOGC=%d, want %d", cmd, got, want)
	}
	t.Setenv("GOGC", "150")
	set()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set %s changed it to %d", cmd, got)
	}
}
