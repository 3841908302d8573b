package postgres_test

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/postgres"
)

// processName gives a test's schema (or application name) a suffix of
// this process's own: engineers on one machine share the test server, and
// two runs of the suite must not drop each other's schemas or kill each
// other's sessions.
func processName(name string) string { return fmt.Sprintf("%s_%d", name, os.Getpid()) }

// openSchema opens a fresh schema for one test on the test server (the
// name with processName's suffix: DB.Schema says which) and drops it when
// the test ends.
func openSchema(t *testing.T, name string) *postgres.DB {
	t.Helper()
	name = processName(name)
	url := testURL(t)
	ctx := context.Background()
	dropSchema(t, url, name)
	db, err := postgres.Open(ctx, url, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		dropSchema(t, url, name)
	})
	return db
}

func dropSchema(t *testing.T, url, name string) {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, "public")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+db.Dialect().Quote(name)+" CASCADE"); err != nil {
		t.Fatal(err)
	}
}

// engines runs a project on DuckDB and on PostgreSQL side by side.
type engines struct {
	t    *testing.T
	duck *duckdb.DB
	pg   *postgres.DB
}

func newEngines(t *testing.T, schema string) *engines {
	t.Helper()
	duck, err := duckdb.Open(filepath.Join(t.TempDir(), "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { duck.Close() })
	return &engines{t: t, duck: duck, pg: openSchema(t, schema)}
}

// run runs the project on both engines with the same pinned clock.
func (e *engines) run(dir string, now time.Time, edit func(*config.Project)) {
	e.t.Helper()
	for _, eng := range []engine.Engine{e.duck, e.pg} {
		proj, err := config.Load(dir)
		if err != nil {
			e.t.Fatal(err)
		}
		if edit != nil {
			edit(proj)
		}
		if _, err := pipeline.Run(context.Background(), proj, eng, pipeline.Options{Now: func() time.Time { return now }}); err != nil {
			e.t.Fatalf("%s: run: %v", eng.Dialect().Name(), err)
		}
	}
}

// Tables whose contents depend on the run's wall clock or machine rather
// than on the data: the run log (durations) and the export log (file
// paths with the time of writing); and on the engine: the activities'
// fingerprint sums each engine's own row hashes.
var unrelated = map[string]bool{"runs": true, "export_log": true, "activities_state": true}

// compare checks that every result table holds the same rows on both
// engines: customer IDs, keyring (records, identifiers), unified fields
// and lineage, links with scores, activities, measures and segment
// members. Doubles are equal within 1e-9; all else exactly.
func (e *engines) compare() {
	e.t.Helper()
	ctx := context.Background()
	rows, err := e.pg.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, e.pg.Schema())
	if err != nil {
		e.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		if !unrelated[s] {
			tables = append(tables, s)
		}
	}
	rows.Close()
	for _, want := range []string{"records", "identifiers", "customer_ids", "profiles", "links", "customer_measures", "segment_members"} {
		if !slices.Contains(tables, want) {
			e.t.Fatalf("PostgreSQL has no %s table; tables: %v", want, tables)
		}
	}
	for _, table := range tables {
		duckRows := e.dump(e.duck, table)
		pgRows := e.dump(e.pg, table)
		if len(duckRows) != len(pgRows) {
			e.t.Errorf("%s: DuckDB has %d rows, PostgreSQL %d", table, len(duckRows), len(pgRows))
			continue
		}
		bad := 0
		for i := range duckRows {
			if !sameRow(duckRows[i], pgRows[i]) {
				if bad++; bad <= 3 {
					e.t.Errorf("%s row %d:\n  duckdb   %v\n  postgres %v", table, i, duckRows[i], pgRows[i])
				}
			}
		}
		if bad > 3 {
			e.t.Errorf("%s: %d rows differ in all", table, bad)
		}
	}
}

// dump reads a table as rows of normalised values sorted by their text,
// doubles rounded for sorting only, so engines' row order and driver
// types do not matter.
func (e *engines) dump(eng engine.Engine, table string) [][]any {
	e.t.Helper()
	rows, err := eng.Query(context.Background(), "SELECT * FROM "+eng.Dialect().Quote(table))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			e.t.Fatal(err)
		}
		for i, v := range vals {
			vals[i] = normalise(v)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b []any) int { return strings.Compare(sortKey(a), sortKey(b)) })
	return out
}

