package server

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/pipeline"
)

// CollectedFile is where the server writes the collected events, one
// message per line, for the batch source that reads them (serve.source).
const CollectedFile = "events/collected.ndjson"

// RunStatus is the state of the last batch run started by the server.
type RunStatus struct {
	Status   string           `json:"status"` // running, succeeded, failed
	Started  time.Time        `json:"started"`
	Finished *time.Time       `json:"finished,omitempty"`
	Error    string           `json:"error,omitempty"`
	Report   *pipeline.Report `json:"report,omitempty"`
	// Reapplied counts the events that arrived during the run and were
	// applied again on top of its result.
	Reapplied int `json:"reapplied_events"`
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request) error {
	done, st, err := s.startBackground(r.Context())
	if err != nil {
		return err
	}
	if r.URL.Query().Get("wait") == "true" {
		<-done
		return writeJSON(w, http.StatusOK, s.lastRun.Load())
	}
	return writeJSON(w, http.StatusAccepted, st)
}

func (s *Server) lastRunStatus(w http.ResponseWriter, r *http.Request) error {
	st := s.lastRun.Load()
	if st == nil {
		return knit.Errorf(knit.ENOTFOUND, "no batch run since the server started: POST /v1/admin/runs")
	}
	return writeJSON(w, http.StatusOK, st)
}

// Run runs the batch pipeline and swaps its result in: it writes the
// collected events for the batch source, runs knit run on the server's
// engine, builds a new live state from the result with every collected
// event applied again (events the run already holds change nothing), and
// swaps it in under the lock after applying the events that arrived in
// between. Customer IDs issued live that the run did not keep resolve to
// the run's IDs.
func (s *Server) Run(ctx context.Context) *RunStatus {
	st := &RunStatus{Status: "running", Started: s.opt.Now().UTC()}
	fail := func(err error) *RunStatus {
		now := s.opt.Now().UTC()
		st.Status, st.Error, st.Finished = "failed", err.Error(), &now
		s.log.Error("batch run failed", "error", err)
		s.metrics.runs.Add(1)
		return st
	}
	upto := s.events.Len()
	if err := s.writeCollected(upto); err != nil {
		return fail(err)
	}
	if err := s.mirrorCollected(ctx, upto); err != nil {
		return fail(err)
	}
	rep, err := pipeline.Run(ctx, s.proj, s.eng, pipeline.Options{Now: s.opt.Now, Tables: s.opt.Tables})
	st.Report = rep
	if err != nil {
		return fail(err)
	}
	seen, profiles, err := s.reload(ctx, rep.RunID)
	if err != nil {
		return fail(err)
	}
	st.Reapplied = int(seen - min(seen, upto))
	now := s.opt.Now().UTC()
	st.Status, st.Finished = "succeeded", &now
	s.metrics.runs.Add(1)
	s.log.Info("batch run swapped in", "run", rep.RunID, "profiles", profiles, "events_after_start", st.Reapplied)
	return st
}

// reload builds a new live state from the last batch result (run runID)
// with every logged event applied again, and swaps it in under the lock
// after applying the events that arrived in between. It returns how many
// events the new state holds and its batch profiles.
func (s *Server) reload(ctx context.Context, runID int64) (seen uint64, profiles int, err error) {
	next, err := s.buildState(ctx)
	if err != nil {
		return 0, 0, err
	}
	apply := func(seq uint64, p []byte) error {
		if ev, err := collect.Decode(p); err == nil {
			next.applyEvent(ev, seq)
		}
		seen = seq + 1
		return nil
	}
	if err := s.events.Read(0, apply); err != nil {
		return 0, 0, err
	}
	// The index is built before the lock; what follows publishes itself.
	next.publishAll()
	s.mu.Lock()
	// Events stored while the new state was built: there are few, and
	// applying them under the lock makes the swap atomic for readers.
	err = s.events.Read(seen, apply)
	if err == nil {
		next.from = seen // ingests still applying older events skip them
		next.carryIDs(s.st)
		next.carryOverrides(s.st)
		next.flush()
		s.st = next
		s.cur.Store(next)
		s.noteLoaded(runID)
	}
	s.mu.Unlock()
	return seen, len(next.batch), err
}

// carryIDs keeps customer IDs that the old state issued resolving: an ID
// the new state does not hold resolves to the customer now holding the
// node it was on.
func (next *state) carryIDs(old *state) {
	for id, n := range old.nodeOf {
		if _, ok := next.nodeOf[id]; ok {
			continue
		}
		if _, ok := next.prevIDs[id]; ok {
			continue
		}
		node := old.live.Node(n)
		var m int32
		var ok bool
		if node.Record {
			m, ok = next.live.LookupRecord(node.Value)
		} else {
			m, ok = next.live.LookupIdent(int(node.Type), node.Value)
		}
		if !ok {
			continue
		}
		into := next.customer(m)
		if into != id {
			next.prevIDs[id] = into
			next.merged[into] = append(next.merged[into], id)
			next.indexCustomer(id)
			next.touch(m) // its previous_ids changed
		}
	}
	for id, into := range old.prevIDs {
		if _, held := next.nodeOf[id]; !held && next.prevIDs[id] == "" {
			next.prevIDs[id] = into
			next.indexCustomer(id)
		}
	}
}

// writeCollected writes the first n collected events as NDJSON for the
// batch source, replacing the previous file atomically.
func (s *Server) writeCollected(n uint64) error {
	path := filepath.Join(s.proj.Dir, CollectedFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "writing %s", tmp)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = s.events.Read(0, func(seq uint64, p []byte) error {
		if seq >= n {
			return nil
		}
		w.Write(p)
		return w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return knit.Wrap(knit.EINTERNAL, err, "writing %s", path)
	}
	return os.Rename(tmp, path)
}

// Schedule runs the batch pipeline every interval until ctx ends.
func (s *Server) Schedule(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.running.CompareAndSwap(false, true) {
				s.lastRun.Store(s.Run(ctx))
				s.running.Store(false)
			}
		}
	}
}
