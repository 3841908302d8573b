package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
)

const (
	writeKey   = "test-write-key"
	readToken  = "test-read-token"
	adminToken = "test-admin-token"
)

// testServer is a knit serve on a copy of testdata/shop, in process.
type testServer struct {
	t    testing.TB
	dir  string
	srv  *Server
	http *front
}

// front is a Server's production HTTP front (NewHTTP) on a loopback port:
// the tests send real requests through what knit serve runs.
type front struct {
	URL string
	h   *HTTP
}

func startFront(t testing.TB, srv *Server) *front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := srv.NewHTTP()
	go h.Serve(ln)
	return &front{URL: "http://" + ln.Addr().String(), h: h}
}

// Close stops the front after the requests in flight.
func (f *front) Close() { f.h.Shutdown(context.Background()) }

func copyShop(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir("testdata/shop", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/shop", path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// startServer starts a Server on the project in dir, and its front;
// with tweaks changing its options first.
func startServer(t testing.TB, dir string, tweaks ...func(*Options)) *testServer {
	t.Helper()
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := duckdb.Open(filepath.Join(dir, proj.Config.Store))
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{
		Project: proj, Engine: eng,
		WriteKeys: map[string]string{"W": writeKey}, ReadTokens: map[string]string{"R": readToken}, AdminTokens: map[string]string{"A": adminToken},
		IngestThreads: 1, // as knit serve runs on 2 cores: ingestion on a low-priority thread (lowprio.go)
	}
	for _, tweak := range tweaks {
		tweak(&opt)
	}
	srv, err := New(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, dir: dir, srv: srv, http: startFront(t, srv)}
	t.Cleanup(func() {
		ts.http.Close()
		srv.Close()
		eng.Close()
	})
	return ts
}

// do sends a request with a credential: "basic:KEY" or "bearer:TOKEN";
// it returns the status and the JSON answer.
func (ts *testServer) do(method, path, cred, body string, header ...string) (int, map[string]any) {
	ts.t.Helper()
	if kind, secret, ok := strings.Cut(cred, ":"); ok {
		auth := "Bearer " + secret
		if kind == "basic" {
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(secret+":"))
		}
		header = append([]string{"Authorization", auth}, header...)
	}
	a := ts.request(method, path, body, header...)
	var out map[string]any
	json.Unmarshal(a.body, &out)
	return a.status, out
}

// answer is one HTTP answer, compared whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// request sends a request through the front with header fields (name,
// value, ...).
func (ts *testServer) request(method, path, body string, header ...string) answer {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.http.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, data}
}

func (ts *testServer) send(path, body string) {
	ts.t.Helper()
	if code, out := ts.do("POST", path, "basic:"+writeKey, body); code != 200 {
		ts.t.Fatalf("POST %s %s: %d %v", path, body, code, out)
	}
}

func (ts *testServer) profile(key string) map[string]any {
	ts.t.Helper()
	code, out := ts.do("GET", "/v1/profiles/"+key, "bearer:"+readToken, "")
	if code != 200 {
		ts.t.Fatalf("GET profile %s: %d %v", key, code, out)
	}
	return out
}

func (ts *testServer) run() {
	ts.t.Helper()
	code, out := ts.do("POST", "/v1/admin/runs?wait=true", "bearer:"+adminToken, "")
	if code != 200 || out["status"] != "succeeded" {
		ts.t.Fatalf("batch run: %d %v", code, out)
	}
}

func keyring(p map[string]any) []string {
	var out []string
	for _, k := range p["keyring"].([]any) {
		m := k.(map[string]any)
		out = append(out, m["type"].(string)+":"+m["value"].(string))
	}
	return out
}

