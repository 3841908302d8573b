//go:build linux

package server

import (
	"syscall"
	"testing"
)

// The workers' threads run with the nice value raised by the requested
// amount; the caller's thread keeps its own.
func TestWorkPoolLowersThreadPriority(t *testing.T) {
	niceOf := func() int {
		v, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err != nil {
			t.Fatal(err)
		}
		return 20 - v // the raw syscall's value is 20 - nice
	}
	base := niceOf()
	if base+5 > 19 {
		t.Skipf("the test already runs at nice %d", base)
	}
	p := newWorkPool(1, 1, 5)
	defer p.close()
	if !p.lowered {
		t.Fatal("the pool says its threads' priority was not lowered")
	}
	var inWorker int
	p.run(func() { inWorker = niceOf() })
	if inWorker != base+5 {
		t.Fatalf("worker thread at nice %d, want %d (the process runs at %d)", inWorker, base+5, base)
	}
	if now := niceOf(); now != base {
		t.Fatalf("the caller's thread moved to nice %d from %d", now, base)
	}
}
