package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knit-cdp/knit/pipeline"
)

// lookupBoth answers a key through the published view and through the
// locked path; the bytes must be the same. fast is false when the view
// did not answer.
func lookupBoth(t *testing.T, s *Server, key string) (fast, locked []byte, answered bool) {
	t.Helper()
	slow := httptest.NewRecorder()
	var p *Profile
	if err := s.lookupProfile(key, func(got *Profile, _ int32) { p = got }); err != nil {
		t.Fatalf("locked lookup of %s: %v", key, err)
	}
	writeJSON(slow, http.StatusOK, p)
	rec := httptest.NewRecorder()
	ok, err := s.fastProfile(rec, key)
	if err != nil {
		t.Fatalf("view lookup of %s: %v", key, err)
	}
	return rec.Body.Bytes(), slow.Body.Bytes(), ok
}

// keysOf lists every key a profile answers to.
func keysOf(p map[string]any) []string {
	keys := append(keyring(p), p["customer_id"].(string))
	for _, r := range p["records"].([]any) {
		keys = append(keys, r.(string))
	}
	for _, id := range p["previous_ids"].([]any) {
		keys = append(keys, id.(string))
	}
	return keys
}

// The published view answers every key of every profile, byte for byte as
// the locked path does: identifiers, records, current and previous
// customer IDs; batch profiles, live ones, merged ones; before and after a
// batch run replaces the state, and after an override added live.
func TestLookupRenderMatches(t *testing.T) {
	dir := copyShop(t)
	withOverrides(t, dir, "", "")
	ts := startServer(t, dir)
	ts.run()
	ts.send("/v1/batch", `{"batch":[
{"type":"page","anonymousId":"Unknown1","name":"Menu","messageId":"r1","timestamp":"2026-01-02T03:04:05.123Z"},
{"type":"identify","anonymousId":"Unknown1","userId":"Auth234","traits":{"loyaltyId":"707"},"messageId":"r2"},
{"type":"page","anonymousId":"Lone","name":"Home <&>","messageId":"r3","timestamp":"2025-12-31T23:59:59Z"},
{"type":"identify","anonymousId":"A1","userId":"merge-a","messageId":"r4"},
{"type":"page","anonymousId":"A2","name":"Cart","messageId":"r5"},
{"type":"alias","anonymousId":"A2","previousId":"A1","messageId":"r6"},
{"type":"track","anonymousId":"A1","event":"Bought","messageId":"r7"}]}`)
	seeds := []string{"anonymous_id:Unknown1", "loyalty_id:707", "anonymous_id:Lone", "anonymous_id:A1", "user_id:merge-a", "collected%2FA2"}
	check := func(when string) {
		t.Helper()
		n := 0
		for _, seed := range seeds {
			for _, key := range keysOf(ts.profile(seed)) {
				fast, slow, ok := lookupBoth(t, ts.srv, key)
				if !ok {
					t.Fatalf("%s: the view did not answer %s", when, key)
				}
				if !bytes.Equal(fast, slow) {
					t.Fatalf("%s: %s\nview:   %s\nlocked: %s", when, key, fast, slow)
				}
				n++
			}
		}
		if len(ts.profile("anonymous_id:A1")["previous_ids"].([]any)) == 0 {
			t.Fatalf("%s: the alias left no previous ID to compare", when)
		}
		if n < 20 {
			t.Fatalf("%s: only %d keys compared", when, n)
		}
	}
	check("live")
	ts.run()
	check("after a batch run")
	if _, err := ts.srv.AddOverride(t.Context(), pipeline.AlwaysMatch, "collected/Lone", "collected/Unknown1"); err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, "collected%2FLone")
	check("after an always-match override")
	if recs := ts.profile("anonymous_id:Lone")["records"].([]any); len(recs) < 2 {
		t.Fatalf("the override did not merge Lone: %v", recs)
	}
	// A key the view does not hold goes to the locked path, which says so.
	if ok, _ := ts.srv.fastProfile(httptest.NewRecorder(), "anonymous_id:nobody"); ok {
		t.Fatal("the view answered an unknown key")
	}
	if code, _ := ts.do("GET", "/v1/profiles/anonymous_id:nobody", "bearer:"+readToken, ""); code != 404 {
		t.Fatalf("unknown key: %d", code)
	}
}

// A lookup takes no lock that a writer holds: with the server's write
// lock and the activity lock held (a writer descheduled mid-event), a
// lookup of a known profile still answers.
func TestLookupTakesNoWriterLock(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.send("/v1/identify", `{"anonymousId":"held","userId":"u-held","messageId":"h1"}`)
	ts.srv.mu.Lock()
	ts.srv.st.actsMu.Lock()
	done := make(chan []byte)
	go func() {
		rec := httptest.NewRecorder()
		ts.srv.fastProfile(rec, "anonymous_id:held")
		done <- rec.Body.Bytes()
	}()
	select {
	case body := <-done:
		if !strings.Contains(string(body), `"value":"u-held"`) {
			t.Errorf("lookup under a held write lock: %s", body)
		}
	case <-time.After(10 * time.Second):
		t.Error("a lookup waited for the write lock")
	}
	ts.srv.st.actsMu.Unlock()
	ts.srv.mu.Unlock()
}

