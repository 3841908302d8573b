package server

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/engine"
)

// A store shared with other processes (PostgreSQL) lets knit serve run
// beside batch runs started elsewhere (knit run from cron, another
// machine). Two things then cross the process boundary, both through the
// project's schema (docs/postgres.md#knit-serve-on-postgresql):
//
//   - collected events go to other processes' runs: the server mirrors its
//     event log, in order, into the collected_events table, which the
//     collected source reads (table: collected_events, json: message);
//   - other processes' results come to the server: it polls the runs
//     table and, when a newer run has succeeded, rebuilds its live state
//     from the new results and swaps it in, as after its own runs.

// CollectedStore is implemented by stores whose collected_events table
// other processes read (package postgres).
type CollectedStore interface {
	// CollectedPosition returns how many records of the event log logID
	// the table holds (0 for a log it has never seen), creating the
	// tables if needed.
	CollectedPosition(ctx context.Context, logID string) (uint64, error)
	// AppendCollected stores messages read from the log's records
	// from..to-1 and moves the log's position to `to`, in one transaction:
	// a failure stores nothing, and a message whose messageId the table
	// holds is not stored again. It fails if the position is not from.
	AppendCollected(ctx context.Context, logID string, from, to uint64, messages [][]byte) error
}

// sharedPoll is how often the server mirrors new events and looks for
// runs finished elsewhere.
var sharedPoll = 500 * time.Millisecond

// maxPending bounds the events held in memory for the mirror; beyond it
// they are dropped and read back from the log.
const maxPending = 100_000

// shared is the server's side of a shared store.
type shared struct {
	store  CollectedStore
	eng    engine.Engine
	logID  string
	loaded atomic.Int64 // the run the live state was built from

	// mirror serialises mirroring and guards pos; pendingMu guards pending
	// alone, so an ingest hands over its records without waiting for the
	// mirror's database round trips.
	mirror    sync.Mutex
	pos       atomic.Uint64 // log records in the table
	pendingMu sync.Mutex
	pending   map[uint64][]byte // ingested records not yet mirrored, by sequence number
	lastErr   string            // the last error logged by the poller, to log a failure once

	stop chan struct{}
	done chan struct{}
}

// openShared prepares the shared store when the engine is one. It runs
// before the first state is built, so the run it records as loaded is at
// most the one that state holds (a run finishing in between is loaded
// again, never missed).
func (s *Server) openShared(ctx context.Context) error {
	store, ok := s.eng.(CollectedStore)
	if !ok {
		return nil
	}
	host, _ := os.Hostname()
	logID := host + ":" + filepath.Join(s.proj.Dir, "events", "log")
	pos, err := store.CollectedPosition(ctx, logID)
	if err != nil {
		return knit.Wrap(knit.ErrorCode(err), err, "collected events table")
	}
	sh := &shared{store: store, eng: s.eng, logID: logID, pending: map[uint64][]byte{},
		stop: make(chan struct{}), done: make(chan struct{})}
	sh.pos.Store(pos)
	run, err := lastSucceededRun(ctx, s.eng)
	if err != nil {
		return err
	}
	sh.loaded.Store(run)
	s.shared = sh
	return nil
}

// startShared mirrors the events logged before this start and then polls,
// until Close.
func (s *Server) startShared() {
	if s.shared == nil {
		return
	}
	go s.pollShared()
}

func (s *Server) stopShared() {
	if s.shared == nil {
		return
	}
	close(s.shared.stop)
	<-s.shared.done
	// What was acknowledged since the last poll goes out before the event
	// log closes; what cannot is mirrored at the next start.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.mirrorCollected(ctx, s.events.Len()); err != nil {
		s.log.Error("mirroring collected events at shutdown (the next start mirrors them)", "error", err)
	}
}

func (s *Server) pollShared() {
	sh := s.shared
	defer close(sh.done)
	t := time.NewTicker(sharedPoll)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sh.stop
		cancel()
	}()
	for {
		err := s.mirrorCollected(ctx, s.events.Len())
		if err != nil {
			err = fmt.Errorf("mirroring collected events (retried every poll): %w", err)
		} else if err = s.reloadIfNewer(ctx); err != nil {
			err = fmt.Errorf("loading a run finished elsewhere (retried every poll): %w", err)
		}
		s.logOnce(err, ctx)
		select {
		case <-sh.stop:
			return
		case <-t.C:
		}
	}
}

