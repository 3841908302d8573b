// Command console measures the web console's server time on a project of
// about a million profiles: customer search (lookup.Search, called
// directly) and every console page over real HTTP through knit serve's
// handler with a signed-in session (the time inside the handler, measured
// by a wrapper around it). It prints, in milliseconds, the median and 95th
// percentile of each and the median CPU time of the process (both cores
// counted), which other jobs on the machine inflate much less than the
// wall time, as Markdown tables.
//
// The project is prepared once and kept: the demo preset unify-1m with web
// visitors included as unknown profiles (about 0.7M known and 0.4M unknown
// profiles), run by the pipeline in this process. Keep it under /tmp.
//
//	go run ./bench/console -dir /tmp/knit-console-1m -runs 20
//
// See docs/BENCHMARKS.md ("Web console at 1M profiles").
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/console"
	"github.com/knit-cdp/knit/demo"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/lookup"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/server"
)

func main() {
	dir := flag.String("dir", "/tmp/knit-console-1m", "project folder; generated and run when it has no results")
	runs := flag.Int("runs", 20, "measurements per query or page, after one warm-up")
	pages := flag.Bool("pages", true, "measure the console pages over HTTP as well as search")
	flag.Parse()
	ctx := context.Background()

	proj, eng := prepare(ctx, *dir)
	defer eng.Close()
	s := samples(ctx, eng)
	fmt.Printf("project %s: %d profiles (%d known, %d unknown), %d search terms\n\n",
		*dir, s.profiles, s.known, s.profiles-s.known, s.terms)

	fmt.Println("| search (lookup.Search, 50 hits) | total | median ms | p95 ms | CPU ms |\n|--|--:|--:|--:|--:|")
	for _, c := range searchCases(s) {
		var total int64
		d := measure(*runs, func() error {
			res, err := lookup.Search(ctx, eng, proj, c.q)
			if err == nil {
				total = res.Total
			}
			return err
		})
		fmt.Printf("| %s | %d | %s |\n", c.name, total, d)
	}
	if !*pages {
		return
	}
	fmt.Println()
	measurePages(ctx, proj, eng, s, *runs)
}

// prepare generates and runs the project when needed, and builds the
// search index when the results predate it.
func prepare(ctx context.Context, dir string) (*config.Project, engine.Engine) {
	if _, err := os.Stat(filepath.Join(dir, "knit.yaml")); err != nil {
		opt, err := demo.Preset("unify-1m")
		check(err)
		start := time.Now()
		st, err := demo.Generate(dir, opt)
		check(err)
		fmt.Printf("generated %s in %.0fs:\n%s\n", dir, time.Since(start).Seconds(), st)
		path := filepath.Join(dir, "knit.yaml")
		b, err := os.ReadFile(path)
		check(err)
		old := "include_all_records: [loyalty, ecommerce]"
		if !strings.Contains(string(b), old) {
			check(fmt.Errorf("%s: no %q to add web visitors to", path, old))
		}
		check(os.WriteFile(path, []byte(strings.Replace(string(b), old, "include_all_records: [loyalty, ecommerce, web]", 1)), 0o644))
	}
	proj, err := config.Load(dir)
	check(err)
	eng, err := duckdb.Open(filepath.Join(dir, proj.Config.Store))
	check(err)
	var only []string
	if ok, err := eng.TableExists(ctx, "profiles"); err != nil || !ok {
		only = nil // a full run
	} else if ok, err := eng.TableExists(ctx, "search_profiles"); err == nil && !ok {
		only = []string{"search"}
	} else {
		return proj, eng
	}
	start := time.Now()
	rep, err := pipeline.Run(ctx, proj, eng, pipeline.Options{Only: only})
	check(err)
	fmt.Printf("knit run (only %v) in %.0fs:", only, time.Since(start).Seconds())
	for _, st := range rep.Stages {
		fmt.Printf(" %s %.1fs", st.Name, st.Seconds)
	}
	fmt.Println()
	return proj, eng
}

// sample holds real keys of the project to search for and open.
type sample struct {
	profiles, known, terms                     int64
	rich, unknown, first, last, email, phone   string
	anonymous, segment, richName, unknownAnon  string
	typoFirst, typoEmail, phoneOtherFormat, id string
}