func normalise(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	case *big.Int:
		return x.Int64()
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func sortKey(row []any) string {
	var b strings.Builder
	for _, v := range row {
		if f, ok := v.(float64); ok {
			fmt.Fprintf(&b, "%.6f|", f)
			continue
		}
		fmt.Fprintf(&b, "%v|", v)
	}
	return b.String()
}

func sameRow(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		fa, okA := a[i].(float64)
		fb, okB := b[i].(float64)
		if okA && okB {
			if math.Abs(fa-fb) > 1e-9 {
				return false
			}
			continue
		}
		if fmt.Sprint(a[i]) != fmt.Sprint(b[i]) {
			return false
		}
	}
	return true
}

// copyProject copies a project folder without its database.
func copyProject(t *testing.T, src string) string {
	return testproject.Copy(t, src)
}

func appendTo(t *testing.T, dir, name, content string) {
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

// The coffee example and the guard cases of the pipeline's tests (a shared
// device, junk values, a generic store card), each run twice — the second
// time with new rows that merge profiles — give the same tables on both
// engines, stable-ID history included.
func TestParityCoffeeAndGuards(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		appends map[string]string // file → rows added before the first run
	}{
		{"coffee", nil},
		{"shared_device", map[string]string{"data/web_events.csv": "10,07-24-2022 09:00:00,family-ipad,707,Loyalty sign-in\n" +
			"11,07-24-2022 19:00:00,family-ipad,711,Loyalty sign-in\n"}},
		{"junk_values", map[string]string{"data/ecommerce.csv": "A-1005,test@test.com,Other,Person,0000000000,2022-02-01 00:00:00\n" +
			"A-1006,N/A,Third,Person,N/A,2022-02-02 00:00:00\n" +
			"A-1007,null,Fourth,Person,555-555-5555,2022-02-03 00:00:00\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyProject(t, filepath.Join("..", "examples", "coffee"))
			for file, rows := range tt.appends {
				appendTo(t, dir, file, rows)
			}
			e := newEngines(t, "parity_"+tt.name)
			e.run(dir, now, nil)
			e.compare()
			// Unknown1 signs in as Jane (loyalty 707): her anonymous
			// browsing joins her profile, and the IDs' history follows.
			appendTo(t, dir, "data/web_events.csv", "20,07-25-2022 09:00:00,Unknown1,707,Loyalty sign-in\n")
			e.run(dir, now.Add(24*time.Hour), nil)
			e.compare()
		})
	}
}

// Febrl 3 with a model trained once (on DuckDB) and scored on both
// engines: the same links, scores within 1e-9, the same customers.
func TestParityFebrl3Model(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and runs Febrl 3 (5,000 records) twice")
	}
	dir := filepath.Join("..", "datasets", "febrl3")
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, proj.Config.Sources[proj.Config.SourceOrder[0]].File)); err != nil {
		t.Skipf("data set not beside the repository: %v", err)
	}
	model := filepath.Join(t.TempDir(), "knit.model.yaml")
	e := newEngines(t, "parity_febrl3")
	proj.Config.Unify.Model.File = model
	// Trained in a database of its own, so both engines' run numbers agree.
	trainDB, err := duckdb.Open(filepath.Join(t.TempDir(), "train.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer trainDB.Close()
	if _, _, err := pipeline.Train(context.Background(), proj, trainDB, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	e.run(dir, time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), func(p *config.Project) { p.Config.Unify.Model.File = model })
	e.compare()
}