// logOnce logs a failure of the poller when it differs from the last,
// and the recovery, so a database that is down does not flood the log.
func (s *Server) logOnce(err error, ctx context.Context) {
	sh := s.shared
	msg := ""
	if err != nil && ctx.Err() == nil {
		msg = err.Error()
	}
	switch {
	case msg == sh.lastErr:
	case msg == "":
		s.log.Info("shared store reachable again")
	default:
		s.log.Error("shared store", "error", msg)
	}
	sh.lastErr = msg
}

// enqueue hands freshly logged records to the mirror, so it need not read
// them back from the log.
func (sh *shared) enqueue(first uint64, events []*collect.Event) {
	if sh == nil {
		return
	}
	sh.pendingMu.Lock()
	defer sh.pendingMu.Unlock()
	// pos moves under pendingMu, so a record is either skipped here or
	// deleted by the mirror after it is stored: none is left behind.
	pos := sh.pos.Load()
	if len(sh.pending)+len(events) > maxPending {
		return // read back from the log
	}
	for i, ev := range events {
		if seq := first + uint64(i); seq >= pos {
			sh.pending[seq] = ev.Stored
		}
	}
}

// mirrorBatch bounds one transaction of the mirror.
const mirrorBatch = 5000

// mirrorCollected copies the event log's records up to `upto` into the
// collected_events table, in order, in transactions that move the log's
// position with them: records the server has in memory go directly,
// others are read back from the log. A server's own run calls it before
// running, so its run reads every event logged before it started.
func (s *Server) mirrorCollected(ctx context.Context, upto uint64) error {
	sh := s.shared
	if sh == nil {
		return nil
	}
	sh.mirror.Lock()
	defer sh.mirror.Unlock()
	for sh.pos.Load() < upto {
		from := sh.pos.Load()
		to := min(upto, from+mirrorBatch)
		var msgs [][]byte
		complete := true
		sh.pendingMu.Lock()
		for seq := from; seq < to; seq++ {
			p, ok := sh.pending[seq]
			if !ok {
				complete = false
				break
			}
			msgs = append(msgs, p)
		}
		sh.pendingMu.Unlock()
		if !complete { // records ingested are events; the log is checked
			msgs = msgs[:0]
			err := s.events.Read(from, func(seq uint64, p []byte) error {
				if seq >= to {
					return nil
				}
				if _, err := collect.Decode(p); err == nil {
					msgs = append(msgs, append([]byte(nil), p...))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if err := sh.store.AppendCollected(ctx, sh.logID, from, to, msgs); err != nil {
			return err
		}
		sh.pendingMu.Lock()
		for seq := from; seq < to; seq++ {
			delete(sh.pending, seq)
		}
		sh.pos.Store(to)
		sh.pendingMu.Unlock()
	}
	return nil
}

// reloadIfNewer swaps in the results of a run another process finished
// since the live state was built. A run of this server reloads by itself.
func (s *Server) reloadIfNewer(ctx context.Context) error {
	if s.running.Load() {
		return nil
	}
	run, err := lastSucceededRun(ctx, s.eng)
	if err != nil || run <= s.shared.loaded.Load() {
		return err
	}
	seen, profiles, err := s.reload(ctx, run)
	if err != nil {
		return err
	}
	s.log.Info("run finished elsewhere swapped in", "run", run, "profiles", profiles, "events", seen)
	return nil
}

// noteLoaded records the run a new live state was built from.
func (s *Server) noteLoaded(run int64) {
	if s.shared != nil && run > s.shared.loaded.Load() {
		s.shared.loaded.Store(run)
	}
}

// lastSucceededRun is the newest run whose results were swapped in, 0
// before the first.
func lastSucceededRun(ctx context.Context, eng engine.Engine) (int64, error) {
	if ok, err := eng.TableExists(ctx, "runs"); err != nil || !ok {
		return 0, err
	}
	var id int64
	err := query(ctx, eng, `SELECT COALESCE(MAX(run_id), 0) FROM runs WHERE status = 'succeeded'`, func(r *sql.Rows) error {
		return r.Scan(&id)
	})
	return id, err
}
