// Package postgres is knit's PostgreSQL adapter: the only package importing
// the pgx driver. This file holds what exports need (TableExporter); the
// PostgreSQL engine lives beside it.
package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/export"
)

var _ export.TableWriter = TableExporter{}

// TableExporter writes export rows into a PostgreSQL table.
type TableExporter struct{}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func typeName(t engine.Type) string {
	switch t {
	case engine.BigInt:
		return "BIGINT"
	case engine.Double:
		return "DOUBLE PRECISION"
	case engine.Bool:
		return "BOOLEAN"
	case engine.Timestamp:
		return "TIMESTAMP"
	case engine.Date:
		return "DATE"
	}
	return "TEXT"
}

// WriteTable creates the table if it does not exist (key as primary key),
// copies the rows into a temporary table with COPY, upserts them by key,
// and deletes the removed keys (or, with replace, every key not copied) —
// in one transaction, so readers see the old contents or the new, never a
// mix, and a failure changes nothing.
func (TableExporter) WriteTable(ctx context.Context, url, table string, cols []export.Column, key string, rows [][]any, remove []string, replace bool) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("postgres export: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var defs, names, updates []string
	for _, c := range cols {
		def := quote(c.Name) + " " + typeName(c.Type)
		if c.Name == key {
			def += " PRIMARY KEY"
		} else {
			updates = append(updates, quote(c.Name)+" = EXCLUDED."+quote(c.Name))
		}
		defs = append(defs, def)
		names = append(names, c.Name)
	}
	t := quote(table)
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+t+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return 0, fmt.Errorf("postgres export: create %s: %w", table, err)
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE knit_export_rows (LIKE "+t+" INCLUDING DEFAULTS) ON COMMIT DROP"); err != nil {
		return 0, err
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"knit_export_rows"}, names, pgx.CopyFromRows(rows))
	if err != nil {
		return 0, fmt.Errorf("postgres export: copy into %s: %w", table, err)
	}
	conflict := " DO NOTHING"
	if len(updates) > 0 {
		conflict = " DO UPDATE SET " + strings.Join(updates, ", ")
	}
	cl := quoteList(names)
	if _, err := tx.Exec(ctx, "INSERT INTO "+t+" ("+cl+") SELECT "+cl+" FROM knit_export_rows ON CONFLICT ("+quote(key)+")"+conflict); err != nil {
		return 0, fmt.Errorf("postgres export: upsert into %s: %w", table, err)
	}
	if replace {
		_, err = tx.Exec(ctx, "DELETE FROM "+t+" WHERE "+quote(key)+" NOT IN (SELECT "+quote(key)+" FROM knit_export_rows)")
	} else if len(remove) > 0 {
		_, err = tx.Exec(ctx, "DELETE FROM "+t+" WHERE "+quote(key)+" = ANY($1)", remove)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres export: delete from %s: %w", table, err)
	}
	return n, tx.Commit(ctx)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
