// Command load is the load generator of knit serve's benchmarks
// (docs/BENCHMARKS.md). It talks to a running server over loopback:
//
//	ingest      batches of -batch track events from -workers connections
//	            for -duration; reports acknowledged (fsynced) events/s
//	mixed       ingestion paced at -ingest-rate events/s and profile lookups
//	            paced at -lookup-rate requests/s; reports lookup latency
//	visibility  identify a new visitor, then look it up until the link
//	            shows; reports identify-to-lookup time
//
// Every loop is bounded by -duration or -n and stops by itself.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	url        = flag.String("url", "http://127.0.0.1:8700", "server URL (loopback only)")
	writeKey   = flag.String("write-key", os.Getenv("KNIT_WRITE_KEY"), "write key")
	readToken  = flag.String("read-token", os.Getenv("KNIT_READ_TOKEN"), "read token")
	mode       = flag.String("mode", "ingest", "ingest | mixed | visibility")
	duration   = flag.Duration("duration", 60*time.Second, "how long to run (ingest, mixed)")
	batchSize  = flag.Int("batch", 100, "events per batch")
	workers    = flag.Int("workers", 16, "concurrent connections (ingest)")
	ingestRate = flag.Int("ingest-rate", 10000, "events per second (mixed)")
	lookupRate = flag.Int("lookup-rate", 5000, "lookups per second (mixed)")
	visitors   = flag.Int("visitors", 100000, "distinct visitors the events are spread over")
	trials     = flag.Int("n", 1000, "identify-then-lookup trials (visibility)")
	runID      = flag.String("run", fmt.Sprint(time.Now().UnixNano()), "prefix of message IDs (unique per run)")
)

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}

func main() {
	flag.Parse()
	if !strings.HasPrefix(*url, "http://127.") && !strings.HasPrefix(*url, "http://localhost") && !strings.HasPrefix(*url, "http://[::1]") {
		fmt.Fprintln(os.Stderr, "load: -url must be a loopback address")
		os.Exit(2)
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

// paced calls f rate times a second from enough goroutines, until end.
func paced(rate int, end time.Time, f func()) *sync.WaitGroup {
	var wg sync.WaitGroup
	const lanes = 32
	interval := time.Duration(float64(time.Second) * lanes / float64(rate))
	for lane := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now().Add(time.Duration(lane) * interval / lanes)
			for {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				if time.Now().After(end) {
					return
				}
				f()
				next = next.Add(interval)
			}
		}()
	}
	return &wg
}

func mixed() {
	// Seed the visitors looked up, so lookups find profiles.
	for range 20 {
		post("/v1/batch", batchBody(*batchSize))
	}
	end := time.Now().Add(*duration)
	var acked atomic.Int64
	ing := paced(*ingestRate / *batchSize, end, func() {
		if code, err := post("/v1/batch", batchBody(*batchSize)); err == nil && code == 200 {
			acked.Add(int64(*batchSize))
		}
	})
	var mu sync.Mutex
	var lat []time.Duration
	var notOK atomic.Int64
	var n atomic.Int64
	look := paced(*lookupRate, end, func() {
		v := n.Add(1) % 2000
		t0 := time.Now()
		code, _, err := get(fmt.Sprintf("/v1/profiles/anonymous_id:v%d", v))
		d := time.Since(t0)
		if err != nil || code != 200 {
			notOK.Add(1)
			return
		}
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	})
	ing.Wait()
	look.Wait()
	secs := duration.Seconds()
	fmt.Printf("mixed: ingestion %.0f events/s acknowledged; lookups %.0f/s ok (%d not 200): %s\n",
		float64(acked.Load())/secs, float64(len(lat))/secs, notOK.Load(), percentiles(lat))
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
