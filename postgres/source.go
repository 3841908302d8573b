package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/source"
)

var (
	_ source.TableOpener = TableSources{}
	_ source.TableOpener = (*DB)(nil)
)

// TableSources reads sources that name a PostgreSQL table or view. A
// source with url reads that database; one without reads Store's (the
// project's PostgreSQL store, whose search_path is the project's schema,
// so an unqualified name is a table of the project's schema). With a
// DuckDB store, Store is nil and every table source needs url (knit
// validate says so).
type TableSources struct {
	Store *DB
}

// OpenTable reads a table source of the project's own database.
func (d *DB) OpenTable(ctx context.Context, src *config.Source) (source.Rows, error) {
	return TableSources{Store: d}.OpenTable(ctx, src)
}

// tableColumn is a column of the table as the catalogue describes it.
type tableColumn struct {
	name     string
	typ      string // format_type: "timestamp with time zone", "jsonb", …
	category string // pg_type.typcategory: D date/time, N numeric, U user (json)…
}

// OpenTable checks the table and its columns against the source's
// configuration and starts reading it in primary-key order, every value
// as text, so the rows are typed by the same code as a file's.
func (t TableSources) OpenTable(ctx context.Context, src *config.Source) (source.Rows, error) {
	db, owned, err := t.database(src)
	if err != nil {
		return nil, err
	}
	rd, err := openTable(ctx, db, src)
	if err != nil {
		if owned {
			db.Close()
		}
		return nil, err
	}
	if owned {
		rd.db = db
	}
	return rd, nil
}

func (t TableSources) database(src *config.Source) (*sql.DB, bool, error) {
	if src.URL == "" {
		if t.Store == nil {
			return nil, false, knit.Errorf(knit.EINVALID, "source %q reads the table %s, and the project's store is not PostgreSQL: give the table's database as url: postgres://user@host:5432/database", src.Name, src.Table)
		}
		return t.Store.db, false, nil
	}
	cfg, err := pgx.ParseConfig(src.URL)
	if err != nil {
		return nil, false, knit.Wrap(knit.EINVALID, err, "source %q: url %s", src.Name, redact(src.URL))
	}
	return stdlib.OpenDB(*cfg), true, nil
}

// qualified quotes "name" or "schema.name" as an identifier.
func qualified(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

func openTable(ctx context.Context, db *sql.DB, src *config.Source) (*tableReader, error) {
	cols, err := describeTable(ctx, db, src)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	r := &tableReader{src: src, where: src.Table}
	var query string
	var args []any
	if src.JSON != "" {
		query, args, err = r.jsonQuery(ctx, db, cols)
	} else {
		query, err = r.plainQuery(cols, names)
	}
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "source %q: read table %s", src.Name, src.Table)
	}
	r.rows = rows
	n := 2
	if src.JSON == "" {
		n = len(r.columns)
	}
	r.raw = make([]sql.RawBytes, n)
	r.ptrs = make([]any, n)
	for i := range r.raw {
		r.ptrs[i] = &r.raw[i]
	}
	r.row.Values = make([]string, len(r.columns))
	return r, nil
}

// describeTable lists a table's or view's columns, or fails with what to
// fix when it does not exist.
func describeTable(ctx context.Context, db *sql.DB, src *config.Source) ([]tableColumn, error) {
	rows, err := db.QueryContext(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory::text
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, qualified(src.Table))
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "source %q: cannot look up the table %s", src.Name, src.Table)
	}
	defer rows.Close()
	var cols []tableColumn
	for rows.Next() {
		var c tableColumn
		if err := rows.Scan(&c.name, &c.typ, &c.category); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		where := "the project's schema (the store's search_path)"
		if src.URL != "" {
			where = "the search_path of " + redact(src.URL)
		}
		hint := "write schema.name to name another schema, as the catalogue spells it (usually lower case)"
		if src.Table == CollectedTable {
			hint = "knit serve creates it when it starts on this store; start it once"
		}
		return nil, knit.Errorf(knit.ENOTFOUND, "source %q: no table or view %s in %s (or it has no columns); %s", src.Name, src.Table, where, hint)
	}
	return cols, nil
}

// textOf renders a column as text the typer reads: date and time types in
// ISO form (timestamps with a zone in UTC, with a Z), which time fields read
// with format auto; everything else as PostgreSQL's text output.
func textOf(c tableColumn) string {
	q := quote(c.name)
	switch c.typ {
	case "timestamp with time zone":
		return `to_char(` + q + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	case "timestamp without time zone":
		return `to_char(` + q + `, 'YYYY-MM-DD"T"HH24:MI:SS.US')`
	case "date":
		return `to_char(` + q + `, 'YYYY-MM-DD')`
	}
	return q + "::text"
}