// Lookups run while events merge profiles (new visitors, identifies that
// join a visitor seen before to a user, repeat visits): every answer is
// whole JSON, and once an identify is acknowledged every lookup of its
// visitor shows the user. Run with -race, it checks the publishing too.
func TestLookupsWhileMerging(t *testing.T) {
	ts := startServer(t, copyShop(t))
	const writers, rounds = 3, 40
	var acked sync.Map // visitor → user, once acknowledged
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				id := fmt.Sprintf("%d-%d", w, r)
				// The visitor browses first, then signs in as a user another
				// device of theirs signed in as: two clusters merge.
				body := fmt.Sprintf(`{"batch":[
{"type":"page","anonymousId":"v-%[1]s","name":"Home","messageId":"p-%[1]s"},
{"type":"identify","anonymousId":"d-%[1]s","userId":"u-%[1]s","messageId":"d-%[1]s"},
{"type":"identify","anonymousId":"v-%[1]s","userId":"u-%[1]s","messageId":"i-%[1]s"},
{"type":"track","anonymousId":"v-%[1]s","event":"Viewed","messageId":"t-%[1]s"}]}`, id)
				if code := post(ts, body); code != 200 {
					fail(fmt.Errorf("batch %s: %d", id, code))
					return
				}
				acked.Store("v-"+id, "u-"+id)
			}
		}()
	}
	stop := make(chan struct{})
	readers := sweep(stop, &acked, func(k, v any) bool {
		rec := httptest.NewRecorder()
		ok, err := ts.srv.fastProfile(rec, "anonymous_id:"+k.(string))
		if err != nil || !ok {
			fail(fmt.Errorf("lookup of acknowledged %s: answered %v, %v", k, ok, err))
			return false
		}
		var p Profile
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			fail(fmt.Errorf("lookup of %s: %v: %s", k, err, rec.Body.Bytes()))
			return false
		}
		user, devices := false, 0
		for _, e := range p.Keyring {
			user = user || e.Type == "user_id" && e.Value == v.(string)
		}
		for _, r := range p.Records {
			if strings.HasPrefix(r, "collected/") {
				devices++
			}
		}
		if !user || devices != 2 || p.LastSeen == nil {
			fail(fmt.Errorf("lookup of acknowledged %s: %s", k, rec.Body.Bytes()))
			return false
		}
		return true
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// sweep runs two readers that go over acked with each, again and again,
// until stop closes.
func sweep(stop <-chan struct{}, acked *sync.Map, each func(k, v any) bool) *sync.WaitGroup {
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				acked.Range(each)
			}
		}()
	}
	return &readers
}

// A repeat visit republishes only the times: the new activity widens
// them, and once the oldest activities are dropped (100 kept per record)
// first_seen moves on, as the locked path computes it.
func TestLookupTimesAfterRepeatVisits(t *testing.T) {
	ts := startServer(t, copyShop(t))
	ts.send("/v1/identify", `{"anonymousId":"rep","userId":"u-rep","messageId":"rep0","timestamp":"2026-01-01T00:00:00Z"}`)
	var msgs []string
	for i := 1; i <= activitiesPerRecord+5; i++ {
		// Out of order: every third event is older than the one before.
		day := 10 + i
		if i%3 == 0 {
			day = i / 3
		}
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day).Format(time.RFC3339)
		msgs = append(msgs, fmt.Sprintf(`{"type":"track","anonymousId":"rep","userId":"u-rep","event":"E","messageId":"rep%d","timestamp":"%s"}`, i, at))
		if i%10 == 0 || i == activitiesPerRecord+5 {
			ts.send("/v1/batch", `{"batch":[`+strings.Join(msgs, ",")+`]}`)
			msgs = msgs[:0]
			fast, slow, ok := lookupBoth(t, ts.srv, "anonymous_id:rep")
			if !ok || !bytes.Equal(fast, slow) {
				t.Fatalf("after %d events (answered %v):\nview:   %s\nlocked: %s", i, ok, fast, slow)
			}
		}
	}
	if p := ts.profile("anonymous_id:rep"); p["first_seen"] == "2026-01-01T00:00:00Z" {
		t.Fatalf("first_seen kept a dropped activity's time: %v", p)
	}
}

// Blocks hand out distinct zeroed values, across block boundaries, and
// find each again by its number.
func TestBlocksAlloc(t *testing.T) {
	var b blocks[cell]
	got := map[*cell]bool{}
	for i := range int32(2*blockLen + 3) {
		c := b.alloc()
		if c.v.Load() != nil || got[c] {
			t.Fatal("a value handed out twice, or not zeroed")
		}
		c.v.Store(&view{})
		got[c] = true
		if b.at(i) != c {
			t.Fatalf("at(%d) is not the value alloc handed out", i)
		}
	}
}
