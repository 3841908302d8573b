package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
)

// The accessors below let the web console (package console), mounted on
// Mux, read what the server owns without reaching into it: the project,
// the engine (only one process may open a DuckDB file, so the console
// must share the server's), the clock and the batch runs.

// Project returns the served project.
func (s *Server) Project() *config.Project { return s.proj }

// Engine returns the engine holding the project's results.
func (s *Server) Engine() engine.Engine { return s.eng }

// Logger returns the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Now returns the server's clock.
func (s *Server) Now() time.Time { return s.opt.Now() }

// StartRun starts a batch run in the background and returns its status
// (running); a run already in progress is a knit.ECONFLICT error. The run
// outlives ctx's cancellation but keeps its values.
func (s *Server) StartRun(ctx context.Context) (*RunStatus, error) {
	_, st, err := s.startBackground(ctx)
	return st, err
}

// startBackground starts a run unless one is in progress; done is closed
// when the run's status has been stored.
func (s *Server) startBackground(ctx context.Context) (done chan struct{}, st *RunStatus, err error) {
	if !s.running.CompareAndSwap(false, true) {
		return nil, nil, knit.Errorf(knit.ECONFLICT, "a batch run is already in progress: see GET /v1/admin/runs/last")
	}
	st = &RunStatus{Status: "running", Started: s.opt.Now().UTC()}
	s.lastRun.Store(st)
	done = make(chan struct{})
	go func() {
		defer close(done)
		defer s.running.Store(false)
		s.lastRun.Store(s.Run(context.WithoutCancel(ctx)))
	}()
	return done, st, nil
}

// LastRun returns the status of the last run the server started (nil
// before the first).
func (s *Server) LastRun() *RunStatus { return s.lastRun.Load() }
