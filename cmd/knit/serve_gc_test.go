package main

import "testing"

// knit serve runs the collector at GOGC=400 unless the environment sets
// GOGC, which the runtime has then applied already and knit leaves alone.
func TestServeGC(t *testing.T) {
	checkGCPercent(t, "knit serve", serveGC, serveGCPercent)
}
