package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/engine"
)

var _ engine.Engine = (*DB)(nil)

// DB is one knit project's schema in a PostgreSQL database. Several
// processes may open the same project at once (a server and batch jobs):
// runs exclude each other with an advisory lock (Lock), and results are
// swapped in one transaction, so readers see the old tables or the new.
type DB struct {
	schema string
	db     *sql.DB

	mu       sync.Mutex
	lockConn *sql.Conn // the session holding the run lock, nil when not held
}

// IsURL reports whether a project's store setting names a PostgreSQL
// database rather than a DuckDB file.
func IsURL(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// SchemaFor returns the schema a project lives in: the URL's schema
// parameter when given, else the project folder's name lowercased with
// every other character than a-z, 0-9 and _ turned into _ ("Coffee Shop"
// → coffee_shop). The result must be a plain PostgreSQL identifier.
func SchemaFor(storeURL, projectDir string) (string, error) {
	u, err := url.Parse(storeURL)
	if err != nil {
		return "", knit.Errorf(knit.EINVALID, "store: %q is not a URL: %v", redact(storeURL), err)
	}
	schema := u.Query().Get("schema")
	if schema == "" {
		abs, err := filepath.Abs(projectDir)
		if err != nil {
			return "", err
		}
		schema = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return '_'
		}, filepath.Base(abs))
		if schema != "" && schema[0] >= '0' && schema[0] <= '9' {
			schema = "p_" + schema
		}
		if !identifier.MatchString(schema) {
			return "", knit.Errorf(knit.EINVALID, "store: cannot derive a schema name from the project folder %q; add ?schema=name to the URL (lowercase letters, digits and _, starting with a letter)", abs)
		}
		return schema, nil
	}
	if !identifier.MatchString(schema) || strings.HasPrefix(schema, "pg_") {
		return "", knit.Errorf(knit.EINVALID, "store: schema %q is not a valid schema name; use lowercase letters, digits and _, starting with a letter or _, at most 63 characters, not starting with pg_", schema)
	}
	return schema, nil
}

// redact hides any password in a URL for error messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open connects to the database of storeURL and makes schema the project's
// own: created if missing, first on every connection's search_path, with
// knit's similarity functions installed in it.
func Open(ctx context.Context, storeURL, schema string) (*DB, error) {
	if !identifier.MatchString(schema) {
		return nil, knit.Errorf(knit.EINVALID, "postgres: schema %q is not a valid schema name", schema)
	}
	// schema is knit's parameter, not the server's.
	u, err := url.Parse(storeURL)
	if err != nil {
		return nil, knit.Errorf(knit.EINVALID, "store: %q is not a URL: %v", redact(storeURL), err)
	}
	q := u.Query()
	q.Del("schema")
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "store: %s", redact(storeURL))
	}
	cfg.RuntimeParams["search_path"] = schema
	// Tables are dropped and renamed under the pipeline's feet (Swap), so
	// no statement is cached across calls: a cached plan would name a table
	// that no longer exists.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	db := stdlib.OpenDB(*cfg)
	db.SetMaxIdleConns(idleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{schema: schema, db: db}
	if err := d.setup(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) setup(ctx context.Context) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "postgres: connect")
	}
	defer conn.Close()
	// Two processes opening a new project at once would race on CREATE
	// SCHEMA and CREATE FUNCTION; a transaction-scoped advisory lock
	// serialises them.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := append([]string{
		"SELECT pg_advisory_xact_lock(hashtext('knit setup ' || $1))",
		"CREATE SCHEMA IF NOT EXISTS " + quote(d.schema),
	}, functionsSQL(d.schema)...)
	for i, s := range stmts {
		var err error
		if i == 0 {
			_, err = tx.ExecContext(ctx, s, d.schema)
		} else {
			_, err = tx.ExecContext(ctx, s)
		}
		if err != nil {
			return fmt.Errorf("postgres: set up schema %s: %w", d.schema, err)
		}
	}
	return tx.Commit()
}

