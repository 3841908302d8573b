package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so a benchmark counts
// the handler's own allocations.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkLookup measures GET /v1/profiles/{key} through the server's
// handler (authentication, rate limit, metrics and the lookup; not the
// HTTP connection), for a visitor stitched to a user: through the
// published view, and through the locked path it replaces.
func BenchmarkLookup(b *testing.B) {
	ts := startServer(b, copyShop(b))
	ts.srv.limits = newRateLimits(1 << 30)
	var msgs []string
	for i := range 2000 {
		msgs = append(msgs, fmt.Sprintf(`{"type":"identify","anonymousId":"v%d","userId":"u%d","messageId":"m%d"}`, i, i, i))
		if len(msgs) == 100 {
			post(ts, `{"batch":[`+strings.Join(msgs, ",")+`]}`)
			msgs = msgs[:0]
		}
	}
	h := ts.srv.Handler()
	req := func(i int) *http.Request {
		r := httptest.NewRequest("GET", fmt.Sprintf("/v1/profiles/anonymous_id:v%d", i%2000), nil)
		r.Header.Set("Authorization", "Bearer "+readToken)
		return r
	}
	reqs := make([]*http.Request, 2000)
	for i := range reqs {
		reqs[i] = req(i)
	}
	b.Run("view", func(b *testing.B) {
		w := &discard{h: http.Header{}}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			h.ServeHTTP(w, reqs[i%len(reqs)])
		}
	})
	b.Run("locked", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var p *Profile
			ts.srv.lookupProfile(reqs[i%len(reqs)].PathValue("key"), func(got *Profile, _ int32) { p = got })
			writeJSON(&discard{h: http.Header{}}, 200, p)
		}
	})
}
