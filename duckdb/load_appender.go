package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"

	"github.com/knit-cdp/knit/engine"
)

// bulkLoad appends rows through DuckDB's appender, about a hundred times
// faster than an INSERT per row: by chunks filled here (load_chunks.go)
// or, where that path does not apply, by duckdb-go's AppendRow. (Handing DuckDB Arrow record batches
// instead, behind duckdb-go's duckdb_arrow tag, was measured on the 1M
// workload: no less CPU, 20% more memory; see docs/BENCHMARKS.md.)
func bulkLoad(ctx context.Context, conn driver.Conn, table string, cols []engine.Column, next func(row []any) (bool, error)) (int64, error) {
	if n, ok, err := chunkLoad(ctx, conn, table, cols, next); ok {
		return n, err
	}
	return rowLoad(ctx, conn, table, cols, next)
}

// rowLoad appends rows one by one through duckdb-go's appender.
func rowLoad(ctx context.Context, conn driver.Conn, table string, cols []engine.Column, next func(row []any) (bool, error)) (int64, error) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	app, err := duckdbdrv.NewAppenderWithColumns(conn, "", "", table, names)
	if err != nil {
		return 0, fmt.Errorf("duckdb: appender for %s: %w", table, err)
	}
	row := make([]any, len(cols))
	vals := make([]driver.Value, len(cols))
	var n int64
	for {
		if n%65536 == 0 && ctx.Err() != nil {
			app.Close()
			return n, ctx.Err()
		}
		ok, err := next(row)
		if err != nil {
			app.Close()
			return n, err
		}
		if !ok {
			break
		}
		for i, v := range row {
			vals[i] = loadValue(v)
		}
		if err := app.AppendRow(vals...); err != nil {
			app.Close()
			return n, fmt.Errorf("duckdb: append to %s: %w", table, err)
		}
		n++
	}
	return n, app.Close()
}

// loadValue reads the pointers engine.Engine.Load allows (*string, *int64,
// *float64, *time.Time; nil is NULL), which the driver's appender does not.
func loadValue(v any) driver.Value {
	switch p := v.(type) {
	case *string:
		if p != nil {
			return *p
		}
		return nil
	case *int64:
		if p != nil {
			return *p
		}
		return nil
	case *float64:
		if p != nil {
			return *p
		}
		return nil
	case *time.Time:
		if p != nil {
			return *p
		}
		return nil
	}
	return v
}
