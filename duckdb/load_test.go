package duckdb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/engine"
)

var loadCols = []engine.Column{
	{Name: "key", Type: engine.Text}, {Name: "n", Type: engine.BigInt}, {Name: "x", Type: engine.Double},
	{Name: "ok", Type: engine.Bool}, {Name: "at", Type: engine.Timestamp}, {Name: "day", Type: engine.Date},
	{Name: "person.name", Type: engine.Text},
}

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "load.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateTable(context.Background(), "t", loadCols); err != nil {
		t.Fatal(err)
	}
	return db
}

// rowsOf feeds rows to Load.
func rowsOf(rows [][]any) func([]any) (bool, error) {
	i := 0
	return func(out []any) (bool, error) {
		if i == len(rows) {
			return false, nil
		}
		copy(out, rows[i])
		i++
		return true, nil
	}
}

func TestLoadKeepsValuesTypesNullsAndOrder(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	at := time.Date(2022, 7, 23, 10, 0, 0, 123456000, time.UTC)
	var rows [][]any
	// Over a batch of rows, so the Arrow path sends several batches.
	const n = 130_000
	for i := range n {
		switch i % 3 {
		case 0:
			rows = append(rows, []any{"k" + strings.Repeat("x", i%40), int64(i), 1.5, true, at, at, "José Ñandú"})
		case 1:
			rows = append(rows, []any{"", int64(-i), nil, false, nil, nil, nil})
		default:
			rows = append(rows, []any{nil, nil, float64(i), nil, at.Add(time.Duration(i) * time.Second), at.AddDate(0, 0, -i%400), "a\x00b'\";--"})
		}
	}
	got, err := db.Load(ctx, "t", loadCols, rowsOf(rows))
	if err != nil || got != n {
		t.Fatalf("loaded %d rows, err %v; want %d", got, err, n)
	}
	q, err := db.Query(ctx, `SELECT "key", "n", "x", "ok", "at", "day", "person.name" FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	i := 0
	for q.Next() {
		var key, name *string
		var num *int64
		var x *float64
		var ok *bool
		var ts, day *time.Time
		if err := q.Scan(&key, &num, &x, &ok, &ts, &day, &name); err != nil {
			t.Fatal(err)
		}
		want := rows[i]
		check := func(col string, got any, want any) {
			t.Helper()
			if got != want {
				t.Fatalf("row %d column %s: got %v, want %v", i, col, got, want)
			}
		}
		check("key", deref(key), want[0])
		check("n", deref(num), want[1])
		check("x", deref(x), want[2])
		check("ok", deref(ok), want[3])
		if w, isTime := want[4].(time.Time); isTime {
			check("at", ts.UTC(), w)
		} else {
			check("at", deref(ts), nil)
		}
		if w, isTime := want[5].(time.Time); isTime {
			check("day", day.Format(time.DateOnly), w.Format(time.DateOnly))
		} else {
			check("day", deref(day), nil)
		}
		check("person.name", deref(name), want[6])
		i++
	}
	if err := q.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("read back %d rows, want %d", i, n)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// A producer that fails half-way gets its error back. The appender may
// have flushed part of the rows: the pipeline loads only staged tables,
// which a failed run drops.
func TestLoadFailureReturnsTheProducersError(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	boom := errors.New("source line 125001 is unreadable")
	i := 0
	_, err := db.Load(ctx, "t", loadCols, func(out []any) (bool, error) {
		if i == 125_000 {
			return false, boom
		}
		out[0], out[1], out[2], out[3], out[4], out[5], out[6] = "k", int64(i), nil, nil, nil, nil, nil
		i++
		return true, nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the producer's error", err)
	}
}

func TestLoadWrongTypeNamesTheColumn(t *testing.T) {
	db := openTemp(t)
	_, err := db.Load(context.Background(), "t", loadCols, rowsOf([][]any{
		{"a", int64(1), 1.0, true, nil, nil, nil},
		{"b", "not a number", 1.0, true, nil, nil, nil},
	}))
	if err == nil || !strings.Contains(err.Error(), "append to t") {
		t.Fatalf("got %v, want an error naming the table", err)
	}
}

func TestLoadCancelled(t *testing.T) {
	db := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	i := 0
	_, err := db.Load(ctx, "t", loadCols, func(out []any) (bool, error) {
		if i == 125_000 {
			cancel()
		}
		out[0], out[1], out[2], out[3], out[4], out[5], out[6] = "k", int64(i), nil, nil, nil, nil, nil
		i++
		return true, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if err := db.Exec(context.Background(), "DELETE FROM t"); err != nil {
		t.Fatal(err)
	}
	// The connection is still usable after a cancelled load.
	if _, err := db.Load(context.Background(), "t", loadCols, rowsOf([][]any{{"after", int64(1), nil, nil, nil, nil, nil}})); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// Rows with large text load whole.
func TestLoadLargeText(t *testing.T) {
	db := openTemp(t)
	big := strings.Repeat("é", 512<<10) // 1 MiB
	rows := make([][]any, 200)
	for i := range rows {
		rows[i] = []any{big, int64(i), nil, nil, nil, nil, nil}
	}
	if _, err := db.Load(context.Background(), "t", loadCols, rowsOf(rows)); err != nil {
		t.Fatal(err)
	}
	var n, total int64
	if err := db.SQL().QueryRow(`SELECT count(*), sum(strlen(key)) FROM t`).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	if n != 200 || total != 200*int64(len(big)) {
		t.Fatalf("got %d rows of %d bytes, want 200 of %d", n, total, 200*len(big))
	}
}

func countRows(t *testing.T, db *DB) int64 {
	t.Helper()
	var n int64
	if err := db.SQL().QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCreateTableCompression: a column's compression hint is the method
// DuckDB stores it with, even where it would choose another (distinct
// keys, which it would store with FSST or uncompressed, in a dictionary;
// a few repeated names with FSST), and the values read back unchanged.
func TestCreateTableCompression(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "c.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols := []engine.Column{
		{Name: "key", Type: engine.Text, Compression: engine.Dictionary},
		{Name: "source", Type: engine.Text, Compression: engine.FSST},
		{Name: "free", Type: engine.Text},
	}
	if err := db.CreateTable(ctx, "c", cols); err != nil {
		t.Fatal(err)
	}
	const n = 50_000
	i := 0
	if _, err := db.Load(ctx, "c", cols, func(out []any) (bool, error) {
		if i == n {
			return false, nil
		}
		out[0], out[1], out[2] = fmt.Sprintf("key-%08d-%d", i, i*7919), []string{"loyalty", "ecommerce"}[i%2], fmt.Sprint(i)
		i++
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT column_name, string_agg(DISTINCT compression, ',' ORDER BY compression)
		FROM pragma_storage_info('c') WHERE segment_type = 'VARCHAR' GROUP BY ALL ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var c, m string
		if err := rows.Scan(&c, &m); err != nil {
			t.Fatal(err)
		}
		got[c] = m
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got["key"] != "Dictionary" || got["source"] != "FSST" || got["free"] == "" {
		t.Fatalf("compression by column: %v", got)
	}
	var keys, sources int
	var last string
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(DISTINCT key), count(DISTINCT source), max(key) FROM c`).Scan(&keys, &sources, &last); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("key-%08d-%d", n-1, (n-1)*7919); keys != n || sources != 2 || last != want {
		t.Fatalf("read back %d keys, %d sources, last %q (want %d, 2, %q)", keys, sources, last, n, want)
	}
}
