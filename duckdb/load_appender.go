//go:build !duckdb_arrow

package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"

	"github.com/knit-cdp/knit/engine"
)

// bulkLoad appends rows through DuckDB's appender, about a hundred times
// faster than an INSERT per row. Every string crosses into C on its own
// call, which is why builds with the duckdb_arrow tag hand DuckDB whole
// columns instead (load_arrow.go).
func bulkLoad(ctx context.Context, conn driver.Conn, table string, cols []engine.Column, next func(row []any) (bool, error)) (int64, error) {
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
			vals[i] = v
		}
		if err := app.AppendRow(vals...); err != nil {
			app.Close()
			return n, fmt.Errorf("duckdb: append to %s: %w", table, err)
		}
		n++
	}
	return n, app.Close()
}

// atomicLoad: a failed Load may leave the rows the appender flushed.
const atomicLoad = false
