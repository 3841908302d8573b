package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/pipeline"
)

// withOverrides adds override files to a copy of the shop.
func withOverrides(t *testing.T, dir, never, always string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "overrides"), 0o755)
	for name, body := range map[string]string{"never_match.csv": "left,right\n" + never, "always_match.csv": "left,right\n" + always} {
		if err := os.WriteFile(filepath.Join(dir, "overrides", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "knit.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("\noverrides:\n  never_match: overrides/never_match.csv\n  always_match: overrides/always_match.csv\n")
}

func refusedBy(ex map[string]any, reason string) bool {
	for _, l := range ex["live_links"].([]any) {
		m := l.(map[string]any)
		if m["accepted"] == false && strings.Contains(m["reason"].(string), reason) {
			return true
		}
	}
	return false
}

// A never-match pair of two visitors keeps them apart live, as a batch run
// does, although both sign in as the same user; an always-match pair joins
// two visitors that share nothing. Both pairs name visitors not seen yet
// when the server starts: they apply when the records arrive.
func TestOverridesLive(t *testing.T) {
	dir := copyShop(t)
	withOverrides(t, dir, "collected/Tab1,collected/Tab2\n", "collected/Phone,collected/Laptop\n")
	ts := startServer(t, dir)
	ts.send("/v1/batch", `{"batch":[
{"type":"identify","anonymousId":"Tab1","userId":"carol","messageId":"n1"},
{"type":"identify","anonymousId":"Tab2","userId":"carol","messageId":"n2"},
{"type":"page","anonymousId":"Phone","name":"Home","messageId":"y1"},
{"type":"page","anonymousId":"Laptop","name":"Cart","messageId":"y2"}]}`)
	check := func(when string) {
		t.Helper()
		tab1, tab2 := ts.profile("anonymous_id:Tab1"), ts.profile("anonymous_id:Tab2")
		if tab1["customer_id"] == tab2["customer_id"] {
			t.Fatalf("%s: the never-match pair Tab1/Tab2 was joined: %v", when, tab1)
		}
		phone := ts.profile("anonymous_id:Phone")
		if recs := phone["records"].([]any); !slices.Contains(recs, any("collected/Laptop")) {
			t.Fatalf("%s: the always-match pair Phone/Laptop is not one profile: %v", when, phone)
		}
	}
	check("live")
	_, ex := ts.do("GET", "/v1/profiles/anonymous_id:Tab2/explain", "bearer:"+readToken, "")
	if !refusedBy(ex, "never-match override") {
		t.Fatalf("explain of Tab2 does not show the refused link: %v", ex)
	}
	ts.run() // the batch run agrees, and the new live state keeps the pairs
	check("after the batch run")
	ts.send("/v1/identify", `{"anonymousId":"Tab2","userId":"carol","traits":{"email":"carol@example.com"},"messageId":"n3"}`)
	check("after a new event")
}

// An override added through the server applies live at once: the next
// identify that would join the two records is refused.
func TestAddOverrideAppliesLive(t *testing.T) {
	dir := copyShop(t)
	withOverrides(t, dir, "", "")
	ts := startServer(t, dir)
	ts.send("/v1/page", `{"anonymousId":"Kiosk","name":"Menu","messageId":"k1"}`)
	ts.run() // loyalty/707 and collected/Kiosk become records of the last run
	added, err := ts.srv.AddOverride(context.Background(), pipeline.NeverMatch, "loyalty/707", "collected/Kiosk")
	if err != nil || !added {
		t.Fatalf("AddOverride: %v %v", added, err)
	}
	ts.send("/v1/identify", `{"anonymousId":"Kiosk","userId":"Auth234","traits":{"loyaltyId":"707"},"messageId":"k2"}`)
	kiosk, member := ts.profile("anonymous_id:Kiosk"), ts.profile("loyalty_id:707")
	if kiosk["customer_id"] == member["customer_id"] {
		t.Fatalf("the kiosk joined loyalty member 707 despite the override: %v", kiosk)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "overrides", "never_match.csv"))
	if !strings.Contains(string(data), "loyalty/707,collected/Kiosk") {
		t.Fatalf("the override was not stored for the next run: %s", data)
	}
}

// Lookups run while batches are stitched: every lookup of a visitor whose
// identify was acknowledged sees the whole customer (both keys), never a
// half-applied one. Run with -race, this also checks the locking.
func TestLookupsDuringIngestion(t *testing.T) {
	ts := startServer(t, copyShop(t))
	const writers, batches, perBatch = 3, 15, 20
	var acked sync.Map // anonymous ID → user ID, once acknowledged
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var msgs []string
				for i := range perBatch {
					id := fmt.Sprintf("w%d-b%d-%d", w, b, i)
					msgs = append(msgs, fmt.Sprintf(`{"type":"identify","anonymousId":"a-%s","userId":"u-%s","messageId":"m-%s"}`, id, id, id))
					// A repeat visit: stitched under the read lock (applyQuick).
					msgs = append(msgs, fmt.Sprintf(`{"type":"track","anonymousId":"a-%s","userId":"u-%s","event":"Viewed","messageId":"t-%s"}`, id, id, id))
				}
				if code := post(ts, `{"batch":[`+strings.Join(msgs, ",")+`]}`); code != 200 {
					select {
					case errs <- fmt.Errorf("batch: %d", code):
					default:
					}
					return
				}
				for i := range perBatch {
					id := fmt.Sprintf("w%d-b%d-%d", w, b, i)
					acked.Store("a-"+id, "u-"+id)
				}
			}
		}()
	}
	done := make(chan struct{})
	var lookups atomic.Int64
	readers := sweep(done, &acked, func(k, v any) bool {
		keys, err := lookupKeys(ts, "anonymous_id:"+k.(string))
		if err == errRateLimited {
			time.Sleep(10 * time.Millisecond) // the read token's 1,000 requests a second
			return true
		}
		if err != nil || !slices.Contains(keys, "user_id:"+v.(string)) {
			select {
			case errs <- fmt.Errorf("lookup of %s: keyring %v, %v", k, keys, err):
			default: // enough errors to fail already
			}
			return false
		}
		return lookups.Add(1)%50 != 0 // a fresh sweep now and then
	})
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if lookups.Load() == 0 {
		t.Fatal("no lookup ran during ingestion")
	}
}

