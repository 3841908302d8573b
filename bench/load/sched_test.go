package main

import (
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
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
knit_go_gc_pause_seconds_bucket{le="0.001"} 6
knit_go_gc_pause_seconds_bucket{le="0.002"} 7
knit_go_gc_pause_seconds_bucket{le="0.005"} 7
knit_go_gc_pause_seconds_count 8
`
	if got, want := lookupHistogram(text), []int64{90, 98, 99, 100}; !slices.Equal(got, want) {
		t.Errorf("lookups: %v, want %v", got, want)
	}
	if got, want := serverSchedHistogram(text), []int64{40, 45, 49, 50}; !slices.Equal(got, want) {
		t.Errorf("scheduling: %v, want %v", got, want)
	}
	if got, want := serverPauseHistogram(text), []int64{6, 7, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("pauses: %v, want %v", got, want)
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

// openLoop calls f once per interval at its scheduled time even when every
// earlier call is still busy (open loop: no coordinated omission), and its
// WaitGroup ends when the last call has returned.
func TestOpenLoopDoesNotWaitForBusyCalls(t *testing.T) {
	var mu sync.Mutex
	var scheds []time.Time
	var late time.Duration
	busy := func(sched time.Time) {
		mu.Lock()
		scheds = append(scheds, sched)
		late = max(late, time.Since(sched))
		mu.Unlock()
		time.Sleep(30 * time.Millisecond) // longer than 30 intervals
	}
	start := time.Now().Add(10 * time.Millisecond)
	openLoop(1000, start, start.Add(100*time.Millisecond), busy).Wait()
	if len(scheds) != 100 {
		t.Fatalf("%d calls, want 100", len(scheds))
	}
	slices.SortFunc(scheds, func(a, b time.Time) int { return a.Compare(b) })
	for i, s := range scheds {
		if want := start.Add(time.Duration(i) * time.Millisecond); !s.Equal(want) {
			t.Fatalf("call %d scheduled at %v, want %v", i, s.Sub(start), want.Sub(start))
		}
	}
	// Calls that waited for a busy one would start up to 30 ms late.
	if late > 20*time.Millisecond {
		t.Errorf("a call started %v after its scheduled time", late)
	}
}

func TestSlowLookupsDuringSteal(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := &stealSampler{}
	// 20 ticks a period; steal of 0, 2, 0, 1 ticks in the four
	// periods: the second (50–100 ms) and the fourth (150–200 ms) count.
	for i, steal := range []int64{0, 0, 2, 2, 3} {
		s.samples = append(s.samples, tickSample{at(50 * i), cpuTicks{total: 20 * int64(i), steal: steal}})
	}
	periods := s.stolen()
	want := [][2]time.Time{{at(50), at(100)}, {at(150), at(200)}}
	if !slices.Equal(periods, want) {
		t.Fatalf("stolen = %v, want %v", periods, want)
	}
	// 10 ms: before any; 49 ms: within 2 ms of the first period; 60, 99:
	// in it; 100, 120: after it; 149, 199: in or just before the second;
	// 200: after.
	times := []time.Time{at(10), at(49), at(60), at(99), at(100), at(120), at(149), at(199), at(200)}
	if got := during(times, periods, 2*time.Millisecond); got != 5 {
		t.Errorf("during = %d, want 5", got)
	}
	if got := during(times, nil, 2*time.Millisecond); got != 0 {
		t.Errorf("during no period = %d, want 0", got)
	}
}