func samples(ctx context.Context, eng engine.Engine) *sample {
	s := &sample{}
	one := func(q string, args []any, dest ...any) {
		rows, err := eng.Query(ctx, q, args...)
		check(err)
		defer rows.Close()
		if !rows.Next() {
			check(fmt.Errorf("no row: %s", q))
		}
		check(rows.Scan(dest...))
	}
	one("SELECT count(*), count(*) FILTER (WHERE known) FROM search_profiles", nil, &s.profiles, &s.known)
	one("SELECT count(*) FROM search_terms", nil, &s.terms)
	// The customer with the most records, and one unknown visitor.
	one(`SELECT customer_id, name, email, phone FROM search_profiles WHERE email IS NOT NULL AND phone IS NOT NULL AND name IS NOT NULL
ORDER BY record_count DESC, customer_id LIMIT 1`, nil, &s.rich, &s.richName, &s.email, &s.phone)
	one(`SELECT s.customer_id, min(i.value) FROM search_profiles s JOIN identifiers i ON i.customer_id = s.customer_id
WHERE NOT s.known GROUP BY s.customer_id ORDER BY s.customer_id LIMIT 1`, nil, &s.unknown, &s.unknownAnon)
	var anon sql.NullString
	one(`SELECT min(value) FROM identifiers WHERE type = 'anonymous_id' AND customer_id = ?`, []any{s.rich}, &anon)
	s.anonymous = anon.String
	if s.anonymous == "" {
		s.anonymous = s.unknownAnon
	}
	one("SELECT segment FROM segment_members GROUP BY segment ORDER BY count(*) DESC, segment LIMIT 1", nil, &s.segment)
	words := strings.Fields(s.richName)
	s.first, s.last = words[0], words[len(words)-1]
	s.typoFirst = swap(strings.ToLower(s.first))
	at := strings.IndexByte(s.email, '@')
	s.typoEmail = s.email[:at+1] + swap(s.email[at+1:])
	// +15035550100 → (503) 555-0100
	if p := s.phone; len(p) == 12 && strings.HasPrefix(p, "+1") {
		s.phoneOtherFormat = "(" + p[2:5] + ") " + p[5:8] + "-" + p[8:]
	} else {
		s.phoneOtherFormat = p
	}
	s.id = s.rich
	return s
}

// swap exchanges the second and third letters: the commonest typo.
func swap(w string) string {
	if len(w) < 4 {
		return w
	}
	b := []byte(w)
	b[1], b[2] = b[2], b[1]
	return string(b)
}

type searchCase struct {
	name string
	q    lookup.SearchQuery
}

func searchCases(s *sample) []searchCase {
	return []searchCase{
		{"all customers, first page (newest first)", lookup.SearchQuery{}},
		{"all customers, page at offset 10,000", lookup.SearchQuery{Offset: 10_000}},
		{"unknown only, count and first page", lookup.SearchQuery{Known: "unknown"}},
		{"known only, sorted by name", lookup.SearchQuery{Known: "known", Sort: "name"}},
		{"segment " + s.segment + ", most records first", lookup.SearchQuery{Segment: s.segment, Sort: "-records"}},
		{"name, exact (" + s.last + ")", lookup.SearchQuery{Text: s.last}},
		{"name, exact, page at offset 1,000", lookup.SearchQuery{Text: s.last, Offset: 1000}},
		{"name, two words (" + s.richName + ")", lookup.SearchQuery{Text: s.richName}},
		{"name, prefix of 2 letters (" + s.first[:2] + ")", lookup.SearchQuery{Text: s.first[:2]}},
		{"name, one typo (" + s.typoFirst + ")", lookup.SearchQuery{Text: s.typoFirst}},
		{"email, exact", lookup.SearchQuery{Text: s.email}},
		{"email, one typo in the domain", lookup.SearchQuery{Text: s.typoEmail}},
		{"email, prefix (type:value)", lookup.SearchQuery{Text: "email:" + s.email[:strings.IndexByte(s.email, '@')]}},
		{"phone in another format", lookup.SearchQuery{Text: s.phoneOtherFormat}},
		{"anonymous ID", lookup.SearchQuery{Text: s.anonymous}},
		{"customer ID", lookup.SearchQuery{Text: s.id}},
		{"name within segment, known only", lookup.SearchQuery{Text: s.last, Segment: s.segment, Known: "known"}},
	}
}

// measure runs f once to warm up, then runs times, and returns the
// median and 95th percentile of the wall time and the median CPU time.
func measure(runs int, f func() error) timing {
	check(f())
	ds, cpus := make([]time.Duration, runs), make([]time.Duration, runs)
	for i := range ds {
		cpu, start := cpuTime(), time.Now()
		check(f())
		ds[i], cpus[i] = time.Since(start), cpuTime()-cpu
	}
	return newTiming(ds, cpus)
}