// The coffee-chain flow of DESIGN.md over HTTP: a visitor browses as
// Unknown1, signs in as Auth234 with loyalty ID 707, and the very next
// lookup by the anonymous ID returns the known loyalty member with the
// pages viewed while unknown. A batch run keeps it all, with the same ID.
func TestCoffeeFlow(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.run() // the loyalty members become batch profiles
	member := ts.profile("loyalty_id:707")
	memberID := member["customer_id"].(string)
	if member["known"] != true || member["fields"].(map[string]any)["person.first_name"] != "Jane" {
		t.Fatalf("batch profile of loyalty 707: %v", member)
	}

	ts.send("/v1/page", `{"anonymousId":"Unknown1","name":"Decaf beans","messageId":"p1","timestamp":"2022-07-23T10:00:00Z"}`)
	ts.send("/v1/p", `{"anonymousId":"Unknown1","name":"Decaf grinder","messageId":"p2","timestamp":"2022-07-23T10:01:00Z","writeKey":"ignored when Basic auth is sent"}`)
	anon := ts.profile("anonymous_id:Unknown1")
	anonID := anon["customer_id"].(string)
	if anon["known"] != false || anon["in_batch"] != false || anonID == memberID {
		t.Fatalf("before sign-in: %v", anon)
	}

	ts.send("/v1/identify", `{"anonymousId":"Unknown1","userId":"Auth234","traits":{"loyaltyId":"707"},"messageId":"i1","timestamp":"2022-07-23T10:05:00Z"}`)
	known := ts.profile("anonymous_id:Unknown1")
	if known["customer_id"] != memberID || known["known"] != true {
		t.Fatalf("after sign-in the anonymous ID should resolve to the member %s: %v", memberID, known)
	}
	if want := []string{"anonymous_id:Unknown1", "email:jane@example.com", "loyalty_id:707", "user_id:Auth234"}; !slices.Equal(keyring(known), want) {
		t.Errorf("keyring %v, want %v", keyring(known), want)
	}
	// The ID the visitor had while unknown still resolves.
	if prev := ts.profile(anonID); prev["customer_id"] != memberID || prev["previous_id"] != anonID {
		t.Errorf("lookup by the previous live ID %s: %v", anonID, prev)
	}
	names := activityNames(t, ts, "user_id:Auth234")
	if !slices.Contains(names, "page Decaf beans") || !slices.Contains(names, "page Decaf grinder") || names[0] != "identify " {
		t.Fatalf("activities newest first with the pages viewed while unknown: %v", names)
	}

	ts.run()
	after := ts.profile("anonymous_id:Unknown1")
	if after["customer_id"] != memberID || after["in_batch"] != true {
		t.Fatalf("after the batch run: %v (want customer %s in the batch)", after, memberID)
	}
	if names := activityNames(t, ts, "anonymous_id:Unknown1"); len(names) != 3 {
		t.Errorf("after the batch run each activity once: %v", names)
	}
}

func activityNames(t *testing.T, ts *testServer, key string) []string {
	t.Helper()
	code, out := ts.do("GET", "/v1/profiles/"+key+"/activities", "bearer:"+readToken, "")
	if code != 200 {
		t.Fatalf("activities of %s: %d %v", key, code, out)
	}
	var names []string
	for _, a := range out["activities"].([]any) {
		m := a.(map[string]any)
		name, _ := m["name"].(string)
		names = append(names, m["type"].(string)+" "+name)
	}
	return names
}

