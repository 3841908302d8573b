// Package server is knit serve: a collection API compatible with Segment's
// HTTP Tracking API, durable event storage (package eventlog), live identity
// stitching with the batch guards (identity.Live), the profile API, and
// batch runs that replace the live graph atomically. Handlers are small
// functions on net/http's ServeMux that return errors; one function maps
// knit's error codes to HTTP statuses. See docs/serve.md.
package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/eventlog"
	"github.com/knit-cdp/knit/source"
)

//go:embed openapi.json
var openAPI []byte

// Options configure a server.
type Options struct {
	Project *config.Project
	// Engine holds the project's results; the server owns it while it
	// runs (only one process may open a DuckDB file).
	Engine engine.Engine
	// WriteKeys, ReadTokens and AdminTokens map a key's name (the
	// environment variable it came from, for logs and metrics) to its
	// secret.
	WriteKeys, ReadTokens, AdminTokens map[string]string
	Logger                             *slog.Logger
	// Now is the clock (tests pin it); default time.Now.
	Now func() time.Time
	// NoSync skips fsync in the event store: throughput tests only.
	NoSync bool
	// DedupeWindow is how many recent messageIds are remembered for
	// de-duplication; default 5,000,000.
	DedupeWindow int
	// IngestThreads, when above zero, is how many OS threads at the lowest
	// CPU priority (nice 19) parse and stitch collected events, so that
	// profile lookups run first (lowprio.go; Linux only, see
	// LowPriorityThreads). Each holds a P while it runs: the caller adds
	// as many Ps (knit serve does). 0: the requests' goroutines do it.
	IngestThreads int
	// Tables reads table sources for batch runs when the engine does not
	// (a DuckDB store with sources on PostgreSQL: package postgres).
	Tables source.TableOpener
}

// Server is a running knit serve. Its Handler is safe for concurrent use.
type Server struct {
	opt     Options
	proj    *config.Project
	eng     engine.Engine
	log     *slog.Logger
	events  *eventlog.Log
	mux     *http.ServeMux
	metrics *metrics
	limits  *rateLimits
	low     *lowPrio // ingestion's CPU work at a lower priority (lowprio.go); nil: on the requests' goroutines

	mu sync.RWMutex // guards st (held per event, not per batch)
	st *state
	// cur is st for readers that take no lock: profile lookups read its
	// published index (view.go). Stored with st, under the write lock.
	cur   atomic.Pointer[state]
	dedup *dedupe // locks itself

	running atomic.Bool // a batch run is in progress
	lastRun atomic.Pointer[RunStatus]
	ready   atomic.Bool
	shared  *shared // nil unless the store is shared with other processes (shared.go)
}

