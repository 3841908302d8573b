package main

import (
	"runtime"
	"testing"

	"github.com/knit-cdp/knit/server"
)

// knit serve parses and stitches on low-priority threads (one per two
// Ps) and adds a P for each, unless ingest_priority is normal or
// GOMAXPROCS is set.
func TestServeIngestThreads(t *testing.T) {
	if !server.LowPriorityThreads {
		t.Skip("no per-thread priority on this platform")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	t.Setenv("GOMAXPROCS", "")
	if n := serveIngestThreads("normal"); n != 0 || runtime.GOMAXPROCS(0) != 4 {
		t.Fatalf("normal: %d threads, GOMAXPROCS %d; want 0 and 4 unchanged", n, runtime.GOMAXPROCS(0))
	}
	if n := serveIngestThreads("low"); n != 2 || runtime.GOMAXPROCS(0) != 6 {
		t.Fatalf("low on 4 Ps: %d threads, GOMAXPROCS %d; want 2 and 6", n, runtime.GOMAXPROCS(0))
	}
	runtime.GOMAXPROCS(1)
	if n := serveIngestThreads("low"); n != 1 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("low on 1 P: %d threads, GOMAXPROCS %d; want 1 and 2", n, runtime.GOMAXPROCS(0))
	}
	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3)
	if n := serveIngestThreads("low"); n != 1 || runtime.GOMAXPROCS(0) != 3 {
		t.Fatalf("GOMAXPROCS=3 set: %d threads, GOMAXPROCS %d; want 1 and 3 left alone", n, runtime.GOMAXPROCS(0))
	}
}
