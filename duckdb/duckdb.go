// Package duckdb is knit's embedded engine: a single DuckDB file in the
// project folder. It is the only package that imports the DuckDB driver.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"strings"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/engine"
)

var _ engine.Engine = (*DB)(nil)

// DB is a DuckDB database opened by this process.
type DB struct {
	path      string
	connector *duckdbdrv.Connector
	db        *sql.DB
}

// Open opens (or creates) the DuckDB file at path; ":memory:" or "" opens an
// in-memory database. Extension auto-install is off: knit never downloads at
// run time. DuckDB allows one process per file, so a file held by another
// process (a running knit serve, say) is reported as a conflict.
func Open(path string) (*DB, error) {
	dsn := path
	if dsn == ":memory:" {
		dsn = ""
	}
	// DuckDB's own memory is capped so knit's total stays within what the
	// benchmarks promise; beyond it DuckDB spills to a temporary folder
	// beside the file. KNIT_DUCKDB_MEMORY_LIMIT overrides ("4GB").
	limit := os.Getenv("KNIT_DUCKDB_MEMORY_LIMIT")
	if limit == "" {
		limit = "1536MB"
	}
	dsn += "?autoinstall_known_extensions=false&autoload_known_extensions=false&memory_limit=" + url.QueryEscape(limit)
	connector, err := duckdbdrv.NewConnector(dsn, nil)
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return nil, knit.Wrap(knit.ECONFLICT, err,
				"the database %s is open in another process (only one process may open a DuckDB file: stop it, or send the command to the running knit serve)", path)
		}
		return nil, knit.Wrap(knit.EINTERNAL, err, "open DuckDB database %s", path)
	}
	return &DB{path: path, connector: connector, db: sql.OpenDB(connector)}, nil
}

// Close closes the database.
func (d *DB) Close() error {
	err := d.db.Close()
	if cerr := d.connector.Close(); err == nil {
		err = cerr
	}
	return err
}

// SQL returns the database handle for read queries by adapters of this package.
func (d *DB) SQL() *sql.DB { return d.db }

// Dialect returns DuckDB's SQL dialect.
func (d *DB) Dialect() engine.Dialect { return dialect{} }

// Exec runs a statement.
func (d *DB) Exec(ctx context.Context, query string, args ...any) error {
	if _, err := d.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("duckdb: %w\n%s", err, query)
	}
	return nil
}

// Query runs a query.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w\n%s", err, query)
	}
	return rows, nil
}

// CreateTable creates or replaces a table, each column with the
// compression its hint names (engine.Compression).
func (d *DB) CreateTable(ctx context.Context, table string, cols []engine.Column) error {
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = engine.ColumnDefs(dialect{}, cols[i:i+1])
		switch c.Compression {
		case engine.Dictionary:
			defs[i] += " USING COMPRESSION dictionary"
		case engine.FSST:
			defs[i] += " USING COMPRESSION fsst"
		}
	}
	return d.Exec(ctx, "CREATE OR REPLACE TABLE "+quote(table)+" ("+strings.Join(defs, ", ")+")")
}

// Load bulk-loads rows into a table through DuckDB's appender
// (load_appender.go), never an INSERT per row.
func (d *DB) Load(ctx context.Context, table string, cols []engine.Column, next func(row []any) (bool, error)) (int64, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int64
	err = conn.Raw(func(raw any) error {
		var err error
		n, err = bulkLoad(ctx, raw.(driver.Conn), table, cols, next)
		return err
	})
	return n, err
}

// TableExists reports whether a table exists in the main schema.
func (d *DB) TableExists(ctx context.Context, table string) (bool, error) {
	var n int
	err := d.db.QueryRowContext(ctx,
		`SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?`, table).Scan(&n)
	return n > 0, err
}

// Swap replaces tables with their staged copies in one transaction; DuckDB's
// catalog is transactional, so a crash before COMMIT leaves the old tables.
func (d *DB) Swap(ctx context.Context, tables []string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+quote(t)); err != nil {
			return fmt.Errorf("duckdb: swap %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+quote(engine.StagedName(t))+" RENAME TO "+quote(t)); err != nil {
			return fmt.Errorf("duckdb: swap %s: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("duckdb: commit swap: %w", err)
	}
	// Reclaim the space of the dropped tables; failure here is harmless.
	_, _ = d.db.ExecContext(ctx, "CHECKPOINT")
	return nil
}

// DropStaged drops staged tables an interrupted run left behind.
func (d *DB) DropStaged(ctx context.Context) error {
	return engine.DropListed(ctx, d,
		`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND suffix(table_name, ?)`, engine.StagedSuffix)
}

// Lock is a no-op: only one process can open a DuckDB file, so the file
// lock already keeps two runs of a project apart.
func (d *DB) Lock(context.Context) (func(), error) { return func() {}, nil }

type dialect struct{}

func (dialect) Name() string             { return "duckdb" }
func (dialect) Quote(name string) string { return quote(name) }
func (dialect) Param(int) string         { return "?" }
func (dialect) TypeName(t engine.Type) string {
	switch t {
	case engine.BigInt:
		return "BIGINT"
	case engine.Double:
		return "DOUBLE"
	case engine.Bool:
		return "BOOLEAN"
	case engine.Timestamp:
		return "TIMESTAMP"
	case engine.Date:
		return "DATE"
	default:
		return "VARCHAR"
	}
}

// Similarity implements engine.Dialect. DuckDB's string similarities count
// bytes; the pipeline passes ASCII only, where bytes are characters.
func (dialect) Similarity(metric, a, b string) string {
	switch metric {
	case "levenshtein":
		return "levenshtein(" + a + ", " + b + ")"
	case "edit":
		return "(1.0 - levenshtein(" + a + ", " + b + ") / greatest(length(" + a + "), length(" + b + "), 1))"
	case "jaro_winkler":
		return "jaro_winkler_similarity(" + a + ", " + b + ")"
	case "jaccard":
		wa, wb := "list_distinct(string_split("+a+", ' '))", "list_distinct(string_split("+b+", ' '))"
		return "(len(list_intersect(" + wa + ", " + wb + "))::DOUBLE / greatest(len(list_distinct(list_concat(" + wa + ", " + wb + "))), 1))"
	}
	return ""
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
