package pipeline_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/internal/parallel"
	"github.com/knit-cdp/knit/pipeline"
)

// tableContents returns every table of a project's database but runs (its
// timings differ) as sorted rows of text, by table name.
func (p *project) tableContents() map[string][]string {
	p.t.Helper()
	db := p.db.SQL()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_name <> 'runs' ORDER BY 1`)
	if err != nil {
		p.t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			p.t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	// DuckDB renders a whole row as text (the table's alias is the row as
	// a struct), so rows of any columns compare as strings.
	out := map[string][]string{}
	for _, name := range names {
		rows, err := db.Query(fmt.Sprintf(`SELECT CAST(t AS VARCHAR) AS row FROM %q t ORDER BY row`, name))
		if err != nil {
			p.t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				p.t.Fatal(err)
			}
			out[name] = append(out[name], row)
		}
		if err := rows.Err(); err != nil {
			p.t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// The stages between load and write split their loops and sorts across
// the cores (internal/parallel). Every table a run writes must be the
// same whether they run on one goroutine or on several, and across two
// parallel runs.
func TestParallelStagesGiveTheSameTables(t *testing.T) {
	defer func(n int) { parallel.MinItems = n }(parallel.MinItems)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	dir := generated(t, 400)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	runOnce := func(minItems, procs int) map[string][]string {
		parallel.MinItems = minItems
		runtime.GOMAXPROCS(procs)
		d := copyProject(t, dir)
		p := open(t, d)
		defer p.close()
		if _, err := pipeline.Run(context.Background(), p.proj, p.db, pipeline.Options{Now: func() time.Time { return now }}); err != nil {
			t.Fatalf("run in %s: %v", filepath.Base(d), err)
		}
		return p.tableContents()
	}
	want := runOnce(math.MaxInt, 1)
	if len(want["records"]) < 1000 || len(want["profiles"]) < 300 {
		t.Fatalf("%d records, %d profiles: too few to split", len(want["records"]), len(want["profiles"]))
	}
	for name, rows := range want {
		t.Logf("%s: %d rows", name, len(rows))
	}
	for _, procs := range []int{2, 3, 2} {
		got := runOnce(64, procs)
		for name, rows := range want {
			if strings.Join(got[name], "\n") != strings.Join(rows, "\n") {
				t.Errorf("%d workers: table %s differs from the sequential run's (%d rows, want %d)", procs, name, len(got[name]), len(rows))
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d workers: %d tables, want %d", procs, len(got), len(want))
		}
	}
}
