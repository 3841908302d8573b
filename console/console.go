// Package console is knit's web console: server-rendered pages (html/template)
// on the results of the last run, mounted by knit serve under /console/.
// Pages work without JavaScript; the small embedded script only enhances
// them. Every asset is embedded in the binary: nothing is fetched from the
// internet. See docs/console.md.
//
// # Adding a page
//
// A page is one Go file with one handler and one template:
//
// First, console/things.go registers the route in init and implements it:
//
//	func init() {
//		register(Page{Pattern: "GET /console/things/{name}", Handle: (*Console).things})
//	}
//
//	func (c *Console) things(w http.ResponseWriter, r *http.Request) error {
//		data, err := c.readThings(r.Context(), r.PathValue("name")) // bounded, parameterised SQL
//		if err != nil {
//			return err // knit.ENOTFOUND → 404, knit.EINVALID → 400, ...: see statusOf
//		}
//		return c.render(w, r, "things.html", View{Title: "Things", Nav: "things", Data: data})
//	}
//
// Then console/templates/things.html defines the block "content", which the
// layout (templates/layout.html: landmarks, navigation, sign-out) wraps:
//
//	{{define "content"}}<h1>{{.Title}}</h1> ... {{.Data.Field}} ...{{end}}
//
// Every <form method="post"> must hold {{template "csrf" $}}: the console
// refuses a POST without the session's CSRF token.
//
// Page.Admin restricts a route to admin sessions (starting runs, writing
// overrides); every other route needs a read or admin session, except
// those with Page.Public (sign-in, static assets). A handler returns
// errors instead of writing them: Console.fail maps knit.ErrorCode to an
// HTTP status in one place and renders the error page. The Content
// Security Policy allows scripts and styles from /console/static/ only: no
// inline <script>, no style="" attributes (inline SVG with presentation
// attributes such as fill is fine).
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/server"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Runner starts batch runs and reports the last one; *server.Server is one.
type Runner interface {
	StartRun(ctx context.Context) (*server.RunStatus, error)
	LastRun() *server.RunStatus
}

// Options configure a console.
type Options struct {
	Project *config.Project
	Engine  engine.Engine
	// ReadTokens and AdminTokens map a token's name (its environment
	// variable) to its secret: the same tokens knit serve's API takes.
	// A read token signs in a read-only session, an admin token a session
	// that may also start runs and write overrides.
	ReadTokens, AdminTokens map[string]string
	Logger                  *slog.Logger
	// Now is the clock (tests pin it); default time.Now.
	Now func() time.Time
	// Runs starts runs; nil hides the button.
	Runs Runner
	// SessionTTL is how long a session lasts after sign-in; default 12h.
	SessionTTL time.Duration
}

// NewForServer is the console of a running knit serve: its project,
// engine, clock, logger and runs.
func NewForServer(srv *server.Server, readTokens, adminTokens map[string]string) (*Console, error) {
	return New(Options{Project: srv.Project(), Engine: srv.Engine(), ReadTokens: readTokens, AdminTokens: adminTokens,
		Logger: srv.Logger(), Now: srv.Now, Runs: srv})
}

// Console is the web console. Mount it on a ServeMux.
type Console struct {
	opt   Options
	proj  *config.Project
	eng   engine.Engine
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template // by template file name
	// perPage is the page size of lists (25; tests page with fewer).
	perPage int

	mu       sync.Mutex // guards sessions and failures
	sessions map[string]*session
	failures map[string]*failureWindow // sign-in failures by client address
}

// Page is one route of the console.
type Page struct {
	// Pattern is a net/http ServeMux pattern under /console/, with method.
	Pattern string
	Handle  func(c *Console, w http.ResponseWriter, r *http.Request) error
	// Admin restricts the route to admin sessions.
	Admin bool
	// Public serves the route without a session (sign-in, assets).
	Public bool
}

var registry []Page

// register adds a page; page files call it from init.
func register(p Page) { registry = append(registry, p) }

