package server

import (
	"errors"
	"net/http"
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
		body, err := collect.ReadBody(r.Body, r.Header.Get("Content-Encoding"), max)
		if err != nil {
			return err
		}
		now := s.opt.Now()
		p, err := collect.Parse(body, kind, now)
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

// ingest stores new events durably, then applies them to the live graph.
// De-duplication reserves each messageId before the write, so two
// concurrent retries of one message store it once; a failed write
// releases the reservations.
func (s *Server) ingest(r *http.Request, events []*collect.Event) error {
	fresh := events[:0:0]
	s.mu.Lock()
	for _, ev := range events {
		if s.dedup.reserve(ev.MessageID) {
			fresh = append(fresh, ev)
		}
	}
	s.mu.Unlock()
	s.metrics.duplicates.Add(int64(len(events) - len(fresh)))
	if len(fresh) == 0 {
		return nil
	}
	records := make([][]byte, len(fresh))
	for i, ev := range fresh {
		records[i] = ev.Stored
	}
	start := time.Now()
	_, err := s.events.Append(r.Context(), records)
	s.metrics.commit.observe(time.Since(start))
	if err != nil {
		s.mu.Lock()
		for _, ev := range fresh {
			s.dedup.release(ev.MessageID)
		}
		s.mu.Unlock()
		if errors.Is(err, eventlog.ErrOverloaded) {
			return errOverloaded
		}
		return knit.Wrap(knit.EINTERNAL, err, "storing events")
	}
	s.metrics.stored.Add(int64(len(fresh)))
	s.mu.Lock()
	var made, refused int
	for _, ev := range fresh {
		m, f := s.st.apply(ev)
		made += m
		refused += f
	}
	s.mu.Unlock()
	s.metrics.linksMade.Add(int64(made))
	s.metrics.linksRefused.Add(int64(refused))
	return nil
}

// dedupe remembers the latest messageIds, in a ring: the window is
// bounded in memory, and documented (docs/serve.md).
type dedupe struct {
	seen   map[string]struct{}
	ring   []string
	next   int
	window int
}

func newDedupe(window int) *dedupe {
	return &dedupe{seen: make(map[string]struct{}, min(window, 1<<20)), window: window}
}

func (d *dedupe) add(id string) { d.reserve(id) }

// reserve records id and reports whether it was new; beyond the window
// the oldest id is forgotten.
func (d *dedupe) reserve(id string) bool {
	if _, ok := d.seen[id]; ok {
		return false
	}
	if len(d.ring) < d.window {
		d.ring = append(d.ring, id)
	} else {
		delete(d.seen, d.ring[d.next])
		d.ring[d.next] = id
		d.next = (d.next + 1) % d.window
	}
	d.seen[id] = struct{}{}
	return true
}

// release forgets an id whose write failed, so a retry is stored (its
// ring slot ages out harmlessly).
func (d *dedupe) release(id string) { delete(d.seen, id) }
