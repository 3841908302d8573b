package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/config"
)

// BenchmarkApply measures the step that holds the server's write lock: one
// prepared event stitched into the live graph and its profile's view
// published (lookups do not wait for it; other writers do). Visitors repeat every 100,000 events and one event in
// ten is an identify that links a user_id, as in the load generator's mix.
func BenchmarkApply(b *testing.B) {
	proj, err := config.Load("testdata/shop")
	if err != nil {
		b.Fatal(err)
	}
	st, err := newState(proj)
	if err != nil {
		b.Fatal(err)
	}
	const n = 1 << 16
	prepared := make([]*prepared, n)
	for i := range n {
		body := fmt.Sprintf(`{"type":"track","anonymousId":"v%d","event":"Product Viewed","messageId":"m%d"}`, i%100000, i)
		if i%10 == 0 {
			body = fmt.Sprintf(`{"type":"identify","anonymousId":"v%d","userId":"u%d","messageId":"m%d"}`, i%100000, i%100000, i)
		}
		p, err := collect.Parse([]byte(body), typeOfBody(i), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		prepared[i] = st.prepare(p.Events[0], uint64(i))
	}
	st.publishAll() // as served: each event publishes the views it changes
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := prepared[i%n]
		p.seq = uint64(i)
		st.apply(p)
	}
}

func typeOfBody(i int) string {
	if i%10 == 0 {
		return "identify"
	}
	return "track"
}
