package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkCollectBatch measures POST /v1/batch through the server's
// handler (authentication, parsing, de-duplication, the durable append
// with its fsync, stitching): 100 track events spread over 100,000
// visitors, as the load generator's mixed mode sends them. Its
// allocations are the garbage ingestion leaves per batch.
func BenchmarkCollectBatch(b *testing.B) {
	ts := startServer(b, copyShop(b))
	ts.srv.limits = newRateLimits(1 << 30)
	h := ts.srv.Handler()
	w := &discard{h: http.Header{}}
	var seq int
	body := func() []byte {
		out := []byte(`{"batch":[`)
		for i := range 100 {
			seq++
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"type":"track","anonymousId":"v`...)
			out = strconv.AppendInt(out, int64(seq%100000), 10)
			out = append(out, `","event":"Product Viewed","messageId":"m`...)
			out = strconv.AppendInt(out, int64(seq), 10)
			out = append(out, `","properties":{"sku":"D-`...)
			out = strconv.AppendInt(out, int64(seq%97), 10)
			out = append(out, `","price":12.5}}`...)
		}
		return append(out, `]}`...)
	}
	for b.Loop() {
		b.StopTimer()
		req := httptest.NewRequest("POST", "/v1/batch", bytes.NewReader(body()))
		req.SetBasicAuth(writeKey, "")
		b.StartTimer()
		h.ServeHTTP(w, req)
	}
}
