package main

import (
	"runtime"
	"testing"

	"github.com/knit-cdp/knit/server"
)

// knit serve parses and stitches on low-priority threads, one per P, and
// doubles the Ps, unless ingest_priority is normal; with GOMAXPROCS set it
// keeps the Ps and runs one thread per two.
func TestServeIngestThreads(t *testing.T) {
	if !server.LowPriorityThreads {
		t.Skip("no per-thread priority on this platform")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	t.Setenv("GOMAXPROCS", "")
	if n := serveIngestThreads("normal"); n != 0 || runtime.GOMAXPROCS(0) != 4 {
		t.Fatalf("normal: %d threads, GOMAXPROCS %d; want 0 and 4 unchanged", n, runtime.GOMAXPROCS(0))
	}
	if n := serveIngestThreads("low"); n != 4 || runtime.GOMAXPROCS(0) != 8 {
		t.Fatalf("low on 4 Ps: %d threads, GOMAXPROCS %d; want 4 and 8", n, runtime.GOMAXPROCS(0))
	}
	runtime.GOMAXPROCS(1)
	if n := serveIngestThreads("low"); n != 1 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("low on 1 P: %d threads, GOMAXPROCS %d; want 1 and 2", n, runtime.GOMAXPROCS(0))
	}
	t.Setenv("GOMAXPROCS", "4")
	runtime.GOMAXPROCS(4)
	if n := serveIngestThreads("low"); n != 2 || runtime.GOMAXPROCS(0) != 4 {
		t.Fatalf("GOMAXPROCS=4 set: %d threads, GOMAXPROCS %d; want 2 and 4 left alone", n, runtime.GOMAXPROCS(0))
	}
}
