package server

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// At most the pool's workers run jobs at once, however many callers
// there are, and every job runs once.
func TestWorkPoolBoundsConcurrency(t *testing.T) {
	p := newWorkPool(2, 8, 0)
	defer p.close()
	var running, most, done atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(func() {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				done.Add(1)
			})
		}()
	}
	wg.Wait()
	if done.Load() != 40 || most.Load() != 2 {
		t.Fatalf("%d jobs done (want 40), at most %d at once (want 2)", done.Load(), most.Load())
	}
}

// fill occupies every worker of p and every place in its queue until
// release is closed; it returns once the queue is full.
func fill(t *testing.T, p *workPool, workers int, release chan struct{}) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	started := make(chan struct{}, workers)
	for range workers {
		wg.Add(1)
		go func() { defer wg.Done(); p.run(func() { started <- struct{}{}; <-release }) }()
	}
	for range workers {
		<-started
	}
	for range cap(p.jobs) {
		wg.Add(1)
		go func() { defer wg.Done(); p.run(func() { <-release }) }()
	}
	for deadline := time.Now().Add(5 * time.Second); len(p.jobs) < cap(p.jobs); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the queue did not fill")
		}
	}
	return &wg
}

// try refuses at once when the queue is full; run waits for room.
func TestWorkPoolTryRefusesWhenFull(t *testing.T) {
	p := newWorkPool(1, 2, 0)
	defer p.close()
	release := make(chan struct{})
	wg := fill(t, p, 1, release)
	if p.try(func() { t.Error("ran a job the pool refused") }) {
		t.Fatal("try accepted a job with the queue full")
	}
	ran := make(chan bool, 1)
	go p.run(func() { ran <- true })
	close(release)
	wg.Wait()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not wait for room and run its job")
	}
	if !p.try(func() {}) {
		t.Fatal("try refused with the queue empty")
	}
}

// A job's panic is raised again on the caller's goroutine (where net/http
// recovers it), and the worker keeps working.
func TestWorkPoolPanicReachesCaller(t *testing.T) {
	p := newWorkPool(1, 1, 0)
	defer p.close()
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want boom", v)
			}
		}()
		p.run(func() { panic("boom") })
	}()
	ok := false
	p.run(func() { ok = true })
	if !ok {
		t.Fatal("the worker stopped after a panic")
	}
}

// With ingestion's workers busy and their queue full, collection answers
// 429 with Retry-After instead of queueing more bodies, and serves again
// once they free up; lookups are answered meanwhile.
func TestCollectOverloadedWorkers(t *testing.T) {
	ts := startServer(t, copyShop(t))
	// As Options{IngestWorkers: 1, IngestQueue: 2} would set it up;
	// no request has been made yet, and Close closes it.
	ts.srv.work = newWorkPool(1, 2, 0)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // before the server's cleanup closes the pool
	if code, _ := ts.do("POST", "/v1/identify", "basic:"+writeKey, `{"userId":"u-seen","messageId":"seen-1"}`); code != 200 {
		t.Fatalf("identify answered %d", code)
	}
	wg := fill(t, ts.srv.work, 1, release)
	body := `{"userId":"u-busy","event":"Product view","messageId":"busy-1"}`
	req, _ := http.NewRequest("POST", ts.http.URL+"/v1/track", strings.NewReader(body))
	req.SetBasicAuth(writeKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q with the workers busy: want 429 and a Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, _ := ts.do("GET", "/v1/profiles/user_id:u-seen", "bearer:"+readToken, ""); code != 200 {
		t.Fatalf("lookup answered %d while ingestion was busy", code)
	}
	free()
	wg.Wait()
	if code, _ := ts.do("POST", "/v1/track", "basic:"+writeKey, body); code != 200 {
		t.Fatalf("status %d once the workers were free, want 200", code)
	}
	if code, p := ts.do("GET", "/v1/profiles/user_id:u-busy", "bearer:"+readToken, ""); code != 200 {
		t.Fatalf("the event accepted after the 429 was not stitched: %d %v", code, p)
	}
}
