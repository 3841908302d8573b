package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/demo"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/lookup"
	"github.com/knit-cdp/knit/pipeline"
)

// copyProject copies a project folder (config and data, not its database)
// into a temporary folder the test may change.
func copyProject(t *testing.T, src string) string {
	return testproject.Copy(t, src)
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// generated writes the demo's small coffee-chain workload with this many
// customers into a new folder.
func generated(t *testing.T, customers int) string {
	t.Helper()
	dir := t.TempDir()
	opt, err := demo.Preset("small")
	if err != nil {
		t.Fatal(err)
	}
	opt.Customers = customers
	if _, err := demo.Generate(dir, opt); err != nil {
		t.Fatal(err)
	}
	return dir
}

func appendFile(t *testing.T, dir, name, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// editConfig rewrites knit.yaml with a string replacement that must apply.
func editConfig(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "knit.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("knit.yaml does not contain %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// project is an opened project: config and its DuckDB file.
type project struct {
	t    *testing.T
	proj *config.Project
	db   *duckdb.DB
}

func open(t *testing.T, dir string) *project {
	t.Helper()
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(filepath.Join(dir, "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &project{t: t, proj: proj, db: db}
}

// mustRun runs the pipeline once on a fresh load of the config.
func mustRun(t *testing.T, dir string) (*project, *pipeline.Report) {
	t.Helper()
	p := open(t, dir)
	rep, err := pipeline.Run(context.Background(), p.proj, p.db, pipeline.Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return p, rep
}

// close releases the database so the next run (or process) can open it.
func (p *project) close() { p.db.Close() }

// customer resolves a key to its customer ID, "" when it has no profile.
func (p *project) customer(key string) string {
	p.t.Helper()
	res, err := lookup.Resolve(context.Background(), p.db, p.proj, key)
	if err != nil {
		return ""
	}
	return res.CustomerID
}

func (p *project) profile(key string) *lookup.Profile {
	p.t.Helper()
	res, err := lookup.Resolve(context.Background(), p.db, p.proj, key)
	if err != nil {
		p.t.Fatalf("resolve %s: %v", key, err)
	}
	prof, err := lookup.Get(context.Background(), p.db, res)
	if err != nil {
		p.t.Fatal(err)
	}
	return prof
}

func (p *project) count(query string, args ...any) int {
	p.t.Helper()
	var n int
	if err := p.db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		p.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func hasIdent(p *lookup.Profile, key string) bool {
	for _, id := range p.Identifiers {
		if id.Type+":"+id.Value == key {
			return true
		}
	}
	return false
}

func hasRecord(p *lookup.Profile, key string) bool {
	for _, r := range p.Records {
		if r.Key == key {
			return true
		}
	}
	return false
}
