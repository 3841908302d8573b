package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/knit-cdp/knit/engine"
)

// tracing wraps the engine to print every statement the stages run with
// its time (-trace), or to run each statement under EXPLAIN ANALYZE and
// print DuckDB's profile (-explain): where the time of a stage goes.
type tracing struct {
	engine.Engine
	explain bool
}

func (t *tracing) Exec(ctx context.Context, query string, args ...any) error {
	start := time.Now()
	if t.explain && explainable(query) {
		rows, err := t.Engine.Query(ctx, "EXPLAIN ANALYZE "+query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var kind, plan string
			if err := rows.Scan(&kind, &plan); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, plan)
		}
		if err := rows.Err(); err != nil {
			return err
		}
	} else if err := t.Engine.Exec(ctx, query, args...); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%8.2fs exec  %s\n", time.Since(start).Seconds(), oneLine(query))
	return nil
}

func (t *tracing) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	start := time.Now()
	rows, err := t.Engine.Query(ctx, query, args...)
	fmt.Fprintf(os.Stderr, "%8.2fs query %s\n", time.Since(start).Seconds(), oneLine(query))
	return rows, err
}

func (t *tracing) Load(ctx context.Context, table string, cols []engine.Column, next func(row []any) (bool, error)) (int64, error) {
	start := time.Now()
	n, err := t.Engine.Load(ctx, table, cols, next)
	fmt.Fprintf(os.Stderr, "%8.2fs load  %s (%d rows)\n", time.Since(start).Seconds(), table, n)
	return n, err
}

func explainable(query string) bool {
	q := strings.ToUpper(strings.TrimSpace(query))
	return strings.HasPrefix(q, "INSERT") || strings.HasPrefix(q, "CREATE TABLE") || strings.HasPrefix(q, "UPDATE") || strings.HasPrefix(q, "COPY")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