// New parses the templates and returns a console.
func New(opt Options) (*Console, error) {
	if opt.Project == nil || opt.Engine == nil {
		return nil, knit.Errorf(knit.EINVALID, "console: a project and an engine are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	c := &Console{opt: opt, proj: opt.Project, eng: opt.Engine, log: opt.Logger, now: opt.Now,
		pages: map[string]*template.Template{}, perPage: 25, sessions: map[string]*session{}, failures: map[string]*failureWindow{}}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseTemplates builds one template set per page: the layout plus the
// page's file, so every page can define "content" without clashing.
func (c *Console) parseTemplates() error {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "console: parsing the layout")
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return err
	}
	for _, path := range names {
		name := strings.TrimPrefix(path, "templates/")
		if name == "layout.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, path)
		if err != nil {
			return knit.Wrap(knit.EINTERNAL, err, "console: parsing %s", path)
		}
		c.pages[name] = t
	}
	return nil
}

// Mount registers every console route on mux.
func (c *Console) Mount(mux *http.ServeMux) {
	for _, p := range registry {
		mux.Handle(p.Pattern, c.wrap(p))
	}
	// Anything else under /console/ is the console's own 404 page.
	mux.Handle("/console/", c.wrap(Page{Pattern: "/console/", Handle: func(*Console, http.ResponseWriter, *http.Request) error {
		return knit.Errorf(knit.ENOTFOUND, "there is no such page")
	}}))
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
}

// Handler returns the console on a mux of its own (tests, or a server
// that mounts it under a prefix).
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	c.Mount(mux)
	return mux
}

// View is what every page template receives; the layout reads Title, Nav
// (the active navigation entry), Session and Refresh, the page reads Data.
type View struct {
	Title string
	Nav   string
	// Refresh reloads the page after that many seconds (a run in progress).
	Refresh int
	Data    any
	// Set by render.
	Session *Session
	Project string
}

// render executes a page template into a buffer, so a template error is a
// clean 500 instead of half a page, then writes it.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, v View) error {
	return c.renderStatus(w, r, http.StatusOK, name, v)
}

func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, v View) error {
	t, ok := c.pages[name]
	if !ok {
		return knit.Errorf(knit.EINTERNAL, "console: no template %s", name)
	}
	if s := sessionOf(r); s != nil {
		v.Session = s.view()
	}
	v.Project = filepath.Base(c.proj.Dir)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "console: rendering %s", name)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// wrap adds what every console route has: security headers, the session
// and role checks, CSRF on POST, the error page and the access log.
func (c *Console) wrap(p Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		securityHeaders(w.Header())
		err := c.guard(w, r, p)
		if err == nil {
			err = p.Handle(c, w, r)
		}
		code := ""
		if err != nil && !errors.Is(err, errHandled) {
			code = knit.ErrorCode(err)
			c.fail(w, r, err)
		}
		// The route pattern, never the path: paths hold customer IDs.
		c.log.Debug("console request", "route", p.Pattern, "error_code", code, "duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// errHandled says the guard already answered (a redirect to sign-in).
var errHandled = errors.New("handled")

// errForbidden is the answer to a read session asking for an admin route.
var errForbidden = &knit.Error{Code: "forbidden", Message: "this needs an admin session: sign in with an admin token"}

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// statusOf maps an error to its HTTP status, in one place.
func statusOf(err error) int {
	if errors.Is(err, context.Canceled) {
		return 499
	}
	switch knit.ErrorCode(err) {
	case knit.EINVALID:
		return http.StatusBadRequest
	case knit.ENOTFOUND:
		return http.StatusNotFound
	case knit.ECONFLICT:
		return http.StatusConflict
	case knit.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case "forbidden":
		return http.StatusForbidden
	case "too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limited":
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// fail renders the error page. Internal errors are logged and shown as a
// generic message: their text may hold SQL or paths.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		c.log.Error("console internal error", "route", r.Method+" "+r.Pattern, "error", msg)
		msg = "internal error: see the server log"
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	if rerr := c.renderStatus(w, r, status, "error.html", View{Title: http.StatusText(status), Data: errorView{Status: status, Message: msg}}); rerr != nil {
		c.log.Error("console error page", "error", rerr)
		http.Error(w, msg, status)
	}
}

type errorView struct {
	Status  int
	Message string
}
