// Package engine is the contract between knit's pipeline and the database
// that runs it. The pipeline speaks only to these interfaces; adapters
// (package duckdb, later postgres and spark) are the only code importing a
// driver. SQL text that differs between engines is produced by the Dialect.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// Type is a column type in the engine-neutral vocabulary.
type Type int

const (
	Text Type = iota
	BigInt
	Double
	Bool
	Timestamp
	Date
)

// Column describes one column of a table the pipeline creates.
type Column struct {
	Name string
	Type Type
	// Compression is a hint for engines that compress each column as they
	// write it (DuckDB); others ignore it. The zero value lets the engine
	// choose.
	Compression Compression
}

// Compression names how a text column's values are best stored, where
// the pipeline knows their shape. Left to choose, DuckDB tries every
// method on every row group of every column as it writes; naming the
// method it would pick anyway spares that trial (see docs/BENCHMARKS.md,
// issue 2) and stores the same values.
type Compression uint8

const (
	// AnyCompression lets the engine choose.
	AnyCompression Compression = iota
	// Dictionary suits few distinct values, or values repeated in runs
	// (source names, identifier types, a customer's ID on each of its
	// rows when the rows are written customer by customer).
	Dictionary
	// FSST suits mostly distinct strings (keys, identifier values, a
	// customer ID once per row group).
	FSST
)

// Engine runs SQL and moves bulk data in and out.
type Engine interface {
	// Dialect returns the SQL dialect of this engine.
	Dialect() Dialect
	// Exec runs a statement with positional parameters.
	Exec(ctx context.Context, query string, args ...any) error
	// Query runs a query with positional parameters.
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	// CreateTable creates (or replaces) a table.
	CreateTable(ctx context.Context, table string, cols []Column) error
	// Load appends rows to an existing table in bulk (DuckDB's appender,
	// PostgreSQL's COPY), never row by row. next is called until it
	// returns false; each row's values match cols' order. A text value
	// may be a *string, a BIGINT an *int64, a DOUBLE a *float64, a DATE or
	// TIMESTAMP a *time.Time (nil for NULL), read before next is called
	// again: writers of millions of rows point at values they hold instead
	// of boxing a copy of each value (an allocation) for every row.
	Load(ctx context.Context, table string, cols []Column, next func(row []any) (bool, error)) (int64, error)
	// TableExists reports whether a table exists.
	TableExists(ctx context.Context, table string) (bool, error)
	// Swap atomically replaces each table T with its staged copy
	// StagedName(T), in one transaction: readers see all old tables or all
	// new ones. A staged table that does not exist is an error.
	Swap(ctx context.Context, tables []string) error
	// DropStaged drops every staged table left by an earlier failed run.
	DropStaged(ctx context.Context) error
	// Lock takes the project's run lock so two runs of one project never
	// interleave; unlock releases it. An engine whose storage already
	// admits one process (a DuckDB file) may return a no-op. A lock held
	// elsewhere is a knit.ECONFLICT error.
	Lock(ctx context.Context) (unlock func(), err error)
	// Close releases the engine.
	Close() error
}

// StagedSuffix marks tables a run writes before it swaps them in.
const StagedSuffix = "__staged"

// StagedName returns the staged name of a table.
func StagedName(table string) string { return table + StagedSuffix }

// DropListed drops every table a catalog query lists (one name per row):
// adapters implement DropStaged with it, each with its own catalog query.
func DropListed(ctx context.Context, e Engine, list string, args ...any) error {
	rows, err := e.Query(ctx, list, args...)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		names = append(names, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, e.Exec(ctx, "DROP TABLE IF EXISTS "+e.Dialect().Quote(n)))
	}
	return errors.Join(errs...)
}

// Dialect produces the SQL text that differs between engines.
type Dialect interface {
	Name() string
	// Quote quotes an identifier (table or column name).
	Quote(name string) string
	// Param returns the placeholder for the n-th (1-based) parameter.
	Param(n int) string
	// TypeName returns the SQL type name for t.
	TypeName(t Type) string
	// Similarity returns the SQL expression comparing the text expressions
	// a and b with a metric: "levenshtein" (the edit distance, an integer),
	// "edit" (1 − distance / the longer length, a double; 1 for two empty
	// values), "jaro_winkler" (a double in [0,1]) or "jaccard" (of the sets
	// of space-separated words). The pipeline calls it only on ASCII text
	// (standardised values are folded before comparison), so engines whose
	// string functions count bytes agree with knit's Go functions, which
	// count characters. An unknown metric returns "".
	Similarity(metric, a, b string) string
}

// ColumnDefs renders a column list for CREATE TABLE in the dialect:
// "name" TYPE, "name" TYPE…
func ColumnDefs(d Dialect, cols []Column) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(c.Name))
		b.WriteByte(' ')
		b.WriteString(d.TypeName(c.Type))
	}
	return b.String()
}

// IndexColumn is one column of a secondary index.
type IndexColumn struct {
	Name string
	// Desc orders the column descending with nulls last, as the queries
	// that sort by it do.
	Desc bool
	// Prefix makes a text column serve prefix matches (LIKE 'p%') under
	// any collation, besides equality.
	Prefix bool
}

// Indexer is implemented by engines that answer point, prefix and top-N
// lookups from secondary indexes (PostgreSQL). DuckDB does not implement
// it: its column scans with zone maps answer those lookups over millions
// of rows in milliseconds, and its indexes slow bulk writes. Callers index
// staged tables before the swap, so the index moves with its table.
type Indexer interface {
	CreateIndex(ctx context.Context, table string, cols []IndexColumn) error
}

// EditBounder is implemented by dialects that test a small edit distance
// more cheaply than they compute it in full. A comparison level "edit
// distance ≤ k" needs the distance only up to k: beyond it any value
// gives the same level.
type EditBounder interface {
	// EditDistanceUpTo returns the SQL expression of the edit distance
	// (Similarity "levenshtein") of the text expressions a and b when it
	// is at most k, and k+1 when it is more; null when a or b is null.
	EditDistanceUpTo(a, b string, k int) string
}