// Two people sign in on one shared browser: the anonymous ID joins the
// first, and the second stays a profile of their own (user_id limit 1).
func TestSharedBrowserDoesNotMerge(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.send("/v1/batch", `{"batch":[
{"type":"identify","anonymousId":"Shared1","userId":"alice","messageId":"a1"},
{"type":"track","anonymousId":"Shared1","event":"Viewed","messageId":"a2"},
{"type":"identify","anonymousId":"Shared1","userId":"bob","messageId":"b1"}]}`)
	alice, bob := ts.profile("user_id:alice"), ts.profile("user_id:bob")
	if alice["customer_id"] == bob["customer_id"] {
		t.Fatalf("alice and bob were merged through a shared browser: %v", alice)
	}
	_, ex := ts.do("GET", "/v1/profiles/user_id:alice/explain", "bearer:"+readToken, "")
	refused := false
	for _, l := range ex["live_links"].([]any) {
		m := l.(map[string]any)
		if m["accepted"] == false && strings.Contains(m["reason"].(string), "limit") && m["b"] == "user_id:bob" {
			refused = true
		}
	}
	if !refused {
		t.Fatalf("explain of alice does not show bob's refused link: %v", ex)
	}
	ts.run()
	if a, b := ts.profile("user_id:alice"), ts.profile("user_id:bob"); a["customer_id"] == b["customer_id"] {
		t.Fatalf("the batch run merged alice and bob: %v", a)
	}
}

// Bad input gets Segment's answers and the server keeps serving.
func TestBadInput(t *testing.T) {
	ts := startServer(t, copyShop(t))
	big := strings.Repeat("x", 33<<10)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, `{"batch":[{"type":"track","userId":"u9","event":"Zipped","messageId":"z1"}]}`)
	zw.Close()
	for _, c := range []struct {
		name, method, path, cred, body string
		header                         []string
		want                           int
	}{
		{"invalid JSON", "POST", "/v1/track", "basic:" + writeKey, `{"userId":`, nil, 400},
		{"missing ids", "POST", "/v1/track", "basic:" + writeKey, `{"event":"x"}`, nil, 400},
		{"oversize event", "POST", "/v1/track", "basic:" + writeKey, `{"userId":"u","event":"x","properties":{"p":"` + big + `"}}`, nil, 400},
		{"oversize batch", "POST", "/v1/batch", "basic:" + writeKey, `{"batch":[` + strings.Repeat(`{"type":"track","userId":"u","event":"`+big[:30000]+`"},`, 20) + `{}]}`, nil, 400},
		{"no key", "POST", "/v1/track", "", `{"userId":"u","event":"x"}`, nil, 401},
		{"wrong key", "POST", "/v1/track", "basic:nope", `{"userId":"u","event":"x"}`, nil, 401},
		{"wrong key in the body", "POST", "/v1/t", "", `{"userId":"u","event":"x","writeKey":"nope"}`, nil, 401},
		{"write key on a read endpoint", "GET", "/v1/profiles/user_id:u", "basic:" + writeKey, "", nil, 403},
		{"write key as bearer on a read endpoint", "GET", "/v1/profiles/user_id:u", "bearer:" + writeKey, "", nil, 403},
		{"read token sending events", "POST", "/v1/track", "basic:" + readToken, `{"userId":"u","event":"x"}`, nil, 403},
		{"read token starting a run", "POST", "/v1/admin/runs", "bearer:" + readToken, "", nil, 403},
		{"no token on metrics", "GET", "/metrics", "", "", nil, 401},
		{"malformed key", "GET", "/v1/profiles/nokey", "bearer:" + readToken, "", nil, 400},
		{"unknown type", "GET", "/v1/profiles/shoe_size:9", "bearer:" + readToken, "", nil, 400},
		{"unknown profile", "GET", "/v1/profiles/user_id:nobody", "bearer:" + readToken, "", nil, 404},
		{"key in the body, text/plain", "POST", "/v1/t", "", `{"userId":"u1","event":"x","writeKey":"` + writeKey + `"}`, []string{"Content-Type", "text/plain"}, 200},
		{"form content type, gzip", "POST", "/v1/batch", "basic:" + writeKey, gz.String(), []string{"Content-Type", "application/x-www-form-urlencoded", "Content-Encoding", "gzip"}, 200},
		{"health needs nothing", "GET", "/health", "", "", nil, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := ts.do(c.method, c.path, c.cred, c.body, c.header...)
			if code != c.want {
				t.Fatalf("%s %s: %d %v, want %d", c.method, c.path, code, out, c.want)
			}
			if code >= 400 && (out["success"] != false || out["message"] == "") {
				t.Errorf("error body lacks success:false and a message: %v", out)
			}
		})
	}
	if p := ts.profile("user_id:u9"); p["customer_id"] == "" {
		t.Fatal("the gzip batch was not stitched")
	}
}

