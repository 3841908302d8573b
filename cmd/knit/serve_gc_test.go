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
