package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// viaFront sends a GET through the production front; viaHandler gives the
// same request to the net/http handlers directly.
func (ts *testServer) viaFront(path string, header ...string) answer {
	ts.t.Helper()
	return ts.request("GET", path, "", header...)
}

func (ts *testServer) viaHandler(path string, header ...string) answer {
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	ts.srv.Handler().ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.Bytes()}
}

// direct reports whether the front's direct lookup path answers a GET.
func (ts *testServer) direct(path string, header ...string) bool {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(path)
	for i := 0; i+1 < len(header); i += 2 {
		ctx.Request.Header.Set(header[i], header[i+1])
	}
	return ts.http.h.lookup(&ctx)
}

// The front answers a profile lookup itself when the published index can,
// with the status, content type and bytes the net/http handler gives;
// everything else it leaves to that handler, whose answer goes out
// unchanged (errors, CORS headers, percent-encoded keys, sub-resources).
func TestFrontLookups(t *testing.T) {
	dir := copyShop(t)
	ts := startServer(t, dir)
	ts.srv.proj.Config.Serve.CORSOrigins = []string{"https://shop.example"}
	ts.send("/v1/batch", `{"batch":[
{"type":"page","anonymousId":"Unknown1","name":"Menu","messageId":"f1"},
{"type":"identify","anonymousId":"Unknown1","userId":"Auth234","traits":{"loyaltyId":"707"},"messageId":"f2"},
{"type":"identify","anonymousId":"A1","userId":"merge-a","messageId":"f3"},
{"type":"alias","anonymousId":"A2","previousId":"A1","messageId":"f4"}]}`)
	ts.run()
	bearer := []string{"Authorization", "Bearer " + readToken}
	p := ts.profile("anonymous_id:A1")
	prev := p["previous_ids"].([]any)
	if len(prev) == 0 {
		t.Fatal("the alias left no previous ID")
	}
	for _, key := range []string{"anonymous_id:Unknown1", "loyalty_id:707", "user_id:Auth234", "user_id:merge-a", "anonymous_id:A2",
		p["customer_id"].(string), prev[0].(string), "anonymous_id:A2?fields=ignored"} {
		path := "/v1/profiles/" + key
		if !ts.direct(path, bearer...) {
			t.Errorf("%s: the direct path declined", key)
		}
		front, handler := ts.viaFront(path, bearer...), ts.viaHandler(path, bearer...)
		if front.status != 200 || front.status != handler.status || !bytes.Equal(front.body, handler.body) ||
			front.header.Get("Content-Type") != handler.header.Get("Content-Type") {
			t.Errorf("%s:\nfront:   %d %s %s\nhandler: %d %s %s", key, front.status, front.header.Get("Content-Type"), front.body,
				handler.status, handler.header.Get("Content-Type"), handler.body)
		}
	}
	for _, c := range []struct {
		name, path string
		header     []string
		want       int
		wantHeader string
	}{
		{"percent-encoded record key", "/v1/profiles/collected%2FA2", bearer, 200, ""},
		{"activities", "/v1/profiles/anonymous_id:A2/activities", bearer, 200, ""},
		{"explain", "/v1/profiles/anonymous_id:A2/explain", bearer, 200, ""},
		{"CORS", "/v1/profiles/anonymous_id:A2", append([]string{"Origin", "https://shop.example"}, bearer...), 200, "Access-Control-Allow-Origin"},
		{"no credential", "/v1/profiles/anonymous_id:A2", nil, 401, "WWW-Authenticate"},
		{"wrong token", "/v1/profiles/anonymous_id:A2", []string{"Authorization", "Bearer nope"}, 401, "WWW-Authenticate"},
		{"write key as bearer", "/v1/profiles/anonymous_id:A2", []string{"Authorization", "Bearer " + writeKey}, 403, ""},
		{"write key as Basic", "/v1/profiles/anonymous_id:A2", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(writeKey+":"))}, 403, ""},
		{"unknown profile", "/v1/profiles/anonymous_id:nobody", bearer, 404, ""},
		{"malformed key", "/v1/profiles/nokey", bearer, 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if ts.direct(c.path, c.header...) {
				t.Fatal("the direct path answered")
			}
			front, handler := ts.viaFront(c.path, c.header...), ts.viaHandler(c.path, c.header...)
			if front.status != c.want || handler.status != c.want || !bytes.Equal(front.body, handler.body) {
				t.Fatalf("front %d %s, handler %d %s, want %d", front.status, front.body, handler.status, handler.body, c.want)
			}
			if c.wantHeader != "" && (front.header.Get(c.wantHeader) == "" || front.header.Get(c.wantHeader) != handler.header.Get(c.wantHeader)) {
				t.Fatalf("%s: front %q, handler %q", c.wantHeader, front.header.Get(c.wantHeader), handler.header.Get(c.wantHeader))
			}
		})
	}
	// Counted as the handler counts them.
	m := ts.viaFront("/metrics", "Authorization", "Bearer "+adminToken)
	if !strings.Contains(string(m.body), `knit_http_requests_total{route="GET /v1/profiles/{key}",status="200"}`) {
		t.Fatalf("direct lookups are not in the metrics:\n%s", m.body)
	}
}