// A retried message is acknowledged and stored once.
func TestMessageIDDeduplication(t *testing.T) {
	dir := copyShop(t)
	ts := startServer(t, dir)
	for range 3 {
		ts.send("/v1/track", `{"userId":"u1","event":"Bought","messageId":"same"}`)
	}
	ts.send("/v1/batch", `{"batch":[{"type":"track","userId":"u1","event":"Bought","messageId":"same"},{"type":"track","userId":"u1","event":"Bought","messageId":"other"}]}`)
	if n := ts.srv.events.Len(); n != 2 {
		t.Fatalf("stored %d events, want 2", n)
	}
	if names := activityNames(t, ts, "user_id:u1"); len(names) != 2 {
		t.Fatalf("activities %v, want 2", names)
	}
}

// The events and the live graph survive a restart; the de-duplication
// window is rebuilt from the log.
func TestRestartReplays(t *testing.T) {
	dir := copyShop(t)
	ts := startServer(t, dir)
	ts.send("/v1/identify", `{"anonymousId":"a1","userId":"u1","messageId":"m1"}`)
	id := ts.profile("anonymous_id:a1")["customer_id"]
	ts.http.Close()
	ts.srv.Close()
	ts.srv.eng.Close()
	ts2 := startServer(t, dir)
	if got := ts2.profile("user_id:u1")["customer_id"]; got != id {
		t.Fatalf("after restart user_id:u1 is %v, want %v", got, id)
	}
	ts2.send("/v1/identify", `{"anonymousId":"a1","userId":"u1","messageId":"m1"}`)
	if n := ts2.srv.events.Len(); n != 1 {
		t.Fatalf("a retry after restart was stored again: %d events", n)
	}
}

// The OpenAPI document lists exactly the routes the server handles.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ts := startServer(t, copyShop(t))
	code, doc := ts.do("GET", "/openapi.json", "", "")
	if code != 200 {
		t.Fatalf("GET /openapi.json: %d", code)
	}
	documented := map[string]bool{}
	for path, ops := range doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range ts.srv.table() {
		served[rt.method+" "+rt.path] = true
		if rt.need == accessWrite {
			served["OPTIONS "+rt.path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not in openapi.json", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is in openapi.json but not served", k)
		}
	}
}

func TestMetricsAndCORS(t *testing.T) {
	dir := copyShop(t)
	ts := startServer(t, dir)
	ts.srv.proj.Config.Serve.CORSOrigins = []string{"https://shop.example"}
	ts.send("/v1/identify", `{"anonymousId":"a1","userId":"u1"}`)
	req, _ := http.NewRequest("OPTIONS", ts.http.URL+"/v1/t", nil)
	req.Header.Set("Origin", "https://shop.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	runtime.GC() // two stop-the-world pauses, at least, for the pause histogram
	req, _ = http.NewRequest("GET", ts.http.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"knit_events_stored_total 1", "knit_links_made_total 2", `knit_http_requests_total{route="POST /v1/identify",status="200"} 1`, "knit_http_request_seconds_bucket", `knit_go_sched_latency_seconds_bucket{le="0.002"}`, `knit_go_gc_pause_seconds_bucket{le="0.001"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if m := regexp.MustCompile(`(?m)^knit_go_gc_pause_seconds_count (\d+)$`).FindStringSubmatch(string(body)); m == nil || m[1] == "0" || m[1] == "1" {
		t.Errorf("after a collection, the pause histogram counts %v; want two pauses or more", m)
	}
	if strings.Contains(string(body), "u1") || strings.Contains(string(body), "a1") {
		t.Errorf("metrics leak profile data:\n%s", body)
	}
}
