package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
)

// BenchmarkLoadStage runs the load stage alone, the raw tables' appends
// included, on the project in KNIT_BENCH_PROJECT (for example a copy of the
// 200k workload) and reports its CPU seconds and the rows read.
func BenchmarkLoadStage(b *testing.B) {
	dir := os.Getenv("KNIT_BENCH_PROJECT")
	if dir == "" {
		b.Skip("KNIT_BENCH_PROJECT names no project")
	}
	ctx := context.Background()
	var cpu, wall time.Duration
	var rows int64
	for b.Loop() {
		proj, err := config.Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		db, err := duckdb.Open(filepath.Join(b.TempDir(), "knit.duckdb"))
		if err != nil {
			b.Fatal(err)
		}
		r := &run{proj: proj, eng: db, opt: Options{Now: time.Now}, rep: &Report{Refused: map[string]int64{}}}
		if err := r.prepare(ctx); err != nil {
			b.Fatal(err)
		}
		c0, w0 := processCPU(), time.Now()
		if err := r.load(ctx); err != nil {
			b.Fatal(err)
		}
		if err := r.finishRawTables(); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c0
		wall += time.Since(w0)
		rows = 0
		for _, s := range r.sources {
			rows += s.rep.RowsRead
		}
		db.Close()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
	b.ReportMetric(float64(rows), "rows")
}
