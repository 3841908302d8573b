package main

import (
	"os"
	"runtime"
	"slices"
	"testing"
)

func TestHistogramFromMetrics(t *testing.T) {
	text := `knit_http_request_seconds_bucket{route="GET /v1/profiles/{key}",le="0.0005"} 7
knit_http_request_seconds_bucket{route="GET /v1/profiles/{key}",le="0.001"} 90
knit_http_request_seconds_bucket{route="GET /v1/profiles/{key}",le="0.002"} 98
knit_http_request_seconds_bucket{route="GET /v1/profiles/{key}",le="0.005"} 99
knit_http_request_seconds_count{route="GET /v1/profiles/{key}"} 100
knit_go_sched_latency_seconds_bucket{le="0.001"} 40
knit_go_sched_latency_seconds_bucket{le="0.002"} 45
knit_go_sched_latency_seconds_bucket{le="0.005"} 49
knit_go_sched_latency_seconds_count 50
`
	if got, want := lookupHistogram(text), []int64{90, 98, 99, 100}; !slices.Equal(got, want) {
		t.Errorf("lookups: %v, want %v", got, want)
	}
	if got, want := serverSchedHistogram(text), []int64{40, 45, 49, 50}; !slices.Equal(got, want) {
		t.Errorf("scheduling: %v, want %v", got, want)
	}
	if got := serverSchedHistogram("knit_events_stored_total 1\n"); got != nil {
		t.Errorf("absent histogram: %v, want nil", got)
	}
}

// TestRunDelay reads this process's threads from /proc: CPU time grows
// while it spins.
func TestRunDelay(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("schedstat is Linux's")
	}
	before, ok := readRunDelay(os.Getpid())
	if !ok {
		t.Skip("no /proc/<pid>/task/*/schedstat (schedstats off)")
	}
	x := 0
	for i := range 20_000_000 {
		x += i
	}
	after, _ := readRunDelay(os.Getpid())
	if after.cpu <= before.cpu || after.threads < 1 || x == 0 {
		t.Errorf("CPU time did not grow: before %+v, after %+v", before, after)
	}
}
