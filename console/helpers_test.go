package console

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/server"
)

// Test helpers shared by every page's tests: a real project (the coffee
// example run by the real pipeline into a real DuckDB file), a real
// knit serve with the console mounted, and a browser-like client with a
// cookie jar.

const (
	readToken  = "console-read-token"
	adminToken = "console-admin-token"
)

// coffeeNow is the pinned clock: 2023-02-01, after the July 2022 events.
var coffeeNow = time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC)

// hostileName is a loyalty member's first name that is markup; pages
// must show it as text.
const hostileName = `<script>alert("x")</script>`

type fixture struct {
	t    *testing.T
	dir  string
	srv  *server.Server
	con  *Console
	http *front
}

// front is the server's production HTTP front (server.NewHTTP) on a
// loopback port, as knit serve runs it.
type front struct {
	URL string
	h   *server.HTTP
}

func startFront(t *testing.T, srv *server.Server) *front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := srv.NewHTTP()
	go h.Serve(ln)
	return &front{URL: "http://" + ln.Addr().String(), h: h}
}

// Close stops the front after the requests in flight.
func (f *front) Close() { f.h.Shutdown(context.Background()) }

// copyCoffee copies examples/coffee and changes it so the console has
// every kind of profile to show: Unknown1 signs in as Jane (loyalty 707)
// after browsing anonymously, web visitors get profiles of their own
// (Unkonwn5 stays unknown), and one member's name and city are markup.
// Jane opens her web shop account (A-1001) after joining the loyalty
// programme, at 10:15 instead of three days before, so she becomes known
// at her loyalty sign-up (10:05) and her 10:00 product view happened
// while she was unknown.
func copyCoffee(t *testing.T) string {
	t.Helper()
	dir := testproject.Copy(t, filepath.Join("..", "examples", "coffee"))
	testproject.CoffeeSignIn(t, dir)
	testproject.Edit(t, dir, "data/ecommerce.csv", "Jane,Doe,,2022-07-20 18:00:00", "Jane,Doe,,2022-07-23 10:15:00")
	testproject.Append(t, dir, "data/loyalty.csv", `712,"`+strings.ReplaceAll(hostileName, `"`, `""`)+`",Evil,eve@example.com,503-555-0199,<img src=x onerror=alert(2)>,2022-07-02 08:00:00`+"\n")
	return dir
}

// newFixture runs the pipeline on a fresh copy of the coffee project
// (after prepare edits it, when given) and serves it with the console.
func newFixture(t *testing.T, prepare ...func(dir string)) *fixture {
	t.Helper()
	return startFixture(t, true, prepare...)
}

// newUnrunFixture serves a copy of the coffee project that has never run.
func newUnrunFixture(t *testing.T) *fixture {
	t.Helper()
	return startFixture(t, false)
}

func startFixture(t *testing.T, run bool, prepare ...func(dir string)) *fixture {
	t.Helper()
	dir := copyCoffee(t)
	for _, p := range prepare {
		p(dir)
	}
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := duckdb.Open(filepath.Join(dir, proj.Config.Store))
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return coffeeNow }
	if run {
		if _, err := pipeline.Run(context.Background(), proj, eng, pipeline.Options{Now: now}); err != nil {
			eng.Close()
			t.Fatal(err)
		}
	}
	srv, err := server.New(context.Background(), server.Options{Project: proj, Engine: eng, Now: now, Logger: slog.New(slog.DiscardHandler),
		ReadTokens: map[string]string{"R": readToken}, AdminTokens: map[string]string{"A": adminToken}})
	if err != nil {
		eng.Close()
		t.Fatal(err)
	}
	con, err := NewForServer(srv, map[string]string{"R": readToken}, map[string]string{"A": adminToken})
	if err != nil {
		t.Fatal(err)
	}
	con.Mount(srv.Mux())
	f := &fixture{t: t, dir: dir, srv: srv, con: con, http: startFront(t, srv)}
	t.Cleanup(func() {
		f.http.Close()
		// A run started by a test finishes before the engine closes.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if st := srv.LastRun(); st == nil || st.Status != "running" {
				break
			}
		}
		srv.Close()
		eng.Close()
	})
	return f
}

// client is a browser: it keeps cookies and does not follow redirects,
// so tests see them.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: f.t, base: f.http.URL, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signedIn returns a client with a session for token.
func (f *fixture) signedIn(token string) *client {
	f.t.Helper()
	c := f.client()
	resp, _ := c.signIn(token)
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("sign-in with a valid token: status %d", resp.StatusCode)
	}
	return c
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

// post sends a form as a browser would (same origin).
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// page GETs a page and fails the test unless it answers 200.
func (c *client) page(path string) string {
	c.t.Helper()
	resp, body := c.get(path)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: status %d\n%s", path, resp.StatusCode, body)
	}
	return body
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form of a page.
func (c *client) csrf(body string) string {
	c.t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF field in the page:\n%s", body)
	}
	return m[1]
}

// signIn loads the sign-in form and submits token with its CSRF token.
func (c *client) signIn(token string) (*http.Response, string) {
	c.t.Helper()
	body := c.page("/console/signin")
	return c.post("/console/signin", url.Values{"csrf": {c.csrf(body)}, "token": {token}})
}

// mustContain fails unless body holds every string.
func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}
