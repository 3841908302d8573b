package main

import (
	"runtime/debug"
	"testing"
)

// knit serve runs the collector at GOGC=400 unless the environment sets
// GOGC, which the runtime has then applied already and knit leaves alone.
func TestServeGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	serveGC()
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Errorf("without GOGC knit serve runs at GOGC=%d, want %d", got, serveGCPercent)
	}
	t.Setenv("GOGC", "150")
	serveGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set knit serve changed it to %d", got)
	}
}

func TestIngestWorkersFromEnvironment(t *testing.T) {
	for _, c := range []struct {
		workers, nice string
		w, n          int
		bad           bool
	}{
		{"", "", 0, 0, false}, {"1", "10", 1, 10, false}, {"x", "", 0, 0, true}, {"1", "20", 0, 0, true}, {"-1", "", 0, 0, true},
	} {
		t.Setenv("KNIT_INGEST_WORKERS", c.workers)
		t.Setenv("KNIT_INGEST_NICE", c.nice)
		w, n, err := ingestWorkers()
		if (err != nil) != c.bad || w != c.w || n != c.n {
			t.Errorf("KNIT_INGEST_WORKERS=%q KNIT_INGEST_NICE=%q: %d, %d, %v", c.workers, c.nice, w, n, err)
		}
	}
}