func post(ts *testServer, body string) int {
	req, _ := http.NewRequest("POST", ts.http.URL+"/v1/batch", strings.NewReader(body))
	req.SetBasicAuth(writeKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func lookupKeys(ts *testServer, key string) ([]string, error) {
	req, _ := http.NewRequest("GET", ts.http.URL+"/v1/profiles/"+key, nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, errRateLimited
	}
	var p Profile
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 200 {
		return nil, fmt.Errorf("status %d: %v", resp.StatusCode, err)
	}
	var keys []string
	for _, k := range p.Keyring {
		keys = append(keys, k.Type+":"+k.Value)
	}
	return keys, nil
}

// A state built from the log skips an event logged before it was built:
// an ingest that stored its event before a batch swap and stitches it
// after must not add its activity twice.
func TestStateSkipsEventsItWasBuiltWith(t *testing.T) {
	ts := startServer(t, copyShop(t))
	p, err := collect.Parse([]byte(`{"anonymousId":"Late","name":"Home","messageId":"late1"}`), "page", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, _ := newState(ts.srv.proj)
	st.applyEvent(p.Events[0], 0) // the replay of the log
	st.from = 1
	st.apply(st.prepare(p.Events[0], 0)) // the ingest that stored it, late
	n, _ := st.live.LookupRecord("collected/Late")
	if got := len(st.acts[n].list); got != 1 {
		t.Fatalf("%d activities, want 1", got)
	}
	st.apply(st.prepare(p.Events[0], 1)) // a later event is applied
	if got := len(st.acts[n].list); got != 2 {
		t.Fatalf("%d activities after a new event, want 2", got)
	}
}

// A key configured as its SHA-256 authenticates its secret; the hash
// itself does not; a malformed hash stops the start.
func TestHashedKeys(t *testing.T) {
	dir := copyShop(t)
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("hashed-write-key"))
	hashed := "sha256:" + hex.EncodeToString(sum[:])
	srv, err := New(context.Background(), Options{Project: proj, WriteKeys: map[string]string{"W": hashed}, ReadTokens: map[string]string{"R": readToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := &testServer{t: t, dir: dir, srv: srv, http: startFront(t, srv)}
	defer ts.http.Close()
	body := `{"anonymousId":"h1","name":"Home"}`
	if code, out := ts.do("POST", "/v1/page", "basic:hashed-write-key", body); code != 200 {
		t.Fatalf("the secret of a hashed key: %d %v", code, out)
	}
	if code, _ := ts.do("POST", "/v1/page", "basic:"+hashed, body); code != 401 {
		t.Fatalf("the hash itself was accepted: %d", code)
	}
	if code, _ := ts.do("POST", "/v1/page", "", `{"anonymousId":"h1","name":"Home","writeKey":"hashed-write-key"}`); code != 200 {
		t.Fatalf("the secret in the body: %d", code)
	}
	_, err = New(context.Background(), Options{Project: proj, WriteKeys: map[string]string{"KNIT_WRITE_KEY": "sha256:abc"}})
	if err == nil || !strings.Contains(err.Error(), "KNIT_WRITE_KEY") {
		t.Fatalf("a malformed hash: %v", err)
	}
}

// Live activities keep their times exactly, far dates included.
func TestLiveActivityTimes(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.send("/v1/batch", `{"batch":[
{"type":"page","anonymousId":"T1","name":"Old","messageId":"t1","timestamp":"2022-07-23T10:00:00.123456789Z"},
{"type":"page","anonymousId":"T1","name":"Far","messageId":"t2","timestamp":"2999-01-02T03:04:05Z"}]}`)
	code, out := ts.do("GET", "/v1/profiles/anonymous_id:T1/activities", "bearer:"+readToken, "")
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	var got []string
	for _, a := range out["activities"].([]any) {
		m := a.(map[string]any)
		got = append(got, m["name"].(string)+"@"+m["timestamp"].(string)+" "+m["source"].(string))
	}
	want := []string{"Far@2999-01-02T03:04:05Z collected", "Old@2022-07-23T10:00:00.123456789Z collected"}
	if !slices.Equal(got, want) {
		t.Fatalf("activities %v, want %v", got, want)
	}
}

// A pair added while a new state is being built (the run read the files
// before the pair was stored) is carried to the new state at the swap.
func TestAddedOverrideSurvivesSwap(t *testing.T) {
	dir := copyShop(t)
	withOverrides(t, dir, "", "")
	ts := startServer(t, dir)
	ts.send("/v1/page", `{"anonymousId":"Desk","name":"Menu","messageId":"d1"}`)
	ts.run()
	next, err := ts.srv.buildState(context.Background()) // read the files now, as a run would
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.AddOverride(context.Background(), pipeline.NeverMatch, "loyalty/808", "collected/Desk"); err != nil {
		t.Fatal(err)
	}
	next.carryOverrides(ts.srv.st)
	p, err := collect.Parse([]byte(`{"anonymousId":"Desk","userId":"Auth808","traits":{"loyaltyId":"808"},"messageId":"d2"}`), "identify", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	next.applyEvent(p.Events[0], 1<<40)
	desk, _ := next.live.LookupRecord("collected/Desk")
	member, _ := next.live.LookupRecord("loyalty/808")
	if next.live.Find(desk) == next.live.Find(member) {
		t.Fatal("the pair added during the build was not carried to the new state: Desk joined member 808")
	}
}

// A repeat visit changes nothing in the graph and takes the read-lock
// path; an event bringing a new identifier or visitor does not.
func TestApplyQuick(t *testing.T) {
	proj, err := config.Load("testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	st, err := newState(proj)
	if err != nil {
		t.Fatal(err)
	}
	event := func(body string, seq uint64) *prepared {
		p, err := collect.Parse([]byte(body), "batch", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return st.prepare(p.Events[0], seq)
	}
	first := event(`{"batch":[{"type":"identify","anonymousId":"Q1","userId":"quinn","messageId":"q1"}]}`, 0)
	if st.applyQuick(first) {
		t.Fatal("a new visitor took the quick path")
	}
	st.apply(first)
	if !st.applyQuick(event(`{"batch":[{"type":"track","anonymousId":"Q1","userId":"quinn","event":"Viewed","messageId":"q2"}]}`, 1)) {
		t.Fatal("a repeat visit did not take the quick path")
	}
	if st.applyQuick(event(`{"batch":[{"type":"identify","anonymousId":"Q1","traits":{"email":"q@example.com"},"messageId":"q3"}]}`, 2)) {
		t.Fatal("a new identifier took the quick path")
	}
	n, _ := st.live.LookupRecord("collected/Q1")
	if got := len(st.acts[n].list); got != 2 {
		t.Fatalf("%d activities, want 2", got)
	}
}

// A record keeps its latest activitiesPerRecord activities with their
// message IDs, names and types intact through trimming, and the bytes of
// dropped ones do not pile up.
func TestActivitiesKeptCompactly(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.send("/v1/identify", `{"anonymousId":"ac","userId":"u-ac"}`)
	ts.srv.mu.Lock()
	defer ts.srv.mu.Unlock()
	st := ts.srv.st
	rec, ok := st.live.LookupRecord("collected/ac")
	if !ok {
		t.Fatal("no record collected/ac")
	}
	want := func(i int) Activity {
		return Activity{ID: fmt.Sprintf("m%d%s", i, strings.Repeat("x", i%7)), Name: fmt.Sprint("Name ", i), Type: collect.Types[i%len(collect.Types)]}
	}
	const n = 3*activitiesPerRecord + 17
	for i := range n {
		w := want(i)
		st.appendActivity(rec, newActivity{id: w.ID, name: w.Name, typ: uint8(i % len(collect.Types)), ts: packTime(time.Unix(int64(i), 0))})
	}
	ra := st.acts[rec]
	if len(ra.list) != activitiesPerRecord {
		t.Fatalf("%d activities kept, want %d", len(ra.list), activitiesPerRecord)
	}
	live := 0
	for j := range ra.list {
		got, w := st.activity(&ra, &ra.list[j]), want(n-activitiesPerRecord+j)
		if got.ID != w.ID || got.Name != w.Name || got.Type != w.Type || got.Timestamp.Unix() != int64(n-activitiesPerRecord+j) {
			t.Fatalf("activity %d: got %+v, want %+v", j, got, w)
		}
		live += len(w.ID) + len(w.Name)
	}
	if len(ra.text) > 2*live+64 {
		t.Fatalf("%d bytes of text held for %d bytes of live activities", len(ra.text), live)
	}
}