// The direct path keeps the per-key rate limit: over it, the handler
// answers 429 with Retry-After.
func TestFrontLookupRateLimit(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.send("/v1/identify", `{"anonymousId":"a1","userId":"u1"}`)
	ts.profile("anonymous_id:a1") // issues the customer ID: the index answers from now on
	ts.srv.limits = newRateLimits(3)
	codes := []int{}
	for range 5 {
		a := ts.viaFront("/v1/profiles/anonymous_id:a1", "Authorization", "Bearer "+readToken)
		codes = append(codes, a.status)
		if a.status == 429 && a.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[0] != 200 || codes[4] != 429 {
		t.Fatalf("statuses %v: want 200 first and 429 once over 3 a second", codes)
	}
}

// A handler that panics loses its connection, as under net/http, and the
// server goes on serving.
func TestFrontSurvivesPanics(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.srv.Mux().HandleFunc("GET /test/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	if resp, err := http.Get(ts.http.URL + "/test/panic"); err == nil {
		resp.Body.Close()
		t.Fatalf("a panicking handler answered %d", resp.StatusCode)
	}
	if a := ts.viaFront("/health"); a.status != 200 {
		t.Fatalf("after a panic /health answered %d", a.status)
	}
}

// Shutdown waits for the requests in flight, and their context is not
// cancelled meanwhile (a batch waiting for its fsync is answered).
func TestFrontShutdownDrains(t *testing.T) {
	ts := startServer(t, copyShop(t))
	entered, release := make(chan struct{}), make(chan struct{})
	ts.srv.Mux().HandleFunc("GET /test/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		if r.Context().Err() != nil {
			w.WriteHeader(499)
			return
		}
		w.Write([]byte("done"))
	})
	got := make(chan answer, 1)
	go func() { got <- ts.viaFront("/test/slow") }()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- ts.http.h.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned with a request in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if a := <-got; a.status != 200 || string(a.body) != "done" {
		t.Fatalf("the request in flight got %d %q", a.status, a.body)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// Request headers up to maxRequestHeader are read (browsers send long
// cookies); a larger one is refused with 431 in the API's error form.
func TestFrontHeaderLimit(t *testing.T) {
	ts := startServer(t, copyShop(t))
	if a := ts.viaFront("/health", "Cookie", "c="+strings.Repeat("x", 20<<10)); a.status != 200 {
		t.Fatalf("a 20 KB cookie: %d %s", a.status, a.body)
	}
	a := ts.viaFront("/health", "Cookie", "c="+strings.Repeat("x", maxRequestHeader))
	if a.status != 431 || !strings.Contains(string(a.body), `"success":false`) {
		t.Fatalf("a header over the limit: %d %s", a.status, a.body)
	}
}

// A handler that flushes streams its answer: the client reads what was
// flushed while the handler still runs (the console's segment download
// relies on it to hold no whole answer in memory).
func TestFrontStreamsFlushedAnswers(t *testing.T) {
	ts := startServer(t, copyShop(t))
	more := make(chan struct{})
	ts.srv.Mux().HandleFunc("GET /test/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("a"), 1000))
		http.NewResponseController(w).Flush()
		<-more
		w.Write([]byte("b"))
	})
	resp, err := http.Get(ts.http.URL + "/test/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(resp.Body, make([]byte, 1000))
		first <- err
	}()
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(more)
		t.Fatal("the flushed part did not arrive while the handler ran")
	}
	close(more)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "b" {
		t.Fatalf("the rest: %q %v", rest, err)
	}
}

