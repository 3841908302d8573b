// Command load is the load generator of knit serve's benchmarks
// (docs/BENCHMARKS.md). It talks to a running server over loopback:
//
//	ingest      batches of -batch track events from -workers connections
//	            for -duration; reports acknowledged (fsynced) events/s
//	mixed       ingestion paced at -ingest-rate events/s and profile lookups
//	            paced at -lookup-rate requests/s, open loop; reports lookup
//	            latency (and, with -admin-token, the server's own histogram);
//	            how long goroutines and threads of both processes waited for a
//	            CPU in the measured window, and the hypervisor's steal, with
//	            how many slow lookups were sent while it took CPU time (sched.go)
//	visibility  identify a new visitor, then look it up until the link
//	            shows; reports identify-to-lookup time
//
// Every loop is bounded by -duration or -n and stops by itself.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	url         = flag.String("url", "http://127.0.0.1:8700", "server URL (loopback only)")
	writeKey    = flag.String("write-key", os.Getenv("KNIT_WRITE_KEY"), "write key")
	readToken   = flag.String("read-token", os.Getenv("KNIT_READ_TOKEN"), "read token")
	mode        = flag.String("mode", "ingest", "ingest | mixed | visibility")
	duration    = flag.Duration("duration", 60*time.Second, "how long to run (ingest, mixed)")
	batchSize   = flag.Int("batch", 100, "events per batch")
	workers     = flag.Int("workers", 16, "concurrent connections (ingest)")
	ingestRate  = flag.Int("ingest-rate", 10000, "events per second (mixed)")
	lookupRate  = flag.Int("lookup-rate", 5000, "lookups per second (mixed)")
	visitors    = flag.Int("visitors", 100000, "distinct visitors the events are spread over")
	trials      = flag.Int("n", 1000, "identify-then-lookup trials (visibility)")
	runID       = flag.String("run", fmt.Sprint(time.Now().UnixNano()), "prefix of message IDs (unique per run)")
	warmup      = flag.Duration("warmup", 2*time.Second, "mixed: time at the full rates before the measured -duration (connections opened, server warm); not counted")
	lookupConns = flag.Int("lookup-conns", 256, "mixed: most keep-alive connections for lookups (64 are opened before the run)")
	slowLog     = flag.String("slow-log", "", "mixed: write the send time (Unix µs) and latency (µs) of every measured lookup slower than 2 ms to this file, to line them up with the server's GC cycles (GODEBUG=gctrace=1)")
	adminToken  = flag.String("admin-token", os.Getenv("KNIT_ADMIN_TOKEN"), "mixed: admin token to read the server's /metrics before and after (optional)")
	cpuProfile  = flag.String("cpuprofile", "", "write the generator's CPU profile to this file (its own cost on the shared cores)")
	serverPID   = flag.Int("server-pid", 0, "mixed: the server's process ID, to report its threads' run-queue waits from /proc (optional)")
)

// Idle connections are kept for every request that may be in flight, so
// the measured requests reuse warm keep-alive connections; a request that
// finds none opens one, and that time is in its latency.
var client = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512, IdleConnTimeout: time.Minute}}

