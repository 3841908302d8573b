package server

import (
	"sync"
	"time"
)

// rateLimits is a token bucket per key: rate tokens a second, bursts of
// the same size. A key over its rate gets 429 with Retry-After.
type rateLimits struct {
	mu      sync.Mutex
	rate    float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimits(perSecond int) *rateLimits {
	return &rateLimits{rate: float64(perSecond), buckets: map[string]*bucket{}}
}

func (l *rateLimits) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.rate, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.rate, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
