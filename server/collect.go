package server

import (
	"bytes"
	"errors"
	"hash/maphash"
	"net/http"
	"sync"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/eventlog"
)

// collectHandler accepts one kind of message (or a batch). An answer of
// 200 means every new message of the request is fsynced in the event log
// and stitched into the live graph; messages whose messageId was seen
// before are acknowledged without being stored again.
func (s *Server) collectHandler(kind string) handlerFunc {
	max := int64(collect.MaxEventBytes)
	if kind == "batch" {
		max = collect.MaxBatchBytes
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		buf := bodyPool.Get().(*bytes.Buffer)
		defer bodyPool.Put(buf) // parsed events keep copies, not the body
		body, err := collect.ReadBodyInto(buf, r.Body, r.Header.Get("Content-Encoding"), max)
		if err != nil {
			return err
		}
		now := s.opt.Now()
		var p *collect.Payload
		s.low.run(func() { p, err = collect.Parse(body, kind, now) })
		if err != nil {
			return err
		}
		if _, ok := r.Context().Value(credKey{}).(credential); !ok {
			// No Basic auth: the browser library puts the key in the body.
			c, ok := s.lookupCredential(p.WriteKey)
			switch {
			case p.WriteKey == "":
				return errNoCredential
			case !ok:
				return errBadCredential
			case c.access != accessWrite:
				return errForbidden
			case !s.limits.allow(c.name, now):
				return errRateLimited
			}
		}
		if err := s.ingest(r, p.Events); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	}
}

// bodyPool holds the buffers request bodies are read into: growing a new
// one for every batch was a tenth of the bytes the server allocated under
// load, and every byte allocated brings the next collection nearer.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ingest stores new events durably, then applies them to the live graph.
// De-duplication reserves each messageId before the write, so two
// concurrent retries of one message store it once; a failed write
// releases the reservations. The live graph is locked once per event, for
// the graph step only: a lookup never waits behind a whole batch.
func (s *Server) ingest(r *http.Request, events []*collect.Event) error {
	fresh := events[:0:0]
	for _, ev := range events {
		if s.dedup.reserve(ev.MessageID) {
			fresh = append(fresh, ev)
		}
	}
	s.metrics.duplicates.Add(int64(len(events) - len(fresh)))
	if len(fresh) == 0 {
		return nil
	}
	records := make([][]byte, len(fresh))
	for i, ev := range fresh {
		records[i] = ev.Stored
	}
	start := time.Now()
	first, err := s.events.Append(r.Context(), records)
	s.metrics.commit.observe(time.Since(start))
	if err != nil {
		for _, ev := range fresh {
			s.dedup.release(ev.MessageID)
		}
		if errors.Is(err, eventlog.ErrOverloaded) {
			return errOverloaded
		}
		return knit.Wrap(knit.EINTERNAL, err, "storing events")
	}
	s.metrics.stored.Add(int64(len(fresh)))
	s.shared.enqueue(first, fresh)
	s.low.run(func() { s.stitch(fresh, first) })
	return nil
}

// stitch applies stored events to the live graph; the first has log
// position first, the others follow it.
func (s *Server) stitch(fresh []*collect.Event, first uint64) {
	s.mu.RLock()
	st := s.st // any state prepares alike: it reads only the configuration
	s.mu.RUnlock()
	var made, refused int
	p := &prepared{}
	for i, ev := range fresh {
		st.prepareInto(p, ev, first+uint64(i))
		s.mu.RLock()
		quick := s.st.applyQuick(p)
		s.mu.RUnlock()
		if quick {
			continue
		}
		s.mu.Lock()
		m, f := s.st.apply(p)
		s.mu.Unlock()
		made += m
		refused += f
	}
	s.metrics.linksMade.Add(int64(made))
	s.metrics.linksRefused.Add(int64(refused))
}

// dedupe remembers the latest messageIds, in a ring: the window is
// bounded in memory, and documented (docs/serve.md). It keeps 128-bit
// hashes, not the IDs: a fixed 16 bytes an ID, and nothing for the
// garbage collector to scan in millions of entries. The hash seeds are
// random per process (the window is rebuilt from the log at start); a
// collision between two different IDs has a chance of about n²/2¹²⁹.
type dedupe struct {
	mu     sync.Mutex
	seeds  [2]maphash.Seed
	seen   map[idHash]struct{}
	ring   []idHash
	next   int
	window int
}

type idHash [2]uint64

func newDedupe(window int) *dedupe {
	return &dedupe{seen: make(map[idHash]struct{}, min(window, 1<<20)), window: window,
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

func (d *dedupe) hash(id string) idHash {
	return idHash{maphash.String(d.seeds[0], id), maphash.String(d.seeds[1], id)}
}

func (d *dedupe) add(id string) { d.reserve(id) }

// reserve records id and reports whether it was new; beyond the window
// the oldest id is forgotten.
func (d *dedupe) reserve(id string) bool {
	h := d.hash(id)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[h]; ok {
		return false
	}
	if len(d.ring) < d.window {
		d.ring = append(d.ring, h)
	} else {
		delete(d.seen, d.ring[d.next])
		d.ring[d.next] = h
		d.next = (d.next + 1) % d.window
	}
	d.seen[h] = struct{}{}
	return true
}

// release forgets an id whose write failed, so a retry is stored (its
// ring slot ages out harmlessly).
func (d *dedupe) release(id string) {
	h := d.hash(id)
	d.mu.Lock()
	delete(d.seen, h)
	d.mu.Unlock()
}