// timing is a median and 95th percentile of wall time, and the median CPU
// time the process spent (both cores counted): on a machine other jobs
// load, the wall time grows with the load and the CPU time much less.
type timing struct{ median, p95, cpu time.Duration }

func newTiming(ds, cpus []time.Duration) timing {
	slices.Sort(ds)
	slices.Sort(cpus)
	p95 := ds[min(len(ds)-1, (len(ds)*95+99)/100-1)]
	return timing{ds[len(ds)/2], p95, cpus[len(cpus)/2]}
}

func (t timing) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	return ms(t.median) + " | " + ms(t.p95) + " | " + ms(t.cpu)
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverTimes records how long the handler took for each request: the
// server time, without the client's side of the loopback connection.
type serverTimes struct {
	next http.Handler
	mu   sync.Mutex
	last time.Duration
	code int
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

func (t *serverTimes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: 200}
	start := time.Now()
	t.next.ServeHTTP(sw, r)
	d := time.Since(start)
	t.mu.Lock()
	t.last, t.code = d, sw.code
	t.mu.Unlock()
}

func measurePages(ctx context.Context, proj *config.Project, eng engine.Engine, s *sample, runs int) {
	const token = "bench-read-token"
	srv, err := server.New(ctx, server.Options{Project: proj, Engine: eng, Logger: slog.New(slog.DiscardHandler),
		ReadTokens: map[string]string{"R": token}, NoSync: true})
	check(err)
	defer srv.Close()
	con, err := console.NewForServer(srv, map[string]string{"R": token}, nil)
	check(err)
	con.Mount(srv.Mux())
	timed := &serverTimes{next: srv.Handler()}
	ts := httptest.NewServer(timed)
	defer ts.Close()

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) int {
		resp, err := hc.Get(ts.URL + path)
		check(err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Sign in as a browser does: the form's cookie, then the token.
	get("/console/signin")
	u, _ := url.Parse(ts.URL + "/console/")
	var csrf string
	for _, c := range jar.Cookies(u) {
		if c.Name == "knit_signin" {
			csrf = c.Value
		}
	}
	resp, err := hc.PostForm(ts.URL+"/console/signin", url.Values{"csrf": {csrf}, "token": {token}, "next": {"/console/"}})
	check(err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		check(fmt.Errorf("sign-in: status %d", resp.StatusCode))
	}

	q := url.QueryEscape
	paths := []struct{ name, path string }{
		{"Home", "/console/"},
		{"Customers, no search", "/console/customers"},
		{"Customers, name search", "/console/customers?q=" + q(s.richName)},
		{"Customers, email with a typo", "/console/customers?q=" + q(s.typoEmail)},
		{"Customers, unknown, offset 10,000", "/console/customers?known=unknown&offset=10000"},
		{"Customers, segment, sorted by name", "/console/customers?segment=" + q(s.segment) + "&sort=name"},
		{"Profile 360, most records", "/console/customers/" + s.rich},
		{"Profile 360, unknown visitor", "/console/customers/" + s.unknown},
		{"Why merged, most records", "/console/customers/" + s.rich + "/why"},
		{"Unify", "/console/unify"},
		{"Unify, rejected rows", "/console/unify/rejected"},
		{"Segments", "/console/segments"},
		{"Segment " + s.segment, "/console/segments/" + q(s.segment)},
		{"Runs", "/console/runs"},
	}
	fmt.Println("| console page (GET over HTTP, signed in) | status | median ms | p95 ms | CPU ms |\n|--|--:|--:|--:|--:|")
	for _, p := range paths {
		var code int
		ds, cpus := make([]time.Duration, 0, runs), make([]time.Duration, 0, runs)
		for i := 0; i <= runs; i++ {
			cpu := cpuTime()
			get(p.path)
			cpu = cpuTime() - cpu // the client's share is small next to the page's
			timed.mu.Lock()
			d, c := timed.last, timed.code
			timed.mu.Unlock()
			code = c
			if i > 0 { // the first request warms up
				ds, cpus = append(ds, d), append(cpus, cpu)
			}
		}
		fmt.Printf("| %s | %d | %s |\n", p.name, code, newTiming(ds, cpus))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/console:", err)
		os.Exit(1)
	}
}