// A request the front cannot read is answered in the API's error form:
// 400 for a body over maxRequestBody (as Segment answers an oversize
// body), 431 for a header over maxRequestHeader.
func TestFrontRequestErrors(t *testing.T) {
	ts := startServer(t, copyShop(t))
	for _, c := range []struct {
		err  error
		want int
		msg  string
	}{
		{fasthttp.ErrBodyTooLarge, 400, "the body exceeds"},
		{&fasthttp.ErrSmallBuffer{}, 431, "header exceed 32 KB"},
	} {
		var ctx fasthttp.RequestCtx
		ts.http.h.requestError(&ctx, c.err)
		body := string(ctx.Response.Body())
		if ctx.Response.StatusCode() != c.want || !strings.Contains(body, c.msg) || !strings.Contains(body, `"success":false`) {
			t.Errorf("%v: %d %s, want %d with %q", c.err, ctx.Response.StatusCode(), body, c.want, c.msg)
		}
	}
}

// lockedBuffer is a log's destination that goroutines may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// At debug level (knit serve -v) each request is logged by its route
// pattern, status and duration: the same line whether the front answered a
// lookup itself or a handler did, and never the path, which holds the
// profile key.
func TestRequestLog(t *testing.T) {
	var logs lockedBuffer
	ts := startServer(t, copyShop(t), func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ts.send("/v1/identify", `{"anonymousId":"logged-visitor","userId":"logged-user","messageId":"l1"}`)
	bearer := []string{"Authorization", "Bearer " + readToken}
	path := "/v1/profiles/anonymous_id:logged-visitor"
	if !ts.direct(path, bearer...) {
		t.Fatal("the direct path declined the lookup")
	}
	if a := ts.viaFront(path, bearer...); a.status != 200 {
		t.Fatalf("lookup: %d %s", a.status, a.body)
	}
	if a := ts.viaFront("/v1/profiles/anonymous_id:nobody-logged", bearer...); a.status != 404 {
		t.Fatalf("unknown key: %d %s", a.status, a.body)
	}
	type line struct {
		Msg, Route string
		Status     int
		Duration   *float64 `json:"duration_ms"`
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var x line
		if json.Unmarshal([]byte(l), &x) == nil && x.Msg == "request" {
			got = append(got, x)
		}
	}
	want := map[string]int{"POST /v1/identify 200": 1, lookupRoute + " 200": 2, lookupRoute + " 404": 1}
	for _, x := range got {
		if x.Duration == nil {
			t.Errorf("%s %d logged without a duration", x.Route, x.Status)
		}
		want[x.Route+" "+strconv.Itoa(x.Status)]--
	}
	for k, n := range want {
		if n != 0 {
			t.Errorf("request log: %q %d times too few (%+v)", k, n, got)
		}
	}
	if s := logs.String(); strings.Contains(s, "logged-visitor") || strings.Contains(s, "nobody-logged") {
		t.Errorf("the log holds a profile key:\n%s", s)
	}
}
