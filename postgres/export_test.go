package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/postgres"
)

// testURL is the test server started by scripts/postgres (scripts/setup
// runs it). Without one the test is skipped on a developer's machine and
// fails in CI, where the server must be there.
func testURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("KNIT_TEST_POSTGRES")
	if url == "" {
		if b, err := os.ReadFile("/tmp/knit-pg/url"); err == nil {
			url = strings.TrimSpace(string(b))
		}
	}
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no PostgreSQL test server: run scripts/postgres start (scripts/setup does)")
		}
		t.Skip("no PostgreSQL test server: run scripts/postgres start")
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL test server %s: %v", url, err)
		}
		t.Skipf("PostgreSQL test server %s: %v", url, err)
	}
	conn.Close(context.Background())
	return url
}

// The shop of export/testdata: the buyers segment upserted into a real
// table, then replaced when a buyer leaves and another enters.
func TestPostgresExportUpsertsAndReplaces(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS knit_export_test_buyers"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"knit.yaml", "members.csv", "events.csv"} {
		b, err := os.ReadFile(filepath.Join("..", "export", "testdata", "shop", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	t.Setenv("KNIT_TEST_POSTGRES", url)
	t.Setenv("KNIT_TEST_WEBHOOK", "http://127.0.0.1:1/unused")
	t.Setenv("KNIT_TEST_BROKEN_WEBHOOK", "http://127.0.0.1:1/unused")
	run := func(now time.Time) {
		t.Helper()
		proj, err := config.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		// Only the table export matters here.
		for name := range proj.Config.Exports {
			if name != "table" {
				delete(proj.Config.Exports, name)
			}
		}
		proj.Config.ExportOrder = []string{"table"}
		db, err := duckdb.Open(filepath.Join(dir, "knit.duckdb"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rep, err := pipeline.Run(ctx, proj, db, pipeline.Options{Now: func() time.Time { return now }, TableWriter: postgres.TableExporter{}})
		if err != nil {
			t.Fatal(err)
		}
		if x := rep.Insights.Exports[0]; x.Status != "succeeded" {
			t.Fatalf("table export = %+v", x)
		}
	}
	table := func() map[string]float64 {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT email, revenue FROM knit_export_test_buyers")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]float64{}
		for rows.Next() {
			var email string
			var rev float64
			if err := rows.Scan(&email, &rev); err != nil {
				t.Fatal(err)
			}
			out[email] = rev
		}
		return out
	}
	now := time.Date(2024, 3, 10, 10, 0, 0, 0, time.UTC)
	run(now)
	got := table()
	if len(got) != 2 || got["a@example.com"] != 40 || got["b@example.com"] != 5 {
		t.Fatalf("after run 1 the table holds %v, want a@example.com 40 and b@example.com 5", got)
	}
	events := "EventID,Member,TS,Type,Amount\ne1,m1,2024-01-01 10:00:00,Purchase,10\ne9,m3,2024-03-09 10:00:00,Purchase,7\n"
	os.WriteFile(filepath.Join(dir, "events.csv"), []byte(events), 0o644)
	run(now.Add(time.Hour))
	got = table()
	if len(got) != 2 || got["a@example.com"] != 10 || got["c@example.com"] != 7 {
		t.Fatalf("after run 2 the table holds %v, want a@example.com updated to 10, c@example.com 7, b@example.com gone", got)
	}
}

// Parquet exports on a PostgreSQL store are written from Go (parquet-go):
// the files hold the same columns, in the same order, with the same types
// and values as DuckDB's COPY writes on a DuckDB store — read back here by
// DuckDB's read_parquet. The everyone export holds text, BIGINT, DOUBLE,
// BOOLEAN and TIMESTAMP columns, with nulls.
func TestParquetExportOnPostgresMatchesDuckDB(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	now := time.Date(2024, 3, 10, 10, 0, 0, 0, time.UTC)
	files := map[string]string{}
	for _, store := range []string{"duckdb", "postgres"} {
		dir := t.TempDir()
		for _, name := range []string{"knit.yaml", "members.csv", "events.csv"} {
			b, err := os.ReadFile(filepath.Join("..", "export", "testdata", "shop", name))
			if err != nil {
				t.Fatal(err)
			}
			if name == "knit.yaml" {
				b = []byte(strings.Replace(string(b), "measures:\n", "measures:\n  purchases: {aggregate: count, activity: Purchase}\n", 1))
				b = append(b, "  everyone_parquet: {to: parquet, fields: [customer_id, known, first_seen, last_seen, email, revenue, purchases]}\n"...)
			}
			os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		t.Setenv("KNIT_TEST_POSTGRES", url)
		t.Setenv("KNIT_TEST_WEBHOOK", "http://127.0.0.1:1/unused")
		t.Setenv("KNIT_TEST_BROKEN_WEBHOOK", "http://127.0.0.1:1/unused")
		proj, err := config.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		proj.Config.ExportOrder = []string{"buyers_parquet", "everyone_parquet"}
		for name := range proj.Config.Exports {
			if !slices.Contains(proj.Config.ExportOrder, name) {
				delete(proj.Config.Exports, name)
			}
		}
		var eng engine.Engine
		if store == "duckdb" {
			db, err := duckdb.Open(filepath.Join(dir, "knit.duckdb"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			eng = db
		} else {
			eng = openSchema(t, "parquet_export")
		}
		rep, err := pipeline.Run(ctx, proj, eng, pipeline.Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range rep.Insights.Exports {
			if x.Status != "succeeded" || x.Rows == 0 {
				t.Fatalf("%s: %s export = %+v", store, x.Name, x)
			}
			files[store+"/"+x.Name] = x.Location
		}
	}
	reader, err := duckdb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	read := func(path string) (schema, rows []string) {
		t.Helper()
		for _, q := range []struct {
			sql string
			out *[]string
		}{
			{"SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))", &schema},
			{"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM read_parquet(?) ORDER BY ALL", nil},
		} {
			r, err := reader.SQL().QueryContext(ctx, q.sql, path)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := r.Columns()
			for r.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := r.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				line := fmt.Sprint(vals...)
				if q.out != nil {
					*q.out = append(*q.out, line)
				} else {
					rows = append(rows, line)
				}
			}
			r.Close()
		}
		return schema, rows
	}
	for _, name := range []string{"buyers_parquet", "everyone_parquet"} {
		ws, wr := read(files["duckdb/"+name])
		gs, gr := read(files["postgres/"+name])
		if !slices.Equal(ws, gs) {
			t.Errorf("%s: DuckDB writes columns\n  %v\nPostgreSQL's export\n  %v", name, ws, gs)
		}
		if !slices.Equal(wr, gr) || len(wr) == 0 {
			t.Errorf("%s: DuckDB writes rows\n  %v\nPostgreSQL's export\n  %v", name, wr, gr)
		}
		t.Logf("%s: %v, %d rows", name, gs, len(gr))
	}
}