// checkTimeFormats refuses a custom time format on a column PostgreSQL
// already types as a date or timestamp: its values arrive in ISO form, so
// the layout would reject every row.
func checkTimeFormats(src *config.Source, cols []tableColumn) error {
	native := map[string]bool{}
	for _, c := range cols {
		if c.category == "D" {
			native[c.name] = true
		}
	}
	check := func(col, format, key string) error {
		if native[col] && format != "" && format != "auto" {
			return knit.Errorf(knit.EINVALID, "source %q: %s: column %s of table %s is a PostgreSQL date/time column, read as a time whatever the layout; remove format %q (or write auto)", src.Name, key, col, src.Table, format)
		}
		return nil
	}
	for _, tf := range []struct {
		key string
		f   *config.TimeField
	}{{"timestamp", src.Timestamp}, {"updated_at", src.UpdatedAt}} {
		if tf.f != nil {
			if err := check(tf.f.Column, tf.f.Format, tf.key+".format"); err != nil {
				return err
			}
		}
	}
	for name, c := range src.Columns {
		if c != nil {
			if err := check(name, c.Format, "columns."+name+".format"); err != nil {
				return err
			}
		}
	}
	return nil
}

// plainQuery reads every column as text, ordered by the primary key so a
// run reads the rows in the same order every time.
func (r *tableReader) plainQuery(cols []tableColumn, names []string) (string, error) {
	src := r.src
	if err := source.CheckColumns(src, "table "+src.Table, names); err != nil {
		return "", err
	}
	if err := checkTimeFormats(src, cols); err != nil {
		return "", err
	}
	r.columns = names
	r.pk = slices.Index(names, src.PrimaryKey)
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = textOf(c)
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + qualified(src.Table) + " ORDER BY " + quote(src.PrimaryKey), nil
}

// jsonQuery reads a column holding one JSON object per row, with the
// primary key extracted beside it for ordering and for naming a row that
// is rejected; the columns are those of an NDJSON source.
func (r *tableReader) jsonQuery(ctx context.Context, db *sql.DB, cols []tableColumn) (string, []any, error) {
	src := r.src
	i := slices.IndexFunc(cols, func(c tableColumn) bool { return c.name == src.JSON })
	if i < 0 {
		return "", nil, knit.Errorf(knit.EINVALID, "source %q: json names column %q, which table %s does not have", src.Name, src.JSON, src.Table)
	}
	if c := cols[i]; c.typ != "json" && c.typ != "jsonb" {
		return "", nil, knit.Errorf(knit.EINVALID, "source %q: json column %s of table %s is %s; it must be json or jsonb", src.Name, src.JSON, src.Table, c.typ)
	}
	doc := quote(src.JSON) + "::jsonb"
	key := "jsonb_extract_path_text(" + doc + ", VARIADIC $1::text[])"
	path := strings.Split(src.PrimaryKey, ".")
	from := " FROM " + qualified(src.Table)
	var first []byte
	err := db.QueryRowContext(ctx, "SELECT "+doc+"::text"+from+" WHERE jsonb_typeof("+doc+") = 'object' ORDER BY "+key+" LIMIT 1", path).Scan(&first)
	if err != nil && err != sql.ErrNoRows {
		return "", nil, knit.Wrap(knit.EINVALID, err, "source %q: read table %s", src.Name, src.Table)
	}
	r.columns = source.JSONColumns(src, first)
	r.json = source.NewJSONObjects(r.columns)
	r.pk = slices.Index(r.columns, src.PrimaryKey)
	return "SELECT " + key + ", " + doc + "::text" + from + " ORDER BY 1", []any{path}, nil
}

// tableReader streams a table's rows as text values.
type tableReader struct {
	src     *config.Source
	where   string
	columns []string
	pk      int
	json    *source.JSONObjects // nil unless src.JSON
	db      *sql.DB             // closed with the reader when it was opened for url
	rows    *sql.Rows
	raw     []sql.RawBytes
	ptrs    []any
	row     source.Row
	n       int64
}

func (r *tableReader) Columns() []string { return r.columns }

// Next returns the next row, named by its primary key: Line is its
// position in key order, and Key (primary_key=value) is what error
// messages and rejected rows show.
func (r *tableReader) Next() (*source.Row, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, knit.Wrap(knit.EINTERNAL, err, "source %q: read table %s", r.src.Name, r.src.Table)
		}
		return nil, io.EOF
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		return nil, fmt.Errorf("source %q: read table %s: %w", r.src.Name, r.src.Table, err)
	}
	r.n++
	row := &r.row
	row.File, row.Line = r.where, r.n
	if r.json == nil {
		for i, b := range r.raw {
			row.Values[i] = string(b)
		}
		row.Key = r.src.PrimaryKey + "=" + row.Values[r.pk]
		return row, nil
	}
	row.Key = r.src.PrimaryKey + "=" + string(r.raw[0])
	if r.raw[0] == nil {
		row.Key = "#" + strconv.FormatInt(r.n, 10) + " (no " + r.src.PrimaryKey + ")"
	}
	values, err := r.json.Values(r.raw[1])
	if err != nil {
		return nil, &source.RowError{File: r.where, Line: r.n, Key: row.Key, Reason: "column " + r.src.JSON + ": " + err.Error(), Raw: string(r.raw[1])}
	}
	copy(row.Values, values)
	return row, nil
}

func (r *tableReader) Close() error {
	err := r.rows.Close()
	if r.db != nil {
		r.db.Close()
	}
	return err
}
