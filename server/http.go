package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/collect"
)

// HTTP is knit serve's HTTP/1.1 front. It runs fasthttp rather than
// net/http because of what a profile lookup costs on the two cores the
// server shares with the websites' backends (and, in the benchmark, with
// the load generator): net/http spends about twice the CPU per kept-alive
// request (a goroutine that watches each request's connection, read
// deadlines set and cleared, more scheduler wakeups), and the p99 of a
// lookup under ingestion follows the CPU the two processes leave free
// (docs/BENCHMARKS.md, issue 5).
//
// A profile lookup that the published index answers (view.go) is served
// here directly. Every other request, and any lookup this path declines,
// goes to the net/http handlers (Handler) through fasthttpadaptor, so each
// endpoint keeps one implementation and one error mapping; the direct
// path answers only what those handlers would answer byte for byte.
type HTTP struct {
	s    *Server
	fs   *fasthttp.Server
	slow fasthttp.RequestHandler
}

// maxRequestBody is the largest request body read. The collection
// handlers enforce the real limits (collect.MaxBatchBytes and
// MaxEventBytes) with a 400 in the API's form. This one is eight times
// larger so that the body of an oversize batch is still read and
// answered, on a connection that stays open: a body refused unread is
// answered too, but the connection is then closed with the body's rest
// unread, and the kernel resets it, so a client still writing may see
// the reset instead of the answer.
const maxRequestBody = 8 * collect.MaxBatchBytes

// maxRequestHeader bounds a request's line and header fields.
const maxRequestHeader = 32 << 10

// readTimeout bounds the time to send a request's header and body.
const readTimeout = 60 * time.Second

// NewHTTP returns the HTTP front of s; Serve it on a listener.
func (s *Server) NewHTTP() *HTTP {
	h := &HTTP{s: s}
	// The handlers get a context of their own, never cancelled: the
	// adaptor's is fasthttp's RequestCtx, which ends when the server shuts
	// down (cutting short the requests a graceful shutdown drains, such as
	// a batch waiting for its fsync) and is reused for the connection's
	// next request (a run started by a request outlives it).
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.Background())
		defer h.recoverHandler(r)
		s.mux.ServeHTTP(w, r)
	})
	h.slow = fasthttpadaptor.NewFastHTTPHandler(mux)
	h.fs = &fasthttp.Server{
		Handler:               h.handle,
		ErrorHandler:          h.requestError,
		Logger:                httpLogger{s.log},
		NoDefaultServerHeader: true,
		ReadTimeout:           readTimeout,
		IdleTimeout:           120 * time.Second,
		MaxRequestBodySize:    maxRequestBody,
		// The request line and header must fit (fasthttp's default is 4 KB;
		// browsers send long cookies and referrers). Larger: 431.
		ReadBufferSize:  maxRequestHeader,
		CloseOnShutdown: true,
		// Forms are read by the console's handlers, multipart never.
		DisablePreParseMultipartForm: true,
	}
	return h
}

// Serve answers requests on ln until Shutdown.
func (h *HTTP) Serve(ln net.Listener) error { return h.fs.Serve(ln) }

// Shutdown stops accepting connections and waits for the requests in
// flight to finish (their events are acknowledged only after fsync), or
// for ctx to end.
func (h *HTTP) Shutdown(ctx context.Context) error { return h.fs.ShutdownWithContext(ctx) }

