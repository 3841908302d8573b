package server

import (
	"fmt"
	"net/http"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are counters and latency histograms in Prometheus' text format,
// written by hand: a dozen lines do not justify the client library.
type metrics struct {
	stored, duplicates, linksMade, linksRefused, runs atomic.Int64

	commit *histogram // event store group-commit wait
	mu     sync.Mutex
	routes map[string]*routeStats // "METHOD /path" → its requests
}

type routeStats struct {
	byStatus map[int]int64
	latency  *histogram
}

// Latency buckets in seconds: the profile API targets a p99 under 2 ms.
var buckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

type histogram struct {
	mu     sync.Mutex
	counts []int64
	sum    float64
	n      int64
}

func newHistogram() *histogram { return &histogram{counts: make([]int64, len(buckets))} }

func (h *histogram) observe(d time.Duration) {
	v := d.Seconds()
	h.mu.Lock()
	if i, _ := slices.BinarySearch(buckets, v); i < len(buckets) {
		h.counts[i]++
	}
	h.sum += v
	h.n++
	h.mu.Unlock()
}

func (h *histogram) write(w http.ResponseWriter, name, labels string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var cum int64
	sep := ""
	if labels != "" {
		sep = ","
	}
	for i, b := range buckets {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%s%sle=\"%s\"} %d\n", name, labels, sep, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, h.n)
	fmt.Fprintf(w, "%s_sum{%s} %g\n%s_count{%s} %d\n", name, labels, h.sum, name, labels, h.n)
}

func newMetrics() *metrics {
	return &metrics{commit: newHistogram(), routes: map[string]*routeStats{}}
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.mu.Lock()
	rs := m.routes[route]
	if rs == nil {
		rs = &routeStats{byStatus: map[int]int64{}, latency: newHistogram()}
		m.routes[route] = rs
	}
	rs.byStatus[status]++
	m.mu.Unlock()
	rs.latency.observe(d)
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	m := s.metrics
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, c := range []struct {
		name, help string
		v          int64
	}{
		{"knit_events_stored_total", "Events stored durably.", m.stored.Load()},
		{"knit_events_duplicate_total", "Events acknowledged without storing: their messageId was seen.", m.duplicates.Load()},
		{"knit_links_made_total", "Live identity links accepted.", m.linksMade.Load()},
		{"knit_links_refused_total", "Live identity links refused by a guard.", m.linksRefused.Load()},
		{"knit_batch_runs_total", "Batch runs started by the server.", m.runs.Load()},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v)
	}
	fmt.Fprintf(w, "# HELP knit_event_commit_seconds Time a request waited for its events' group commit (fsync).\n# TYPE knit_event_commit_seconds histogram\n")
	m.commit.write(w, "knit_event_commit_seconds", "")
	m.mu.Lock()
	names := make([]string, 0, len(m.routes))
	for k := range m.routes {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "# HELP knit_http_requests_total HTTP requests by route and status.\n# TYPE knit_http_requests_total counter\n")
	for _, name := range names {
		codes := make([]int, 0)
		for c := range m.routes[name].byStatus {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			fmt.Fprintf(w, "knit_http_requests_total{route=%q,status=\"%d\"} %d\n", name, c, m.routes[name].byStatus[c])
		}
	}
	m.mu.Unlock()
	fmt.Fprintf(w, "# HELP knit_http_request_seconds HTTP request latency by route.\n# TYPE knit_http_request_seconds histogram\n")
	for _, name := range names {
		m.routes[name].latency.write(w, "knit_http_request_seconds", fmt.Sprintf("route=%q", name))
	}
	writeRuntimeHistograms(w)
	return nil
}

// schedBuckets are the upper bounds, in seconds, of the scheduling
// latency histogram: the lookup target is 2 ms end to end.
var schedBuckets = []float64{0.00001, 0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05}

// writeRuntimeHistograms writes the Go runtime's scheduling latency (time
// goroutines spent runnable before they ran, /sched/latencies:seconds,
// which the runtime samples: one transition in eight) since the process
// started: a request that waits for a P waits here, which the handlers'
// own histogram cannot show. Beside it, the stop-the-world pauses
// (/sched/pauses/total/gc:seconds, two per collection): every goroutine,
// every lookup included, waits for the whole of one.
func writeRuntimeHistograms(w http.ResponseWriter) {
	writeRuntimeHistogram(w, "/sched/latencies:seconds", "knit_go_sched_latency_seconds",
		"Time goroutines waited runnable before they ran (Go runtime, sampled, since start).")
	writeRuntimeHistogram(w, "/sched/pauses/total/gc:seconds", "knit_go_gc_pause_seconds",
		"Stop-the-world pauses of the garbage collector, from the request to stop to the restart (Go runtime, since start).")
}

// writeRuntimeHistogram writes one of the runtime's histograms with its
// fine buckets summed into schedBuckets (a runtime bucket counts under the
// first bound at or above its upper edge). It has no _sum: the runtime
// keeps none.
func writeRuntimeHistogram(w http.ResponseWriter, runtimeName, name, help string) {
	sample := []rtmetrics.Sample{{Name: runtimeName}}
	rtmetrics.Read(sample)
	if sample[0].Value.Kind() != rtmetrics.KindFloat64Histogram {
		return
	}
	h := sample[0].Value.Float64Histogram()
	cum := make([]int64, len(schedBuckets))
	var n int64
	for i, c := range h.Counts {
		n += int64(c)
		hi := h.Buckets[i+1]
		for j, le := range schedBuckets {
			if hi <= le {
				cum[j] += int64(c)
			}
		}
	}
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for j, le := range schedBuckets {
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(le, 'g', -1, 64), cum[j])
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_count %d\n", name, n, name, n)
}