func main() {
	flag.Parse()
	// The generator shares the two cores with the server: a larger GOGC
	// makes its collector run less often (its heap is a few MB). Set
	// GOGC in the environment to override; the value used is printed.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	gcPercent = debug.SetGCPercent(-1)
	debug.SetGCPercent(gcPercent)
	if !strings.HasPrefix(*url, "http://127.") && !strings.HasPrefix(*url, "http://localhost") && !strings.HasPrefix(*url, "http://[::1]") {
		fmt.Fprintln(os.Stderr, "load: -url must be a loopback address")
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	switch *mode {
	case "ingest":
		ingest()
	case "mixed":
		mixed()
	case "visibility":
		visibility()
	default:
		fmt.Fprintln(os.Stderr, "load: -mode is ingest, mixed or visibility")
		os.Exit(2)
	}
}

var seq atomic.Int64

var gcPercent int // the generator's GOGC, for the report

// batchBody builds a batch of track events with unique message IDs. It
// appends with strconv rather than fmt: the generator shares the machine's
// two cores with the server, and its own cost should be small.
func batchBody(n int) []byte {
	b := make([]byte, 0, 160*n+16)
	b = append(b, `{"batch":[`...)
	for i := range n {
		s := seq.Add(1)
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"track","anonymousId":"v`...)
		b = strconv.AppendInt(b, s%int64(*visitors), 10)
		b = append(b, `","event":"Product Viewed","messageId":"`...)
		b = append(b, *runID...)
		b = append(b, '-')
		b = strconv.AppendInt(b, s, 10)
		b = append(b, `","properties":{"sku":"D-`...)
		b = strconv.AppendInt(b, s%97, 10)
		b = append(b, `","price":12.5}}`...)
	}
	return append(b, `]}`...)
}

func post(path string, body []byte) (int, error) {
	req, _ := http.NewRequest("POST", *url+path, bytes.NewReader(body))
	req.SetBasicAuth(*writeKey, "")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func get(path string) (int, []byte, error) {
	req, _ := http.NewRequest("GET", *url+path, nil)
	req.Header.Set("Authorization", "Bearer "+*readToken)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, data, nil
}

func ingest() {
	var acked, refused, failed atomic.Int64
	end := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				code, err := post("/v1/batch", batchBody(*batchSize))
				switch {
				case err != nil:
					failed.Add(1)
				case code == 200:
					acked.Add(int64(*batchSize))
				case code == 429:
					refused.Add(1)
					time.Sleep(10 * time.Millisecond)
				default:
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("ingest: %d events acknowledged in %.1f s = %.0f events/s (batches of %d, %d connections); 429: %d, failed: %d\n",
		acked.Load(), secs, float64(acked.Load())/secs, *batchSize, *workers, refused.Load(), failed.Load())
}

// openLoop starts f at rate times a second, each call in its own
// goroutine at its scheduled time whether or not earlier calls have
// finished (open loop: a slow answer delays no later request, so the
// latencies are not flattered by requests that were never sent). f gets
// the scheduled time. It stops scheduling at end.
func openLoop(rate int, start, end time.Time, f func(sched time.Time)) *sync.WaitGroup {
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / float64(rate))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for next := start; next.Before(end); next = next.Add(interval) {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func(sched time.Time) {
				defer wg.Done()
				f(sched)
			}(next)
		}
	}()
	return &wg
}

// sample is one measured lookup: from just before the request is written
// to the last byte of the answer read (lat), and from its scheduled time
// (late adds the generator's own delay in starting it).
type sample struct {
	at             time.Time // sent
	lat, fromSched time.Duration
}

func mixed() {
	// Seed the visitors looked up, so lookups find profiles.
	for range 20 {
		post("/v1/batch", batchBody(*batchSize))
	}
	// The lookup requests are built once, as bytes (conn.go).
	host := strings.TrimPrefix(*url, "http://")
	lookups := make([][]byte, 2000)
	for i := range lookups {
		lookups[i] = []byte("GET /v1/profiles/anonymous_id:v" + strconv.Itoa(i+1) + " HTTP/1.1\r\nHost: " + host +
			"\r\nAuthorization: Bearer " + *readToken + "\r\n\r\n")
	}
	pool := newConns(host, *lookupConns)
	if err := pool.open(64); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	start := time.Now().Add(100 * time.Millisecond)
	measured := start.Add(*warmup)
	end := measured.Add(*duration)
	var before string
	var goBefore *rtmetrics.Float64Histogram
	var runBefore, runBeforeServer runDelay
	var steal *stealSampler
	var got sync.WaitGroup
	got.Add(1)
	go func() {
		defer got.Done()
		time.Sleep(time.Until(measured))
		before = serverMetrics() // from the measured start: warm-up lookups are not in it
		goBefore = goSched()
		runBefore, _ = readRunDelay(os.Getpid())
		runBeforeServer, _ = readRunDelay(*serverPID)
		steal = startStealSampler()
	}()
	var acked atomic.Int64
	ing := openLoop(*ingestRate / *batchSize, start, end, func(sched time.Time) {
		if code, err := post("/v1/batch", batchBody(*batchSize)); err == nil && code == 200 && !sched.Before(measured) {
			acked.Add(int64(*batchSize))
		}
	})
	var slow *bufio.Writer
	if *slowLog != "" {
		f, err := os.Create(*slowLog)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		defer f.Close()
		slow = bufio.NewWriter(f)
		defer slow.Flush()
	}
	var mu sync.Mutex
	samples := make([]sample, 0, *lookupRate*int(duration.Seconds()+1))
	var notOK, sent atomic.Int64
	var n atomic.Int64
	look := openLoop(*lookupRate, start, end, func(sched time.Time) {
		req := lookups[n.Add(1)%int64(len(lookups))]
		count := !sched.Before(measured)
		t0 := time.Now()
		code, err := pool.do(req)
		t1 := time.Now()
		if !count {
			return
		}
		sent.Add(1)
		if err != nil || code != 200 {
			notOK.Add(1)
			return
		}
		mu.Lock()
		if slow != nil && t1.Sub(t0) > 2*time.Millisecond {
			fmt.Fprintf(slow, "%d %d\n", t0.UnixMicro(), t1.Sub(t0).Microseconds())
		}
		samples = append(samples, sample{at: t0, lat: t1.Sub(t0), fromSched: t1.Sub(sched)})
		mu.Unlock()
	})
	ing.Wait()
	look.Wait()
	got.Wait()
	secs := duration.Seconds()
	lat := make([]time.Duration, len(samples))
	fromSched := make([]time.Duration, len(samples))
	for i, s := range samples {
		lat[i], fromSched[i] = s.lat, s.fromSched
	}
	fmt.Printf("mixed: %s measured after %s warm-up, GOGC=%d; ingestion %.0f events/s acknowledged; lookups %.0f/s sent, %.0f/s ok (%d not 200)\n",
		*duration, *warmup, gcPercent, float64(acked.Load())/secs, float64(sent.Load())/secs, float64(len(lat))/secs, notOK.Load())
	fmt.Printf("  lookup latency, request written to answer read: %s\n", percentiles(lat))
	fmt.Printf("  the same from the scheduled time (adds the generator's delay in starting the request): %s\n", percentiles(fromSched))
	// Read before the server's /metrics request adds its own wakeups.
	goAfter := goSched()
	steal.finish()
	machine := steal.report()
	runAfter, okRun := readRunDelay(os.Getpid())
	runAfterServer, okServer := readRunDelay(*serverPID)
	after := serverMetrics()
	histogramDelta(lookupHistogram(before), lookupHistogram(after), "server's own histogram (GET /v1/profiles/{key}, handler start to end), lookups")
	histogramDelta(serverSchedHistogram(before), serverSchedHistogram(after), "server's Go scheduling latency (runnable to running), sampled goroutine wakeups")
	histogramDelta(serverPauseHistogram(before), serverPauseHistogram(after), "server's stop-the-world pauses (every goroutine waits)")
	fmt.Printf("  generator's Go scheduling latency: %s\n", schedSummary(goBefore, goAfter))
	if okRun {
		fmt.Printf("  generator's threads (/proc schedstat): %s\n", runAfter.delta(runBefore, secs))
	}
	if *serverPID > 0 && okServer {
		fmt.Printf("  server's threads (/proc schedstat): %s\n", runAfterServer.delta(runBeforeServer, secs))
	}
	fmt.Printf("  machine (/proc/stat): %s\n", machine)
	fmt.Printf("  %s\n", slowDuringSteal(samples, steal))
}

// slowDuringSteal says how many lookups took over 2 ms and how many of
// them were sent while the hypervisor was taking CPU time (in a 50 ms
// period with a tick of steal or more, or within 2 ms before one): the
// lookup tail of this machine comes in bursts that line up with those
// periods (docs/BENCHMARKS.md, issue 5).
func slowDuringSteal(samples []sample, steal *stealSampler) string {
	const slowOver = 2 * time.Millisecond
	var slow []time.Time
	for _, s := range samples {
		if s.lat > slowOver {
			slow = append(slow, s.at)
		}
	}
	slices.SortFunc(slow, time.Time.Compare)
	periods := steal.stolen()
	all := max(len(steal.samples)-1, 1)
	return fmt.Sprintf("lookups over 2 ms: %d; sent during the 50 ms periods with steal (%d of %d periods, %.0f%% of the time): %d",
		len(slow), len(periods), all, 100*float64(len(periods))/float64(all), during(slow, periods, slowOver))
}

// histogramBounds are the buckets of the server's histograms reported.
var histogramBounds = []string{"0.001", "0.002", "0.005"}

// serverMetrics reads the server's /metrics text; "" without
// -admin-token or on an error.
func serverMetrics() string {
	if *adminToken == "" {
		return ""
	}
	req, _ := http.NewRequest("GET", *url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+*adminToken)
	resp, err := client.Do(req)
	if err != nil {
		return ""
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(data)
}

// histogram reads the cumulative counts of a histogram's buckets
// (histogramBounds, then the count) from the /metrics text; name is the
// metric with its labels' opening, such as `x_bucket{route="…",` or
// `x_bucket{`, and count its _count line's prefix. nil when absent.
func histogram(text, name, count string) []int64 {
	if text == "" || !strings.Contains(text, count) {
		return nil
	}
	out := make([]int64, len(histogramBounds)+1)
	for line := range strings.Lines(text) {
		for i, le := range histogramBounds {
			if v, ok := strings.CutPrefix(line, name+`le="`+le+`"} `); ok {
				out[i], _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
		if v, ok := strings.CutPrefix(line, count); ok {
			out[len(out)-1], _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return out
}

// The server's histograms the mixed mode reports.
func lookupHistogram(text string) []int64 {
	return histogram(text, `knit_http_request_seconds_bucket{route="GET /v1/profiles/{key}",`, `knit_http_request_seconds_count{route="GET /v1/profiles/{key}"} `)
}

func serverSchedHistogram(text string) []int64 {
	return histogram(text, `knit_go_sched_latency_seconds_bucket{`, `knit_go_sched_latency_seconds_count `)
}

func serverPauseHistogram(text string) []int64 {
	return histogram(text, `knit_go_gc_pause_seconds_bucket{`, `knit_go_gc_pause_seconds_count `)
}

// histogramDelta prints the share of observations in the window (after
// minus before) at or under each bound.
func histogramDelta(before, after []int64, what string) {
	if before == nil || after == nil {
		return
	}
	n := after[len(after)-1] - before[len(before)-1]
	fmt.Printf("  %s, %d:", what, n)
	for i, le := range histogramBounds {
		fmt.Printf(" %.2f%% <= %s", 100*float64(after[i]-before[i])/float64(max(n, 1)), le)
	}
	fmt.Println()
}

func visibility() {
	var lat []time.Duration
	misses := 0
	for i := range *trials {
		anon := fmt.Sprintf("vis-%s-%d", *runID, i)
		user := "u-" + anon
		t0 := time.Now()
		body := fmt.Sprintf(`{"anonymousId":%q,"userId":%q,"messageId":%q}`, anon, user, anon)
		if code, err := post("/v1/identify", []byte(body)); err != nil || code != 200 {
			fmt.Fprintln(os.Stderr, "identify failed:", code, err)
			os.Exit(1)
		}
		for tries := 0; ; tries++ {
			code, data, err := get("/v1/profiles/anonymous_id:" + anon)
			if err == nil && code == 200 && hasKey(data, "user_id", user) {
				lat = append(lat, time.Since(t0))
				break
			}
			if tries == 1000 {
				misses++
				break
			}
		}
	}
	fmt.Printf("visibility: identify then lookup, %d trials, %d never visible: %s\n", *trials, misses, percentiles(lat))
}

func hasKey(data []byte, typ, value string) bool {
	var p struct {
		Keyring []struct{ Type, Value string }
	}
	json.Unmarshal(data, &p)
	for _, k := range p.Keyring {
		if k.Type == typ && k.Value == value {
			return true
		}
	}
	return false
}

func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return fmt.Sprintf("p50 %s p99 %s max %s (n=%d)", at(0.5).Round(time.Microsecond), at(0.99).Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond), len(d))
}