func (h *HTTP) handle(ctx *fasthttp.RequestCtx) {
	defer func() {
		// fasthttp recovers nothing: a panic would end the process.
		if v := recover(); v != nil {
			h.s.log.Error("HTTP front panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			ctx.SetConnectionClose()
			ctx.Error("", http.StatusInternalServerError)
		}
	}()
	if h.lookup(ctx) {
		return
	}
	h.slow(ctx)
}

// recoverHandler ends a net/http handler that panicked as net/http would:
// the panic and its stack are logged and the connection is closed without
// an answer (fasthttpadaptor does so for http.ErrAbortHandler). The log
// names the route, never the path: paths hold profile keys.
func (h *HTTP) recoverHandler(r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v != http.ErrAbortHandler {
		h.s.log.Error("handler panicked", "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	}
	panic(http.ErrAbortHandler)
}

const (
	profilesPrefix = "/v1/profiles/"
	lookupRoute    = "GET " + profilesPrefix + "{key}"
)

var (
	bearerPrefix = []byte("Bearer ")
	jsonType     = []byte("application/json")
)

// lookup answers GET /v1/profiles/{key} from the published index, as
// Server.profile would, and reports whether it did. It declines, before
// changing anything, whatever the net/http handlers should answer: a key
// that is percent-encoded or followed by a sub-resource, a request with
// an Origin (CORS headers), a credential other than a bearer token that
// may read, and a key the index cannot answer (unknown, not yet given a
// customer ID: the locked path issues one).
func (h *HTTP) lookup(ctx *fasthttp.RequestCtx) bool {
	start := time.Now()
	if !ctx.IsGet() {
		return false
	}
	key, ok := bytes.CutPrefix(ctx.URI().PathOriginal(), []byte(profilesPrefix))
	if !ok || len(key) == 0 || bytes.IndexAny(key, "/%") >= 0 {
		return false
	}
	hdr := &ctx.Request.Header
	if len(hdr.Peek("Origin")) > 0 {
		return false
	}
	token, ok := bytes.CutPrefix(hdr.Peek("Authorization"), bearerPrefix)
	if !ok {
		return false
	}
	s := h.s
	c, ok := s.lookupCredential(string(bytes.TrimSpace(token)))
	if !ok || !permits(c.access, accessRead) {
		return false
	}
	bp := renderPool.Get().(*[]byte)
	defer renderPool.Put(bp)
	b, ok := s.publishedProfile((*bp)[:0], string(key))
	*bp = b
	if !ok || !s.limits.allow(c.name, s.opt.Now()) {
		return false // the handler answers, 429 included
	}
	ctx.SetContentTypeBytes(jsonType)
	ctx.SetBody(b)
	s.served(lookupRoute, http.StatusOK, time.Since(start))
	return true
}

// requestError answers a request that could not be read (before any
// handler), in the API's error form.
func (h *HTTP) requestError(ctx *fasthttp.RequestCtx, err error) {
	status, code, msg := http.StatusBadRequest, knit.EINVALID, "the request is not valid HTTP/1.1"
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		// As the collection handlers answer an oversize body (Segment: 400).
		msg = fmt.Sprintf("the body exceeds %d KB: send batches of at most %d KB (and %d events), single events of at most %d KB",
			maxRequestBody>>10, collect.MaxBatchBytes>>10, collect.MaxBatchEvents, collect.MaxEventBytes>>10)
	case errors.As(err, &small):
		status, code, msg = http.StatusRequestHeaderFieldsTooLarge, "too_large",
			fmt.Sprintf("the request line and header exceed %d KB: send fewer or shorter cookies and header fields", maxRequestHeader>>10)
	case errors.As(err, &netErr) && netErr.Timeout():
		status, code, msg = http.StatusRequestTimeout, "timeout",
			fmt.Sprintf("the request was not received within %s: send it whole, then wait for the answer", readTimeout)
	}
	body, _ := json.Marshal(map[string]any{"success": false, "code": code, "message": msg})
	ctx.SetStatusCode(status)
	ctx.SetContentTypeBytes(jsonType)
	ctx.SetBody(append(body, '\n'))
	h.s.metrics.observe("unreadable request", status, 0)
}

// httpLogger takes fasthttp's own messages (a connection that failed, a
// handler that panicked) into the structured log. Only the message's
// format is kept, never its arguments: they can quote a request line, and
// request lines hold profile keys.
type httpLogger struct{ log *slog.Logger }

func (l httpLogger) Printf(format string, _ ...any) {
	l.log.Warn("http", "message", format)
}