// New opens the event store, loads the last batch result and replays the
// collected events into the live graph.
func New(ctx context.Context, opt Options) (*Server, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.DedupeWindow <= 0 {
		opt.DedupeWindow = 5_000_000
	}
	if err := checkKeys(opt.WriteKeys, opt.ReadTokens, opt.AdminTokens); err != nil {
		return nil, err
	}
	s := &Server{opt: opt, proj: opt.Project, eng: opt.Engine, log: opt.Logger, metrics: newMetrics(),
		limits: newRateLimits(opt.Project.Config.Serve.RateLimit), dedup: newDedupe(opt.DedupeWindow)}
	if err := s.openShared(ctx); err != nil {
		return nil, err
	}
	st, err := s.buildState(ctx)
	if err != nil {
		return nil, err
	}
	s.st = st
	var replayed int
	s.events, err = eventlog.Open(filepath.Join(s.proj.Dir, "events", "log"), eventlog.Options{NoSync: opt.NoSync}, func(seq uint64, p []byte) error {
		ev, err := collect.Decode(p)
		if err != nil {
			return nil // a record that is not an event is skipped, not fatal
		}
		s.dedup.add(ev.MessageID)
		st.applyEvent(ev, seq)
		replayed++
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.from = s.events.Len()
	st.publishAll()
	s.cur.Store(st)
	s.startShared()
	s.log.Info("knit serve ready", "events_replayed", replayed, "profiles", len(st.batch))
	if opt.IngestThreads > 0 {
		if s.low, err = newLowPrio(opt.IngestThreads, ingestNice); err != nil {
			s.log.Warn("ingestion runs at the process's priority", "reason", err.Error())
		}
	}
	s.routes()
	s.ready.Store(true)
	return s, nil
}

// buildState loads the last batch result into a new live state.
func (s *Server) buildState(ctx context.Context) (*state, error) {
	st, err := newState(s.proj)
	if err != nil {
		return nil, err
	}
	if s.eng != nil {
		if err := st.loadBatch(ctx, s.eng); err != nil {
			return nil, err
		}
	}
	problems, err := st.loadOverrides()
	for _, p := range problems {
		s.log.Warn("override not applied live", "problem", p)
	}
	return st, err
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Mux returns the ServeMux so other packages (the web console) can mount
// their handlers next to the API, under paths of their own.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Close stops accepting events and closes the event store. The caller
// shuts the HTTP server down first, so in-flight requests drain.
func (s *Server) Close() error {
	s.ready.Store(false)
	s.stopShared()
	s.low.close()
	return s.events.Close()
}

// access is what a credential may do.
type access int

const (
	accessNone access = iota
	accessWrite
	accessRead
	accessAdmin
)

// route is one endpoint; the OpenAPI test walks this table.
type route struct {
	method, path string
	need         access
	h            handlerFunc
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) table() []route {
	rs := []route{
		{"GET", "/health", accessNone, s.health},
		{"GET", "/ready", accessNone, s.readyz},
		{"GET", "/openapi.json", accessNone, s.openapi},
		{"GET", "/metrics", accessAdmin, s.metricsHandler},
		{"GET", "/v1/projects/{writeKey}/settings", accessNone, s.settings},
		{"GET", "/v1/profiles/{key}", accessRead, s.profile},
		{"GET", "/v1/profiles/{key}/activities", accessRead, s.activities},
		{"GET", "/v1/profiles/{key}/explain", accessRead, s.explain},
		{"POST", "/v1/admin/runs", accessAdmin, s.startRun},
		{"GET", "/v1/admin/runs/last", accessAdmin, s.lastRunStatus},
	}
	for _, kind := range append(collect.Types, "batch") {
		short := "/v1/" + kind[:1]
		if kind == "batch" {
			short = "/v1/b"
		}
		h := s.collectHandler(kind)
		rs = append(rs, route{"POST", "/v1/" + kind, accessWrite, h}, route{"POST", short, accessWrite, h})
	}
	return rs
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	for _, rt := range s.table() {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
		if rt.need == accessWrite {
			// Browsers send a CORS preflight before a POST with a body.
			s.mux.Handle("OPTIONS "+rt.path, s.wrap(route{"OPTIONS", rt.path, accessNone, s.preflight}))
		}
	}
}

// wrap adds what every endpoint has: CORS, authentication, rate limits,
// metrics, the structured access log and the error mapping.
func (s *Server) wrap(rt route) http.Handler {
	label := rt.method + " " + rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		s.cors(sw, r)
		err := s.authorize(r, rt.need)
		if err == nil {
			err = rt.h(sw, r)
		}
		if err != nil {
			s.writeError(sw, r, err)
		}
		s.served(label, sw.status, time.Since(start))
	})
}

// served counts an answered request and logs it at debug level: by its
// route pattern, never the path (paths hold profile keys). The log line's
// arguments are built only when it is written: this runs for every lookup.
func (s *Server) served(route string, status int, d time.Duration) {
	s.metrics.observe(route, status, d)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request", "route", route, "status", status, "duration_ms", float64(d.Microseconds())/1000)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// credential is who made a request, from HTTP Basic (Segment's write key
// as the user name, empty password), a bearer token, or the body's
// writeKey (checked by the collection handler).
type credential struct {
	name   string
	access access
}

type credKey struct{}

// errUnauthorized and friends are the answers every endpoint shares.
var (
	errNoCredential  = knit.Errorf(knit.EUNAUTHORIZED, "missing credentials: send a write key as the HTTP Basic user name, or a read token as Authorization: Bearer <token>")
	errBadCredential = knit.Errorf(knit.EUNAUTHORIZED, "the key or token is not valid")
	errForbidden     = &knit.Error{Code: "forbidden", Message: "this key may not use this endpoint: write keys send events, read tokens read profiles, admin tokens run batches"}
	errRateLimited   = &knit.Error{Code: "rate_limited", Message: "too many requests for this key: slow down and retry after the Retry-After seconds"}
	errOverloaded    = &knit.Error{Code: "overloaded", Message: "the server is storing events as fast as it can: retry after the Retry-After seconds"}
)

func (s *Server) authorize(r *http.Request, need access) error {
	if need == accessNone {
		return nil
	}
	secret := ""
	if user, _, ok := r.BasicAuth(); ok {
		secret = user
	} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		secret = strings.TrimSpace(tok)
	}
	if secret == "" {
		if need == accessWrite {
			return nil // the body may carry the writeKey: checked after parsing
		}
		return errNoCredential
	}
	c, ok := s.lookupCredential(secret)
	if !ok {
		return errBadCredential
	}
	if !permits(c.access, need) {
		return errForbidden
	}
	if !s.limits.allow(c.name, s.opt.Now()) {
		return errRateLimited
	}
	if need == accessWrite { // the collection handler asks; reads need not pay for a request copy
		*r = *r.WithContext(context.WithValue(r.Context(), credKey{}, c))
	}
	return nil
}

func permits(have, need access) bool {
	if have == accessWrite || need == accessWrite {
		return have == need // write keys only write; nothing else writes events
	}
	return have >= need
}

// lookupCredential compares the secret with every configured one in
// constant time, and does not stop at the first match, so timing says
// nothing about which keys exist.
func (s *Server) lookupCredential(secret string) (credential, bool) {
	var found credential
	ok := false
	var digest []byte // the secret's SHA-256, for hashed keys (keys.go)
	for _, set := range []struct {
		keys map[string]string
		a    access
	}{{s.opt.WriteKeys, accessWrite}, {s.opt.ReadTokens, accessRead}, {s.opt.AdminTokens, accessAdmin}} {
		for name, key := range set.keys {
			if keyMatches(secret, key, &digest) {
				found, ok = credential{name: name, access: set.a}, true
			}
		}
	}
	return found, ok
}

// writeError maps an error to its HTTP status, in one place.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, knit.ErrorCode(err)
	switch code {
	case knit.EINVALID:
		status = http.StatusBadRequest
	case knit.ENOTFOUND:
		status = http.StatusNotFound
	case knit.ECONFLICT:
		status = http.StatusConflict
	case knit.EUNAUTHORIZED:
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="knit"`)
	case "forbidden":
		status = http.StatusForbidden
	case "too_large":
		status = http.StatusRequestEntityTooLarge
	case "rate_limited", "overloaded":
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "1")
	}
	if errors.Is(err, context.Canceled) {
		status, code = 499, "canceled"
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.log.Error("internal error", "route", r.Method+" "+r.Pattern, "error", msg)
		msg = "internal error: see the server log"
	}
	writeJSON(w, status, map[string]any{"success": false, "code": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	for _, o := range s.proj.Config.Serve.CORSOrigins {
		if o == "*" || o == origin {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Vary", "Origin")
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Max-Age", "600")
			return
		}
	}
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if !s.ready.Load() {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting or stopping"})
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

// settings answers the request the browser library (analytics.js) makes
// at load for its write key: it points the library's Segment.io
// integration at this server.
func (s *Server) settings(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("writeKey")
	c, ok := s.lookupCredential(key)
	if !ok || c.access != accessWrite {
		return errBadCredential
	}
	host := r.Host + "/v1"
	return writeJSON(w, http.StatusOK, map[string]any{
		"integrations": map[string]any{"Segment.io": map[string]any{"apiKey": key, "apiHost": host, "protocol": schemeOf(r)}},
		"plan":         map[string]any{"track": map[string]any{"__default": map[string]any{"enabled": true}}},
		"edgeFunction": map[string]any{}, "analyticsNextEnabled": true,
	})
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