// Schema returns the project's schema.
func (d *DB) Schema() string { return d.schema }

// SQL returns the database handle.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes every connection.
func (d *DB) Close() error { return d.db.Close() }

// Dialect returns PostgreSQL's SQL dialect.
func (d *DB) Dialect() engine.Dialect { return Dialect{} }

// Exec runs a statement.
func (d *DB) Exec(ctx context.Context, query string, args ...any) error {
	if _, err := d.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("postgres: %w\n%s", err, query)
	}
	return d.analyzeCreated(ctx, query)
}

// Query runs a query.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w\n%s", err, query)
	}
	return rows, nil
}

// CreateTable drops the table if it exists and creates it anew.
func (d *DB) CreateTable(ctx context.Context, table string, cols []engine.Column) error {
	if err := d.Exec(ctx, "DROP TABLE IF EXISTS "+quote(table)); err != nil {
		return err
	}
	return d.Exec(ctx, "CREATE TABLE "+quote(table)+" ("+engine.ColumnDefs(Dialect{}, cols)+")")
}

// Load copies rows into a table with COPY FROM STDIN in pgx's binary
// format: one round trip per batch, never an INSERT per row.
func (d *DB) Load(ctx context.Context, table string, cols []engine.Column, next func(row []any) (bool, error)) (int64, error) {
	conn, err := d.liveConn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	var n int64
	err = conn.Raw(func(raw any) error {
		src := &rowSource{ctx: ctx, next: next, row: make([]any, len(cols))}
		var err error
		n, err = raw.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{table}, names, src)
		if err != nil {
			return fmt.Errorf("postgres: copy into %s: %w", table, err)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, d.Exec(ctx, "ANALYZE "+quote(table)) // see analyze.go
}

// rowSource adapts the engine's row callback to pgx.CopyFromSource.
type rowSource struct {
	ctx  context.Context
	next func(row []any) (bool, error)
	row  []any
	err  error
	n    int64
}

func (s *rowSource) Next() bool {
	if s.n%65536 == 0 && s.ctx.Err() != nil {
		s.err = s.ctx.Err()
		return false
	}
	ok, err := s.next(s.row)
	if err != nil {
		s.err = err
		return false
	}
	s.n++
	return ok
}

func (s *rowSource) Values() ([]any, error) { return s.row, nil }
func (s *rowSource) Err() error             { return s.err }

// TableExists reports whether a table exists in the project's schema.
func (d *DB) TableExists(ctx context.Context, table string) (bool, error) {
	var ok bool
	err := d.db.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2)`, d.schema, table).Scan(&ok)
	return ok, err
}

// Swap replaces tables with their staged copies in one transaction.
// PostgreSQL's DDL is transactional: readers block on the dropped table's
// lock for the instant of the commit and then read the new table, so they
// never see a mix; a failure or a lost connection before COMMIT changes
// nothing.
//
// While the run lock is held, the swap runs in the session holding it: a
// run whose lock session was lost (the connection killed, the server
// restarted) may no longer be alone, so its swap fails rather than
// overwrite another run's results.
func (d *DB) Swap(ctx context.Context, tables []string) error {
	d.mu.Lock()
	conn := d.lockConn
	d.mu.Unlock()
	var tx *sql.Tx
	var err error
	if conn != nil {
		tx, err = conn.BeginTx(ctx, nil)
		if err != nil {
			return knit.Wrap(knit.ECONFLICT, err, "postgres: the session holding the run lock of schema %s was lost; the results of this run are not swapped in", d.schema)
		}
	} else if tx, err = d.db.BeginTx(ctx, nil); err != nil {
		return fmt.Errorf("postgres: swap: %w", err)
	}
	defer tx.Rollback()
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+quote(t)); err != nil {
			return fmt.Errorf("postgres: swap %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+quote(engine.StagedName(t))+" RENAME TO "+quote(t)); err != nil {
			return fmt.Errorf("postgres: swap %s: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit swap: %w", err)
	}
	return nil
}

// DropStaged drops staged tables an interrupted run left behind. It is
// also the cleanup of a run that failed because its sessions were killed,
// when the pool still holds dead idle connections: database/sql discards a
// dead connection after one failure, so a few attempts reach a live one.
func (d *DB) DropStaged(ctx context.Context) error {
	var err error
	for range 6 {
		if err = d.dropStaged(ctx); err == nil || ctx.Err() != nil {
			break
		}
	}
	return err
}

func (d *DB) dropStaged(ctx context.Context) error {
	return engine.DropListed(ctx, d,
		`SELECT tablename FROM pg_tables WHERE schemaname = $1 AND right(tablename, length($2)) = $2`, d.schema, engine.StagedSuffix)
}

// Lock takes the project's run lock: a session-level advisory lock on the
// schema's name, held by one dedicated connection until unlock is called
// or the connection is lost (PostgreSQL releases a dead session's locks,
// so a killed run never leaves the project locked). A lock held by another
// process is a conflict, reported at once rather than waited for.
func (d *DB) Lock(ctx context.Context) (func(), error) {
	d.dropIdle() // see conn.go
	conn, err := d.liveConn(ctx)
	if err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "postgres: connect")
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(hashtext('knit run ' || $1))", d.schema).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("postgres: take the run lock: %w", err)
	}
	if !ok {
		conn.Close()
		return nil, knit.Errorf(knit.ECONFLICT, "another knit run of the project in schema %s is in progress (it holds the run lock); wait for it to finish", d.schema)
	}
	d.mu.Lock()
	d.lockConn = conn
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		d.lockConn = nil
		d.mu.Unlock()
		// Closing would return the connection to the pool with the lock
		// still held; unlock first, and discard the connection if that fails.
		bg := context.WithoutCancel(ctx)
		if _, err := conn.ExecContext(bg, "SELECT pg_advisory_unlock(hashtext('knit run ' || $1))", d.schema); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

func quoteIdent(name string) string { return quote(name) }

// Dialect is PostgreSQL's SQL dialect.
type Dialect struct{}

func (Dialect) Name() string                  { return "postgres" }
func (Dialect) Quote(name string) string      { return quoteIdent(name) }
func (Dialect) Param(n int) string            { return fmt.Sprintf("$%d", n) }
func (Dialect) TypeName(t engine.Type) string { return typeName(t) }

// Similarity implements engine.Dialect with the functions Open installs in
// the project's schema (see functions.go): the same definitions as knit's
// Go similarity package and DuckDB's built-ins on ASCII text.
func (Dialect) Similarity(metric, a, b string) string {
	switch metric {
	case "levenshtein":
		return "knit_levenshtein(" + a + ", " + b + ")"
	case "edit":
		return "(1.0::float8 - knit_levenshtein(" + a + ", " + b + ")::float8 / greatest(length(" + a + "), length(" + b + "), 1))"
	case "jaro_winkler":
		return "knit_jaro_winkler(" + a + ", " + b + ")"
	case "jaccard":
		return "knit_jaccard(" + a + ", " + b + ")"
	}
	return ""
}

var _ engine.Indexer = (*DB)(nil)

// CreateIndex creates a btree index on table. The index is left unnamed so
// PostgreSQL picks a free name: a staged table's index keeps its name when
// the table is renamed over the live one, so a fixed name would collide on
// the next run.
func (d *DB) CreateIndex(ctx context.Context, table string, cols []engine.IndexColumn) error {
	parts := make([]string, len(cols))
	for i, c := range cols {
		p := quote(c.Name)
		if c.Prefix {
			p += " text_pattern_ops"
		}
		if c.Desc {
			p += " DESC NULLS LAST"
		}
		parts[i] = p
	}
	return d.Exec(ctx, "CREATE INDEX ON "+quote(table)+" ("+strings.Join(parts, ", ")+")")
}
