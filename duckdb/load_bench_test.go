package duckdb

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/knit-cdp/knit/engine"
)

// BenchmarkLoad measures bulk loading of 1,000,000 rows of the shape of
// knit's records table (keys, a timestamp, numbers) into a DuckDB file.
func BenchmarkLoad(b *testing.B) {
	cols := []engine.Column{
		{Name: "record_key", Type: engine.Text}, {Name: "source", Type: engine.Text}, {Name: "customer_id", Type: engine.Text},
		{Name: "updated_at", Type: engine.Timestamp}, {Name: "rows", Type: engine.BigInt}, {Name: "name", Type: engine.Text},
	}
	const n = 1_000_000
	ts := time.Date(2022, 7, 23, 10, 0, 0, 0, time.UTC)
	for b.Loop() {
		db, err := Open(filepath.Join(b.TempDir(), "bench.duckdb"))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := db.CreateTable(ctx, "t", cols); err != nil {
			b.Fatal(err)
		}
		i := 0
		got, err := db.Load(ctx, "t", cols, func(row []any) (bool, error) {
			if i == n {
				return false, nil
			}
			k := strconv.Itoa(i)
			row[0], row[1], row[2] = "loyalty/"+k, "loyalty", "6f1d3c1e-7b0a-4d55-9a57-"+k
			row[3], row[4], row[5] = ts, int64(i), "Jane, \"JD\" Doe"
			i++
			return true, nil
		})
		if err != nil || got != n {
			b.Fatalf("loaded %d: %v", got, err)
		}
		db.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
