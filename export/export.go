// Package export sends segments and profiles where marketing tools can use
// them: CSV, NDJSON and Parquet files (written atomically into a dated
// folder per run), a PostgreSQL table (upsert by customer ID in one
// transaction, through the TableWriter interface so that only the postgres
// adapter imports a driver) and webhooks (signed JSON batches with retries
// and a dead-letter file). An export that fails is reported with its reason
// and never stops the others.
package export

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/insights"
	"github.com/knit-cdp/knit/segment"
)

// Result is what one export did.
type Result struct {
	Name    string `json:"name"`
	To      string `json:"to"`
	Segment string `json:"segment,omitempty"`
	Status  string `json:"status"` // succeeded or failed
	Error   string `json:"error,omitempty"`
	Rows    int64  `json:"rows"`
	// Entered and Left count the change rows of a changes export.
	Entered int64 `json:"entered,omitempty"`
	Left    int64 `json:"left,omitempty"`
	// Location is the file, table or URL written.
	Location   string  `json:"location,omitempty"`
	DeadLetter string  `json:"dead_letter,omitempty"`
	Seconds    float64 `json:"seconds"`
}

// Column is an exported column.
type Column struct {
	Name string
	Type engine.Type
}

// TableWriter writes rows into a database table. The postgres package
// implements it; the pipeline is handed one by its caller.
type TableWriter interface {
	// WriteTable creates the table if needed (key as its primary key),
	// upserts rows by key, deletes the rows whose key is in remove, and
	// with replace deletes every row whose key is not among rows — all in
	// one transaction. It returns the number of rows upserted.
	WriteTable(ctx context.Context, url, table string, cols []Column, key string, rows [][]any, remove []string, replace bool) (int64, error)
}

// Env is what exports need.
type Env struct {
	Eng   engine.Engine
	Proj  *config.Project
	RunID int64
	Now   time.Time
	// Postgres writes postgres exports; nil makes them fail with a reason.
	Postgres TableWriter
	// HTTP is the webhook client; default: a client with a 30 s timeout.
	HTTP *http.Client
	// Sleep waits between webhook retries (tests shorten it); default
	// time.Sleep honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// LogTable records every export attempt. Like runs, it is written in place
// (exports happen after the run's results were swapped in).
const LogTable = "export_log"

// Run runs every export of the project, or only those named, and returns
// one result each. A failed export is a result with status failed, never
// an error: the others still run.
func Run(ctx context.Context, env *Env, only ...string) []*Result {
	var out []*Result
	if err := env.ensureLog(ctx); err != nil {
		for _, name := range env.Proj.Config.ExportOrder {
			out = append(out, &Result{Name: name, Status: "failed", Error: err.Error()})
		}
		return out
	}
	for _, name := range env.Proj.Config.ExportOrder {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		out = append(out, env.runOne(ctx, name))
	}
	return out
}

func (env *Env) runOne(ctx context.Context, name string) *Result {
	x := env.Proj.Config.Exports[name]
	res := &Result{Name: name, To: x.To, Segment: x.Segment, Status: "succeeded"}
	start := time.Now()
	err := env.export(ctx, x, res)
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		res.Status, res.Error = "failed", err.Error()
	}
	if lerr := env.log(context.WithoutCancel(ctx), res); lerr != nil && err == nil {
		res.Status, res.Error = "failed", "recording the export: "+lerr.Error()
	}
	return res
}

func (env *Env) export(ctx context.Context, x *config.Export, res *Result) error {
	sel, err := env.buildQuery(ctx, x)
	if err != nil {
		return err
	}
	switch x.To {
	case "csv", "ndjson", "parquet":
		return env.writeFile(ctx, x, sel, res)
	case "postgres":
		return env.writePostgres(ctx, x, sel, res)
	case "webhook":
		return env.sendWebhook(ctx, x, sel, res)
	}
	return fmt.Errorf("unknown export target %q", x.To)
}

func (env *Env) ensureLog(ctx context.Context) error {
	return env.Eng.Exec(ctx, `CREATE TABLE IF NOT EXISTS export_log (
  export VARCHAR, run_id BIGINT, exported_at TIMESTAMP, status VARCHAR, row_count BIGINT, error VARCHAR)`)
}

func (env *Env) log(ctx context.Context, res *Result) error {
	var msg any
	if res.Error != "" {
		msg = res.Error
	}
	return env.Eng.Exec(ctx, engine.Rebind(env.Eng.Dialect(), `INSERT INTO export_log VALUES (?, ?, ?, ?, ?, ?)`),
		res.Name, env.RunID, env.Now.UTC(), res.Status, res.Rows, msg)
}

// lastSuccess is the run of the last successful run of an export, 0 if none.
func (env *Env) lastSuccess(ctx context.Context, name string) (int64, error) {
	rows, err := env.Eng.Query(ctx, engine.Rebind(env.Eng.Dialect(),
		`SELECT COALESCE(max(run_id), 0) FROM export_log WHERE export = ? AND status = 'succeeded' AND run_id < ?`), name, env.RunID)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// selection is the compiled query of an export.
type selection struct {
	query  string
	args   []any
	cols   []Column
	key    string // the output name of customer_id
	change bool   // the last column is the change (entered or left)
}

// buildQuery compiles an export's field selection into one SELECT. Every
// name is checked against the project before it is quoted; values
// (segment names, identifier types) are parameters.
func (env *Env) buildQuery(ctx context.Context, x *config.Export) (*selection, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	q := d.Quote
	schema := insights.Schema(cfg)
	fields := x.Fields
	if len(fields) == 0 {
		fields = append([]string{"customer_id", "known"}, cfg.FieldOrder...)
		for _, m := range cfg.MeasureOrder {
			if cfg.Measures[m].Scope == "customer" {
				fields = append(fields, m)
			}
		}
	}
	if !slices.Contains(fields, "customer_id") {
		return nil, fmt.Errorf("exports.%s.fields must include customer_id, the key every target uses", x.Name)
	}
	for f := range x.Rename {
		if !slices.Contains(fields, f) {
			return nil, fmt.Errorf("exports.%s.rename: %q is not an exported field (%s)", x.Name, f, strings.Join(fields, ", "))
		}
	}
	for _, f := range x.Hash {
		if !slices.Contains(fields, f) {
			return nil, fmt.Errorf("exports.%s.hash: %q is not an exported field (%s)", x.Name, f, strings.Join(fields, ", "))
		}
	}
	var args []any
	add := func(v any) string { args = append(args, v); return d.Param(len(args)) }

	// The driving set: members (or changes) of the segment, or every
	// profile. Its placeholders come first in the text.
	var driver string
	change := false
	switch {
	case x.Segment == "":
		driver = "SELECT customer_id FROM " + q("profiles")
	case !x.Changes:
		// A segment lists each member once (insights.BuildSegments).
		driver = "SELECT customer_id FROM " + q(insights.SegmentMembersTable) + " WHERE segment = " + add(x.Segment)
	default:
		last, err := env.lastSuccess(ctx, x.Name)
		if err != nil {
			return nil, err
		}
		change = true
		h := q(insights.SegmentHistoryTable)
		atLast := func(alias string) string {
			return "EXISTS (SELECT 1 FROM " + h + " o WHERE o.segment = " + alias + ".segment AND o.customer_id = " + alias + ".customer_id AND o.entered_run <= " +
				add(last) + " AND (o.left_run IS NULL OR o.left_run > " + add(last) + "))"
		}
		seg := add(x.Segment)
		enteredAt := atLast("h")
		seg2 := add(x.Segment)
		leftAt := atLast("h")
		driver = "SELECT DISTINCT h.customer_id, 'entered' AS change FROM " + h + " h WHERE h.segment = " + seg +
			" AND h.left_run IS NULL AND NOT " + enteredAt +
			" UNION ALL SELECT DISTINCT h.customer_id, 'left' AS change FROM " + h + " h WHERE h.segment = " + seg2 + " AND " + leftAt +
			" AND NOT EXISTS (SELECT 1 FROM " + h + " n WHERE n.segment = h.segment AND n.customer_id = h.customer_id AND n.left_run IS NULL)"
	}
	var sel, joins []string
	var cols []Column
	key := "customer_id"
	for i, f := range fields {
		var expr string
		typ := engine.Text
		switch {
		case f == "customer_id":
			expr = "c.customer_id"
		case f == "known":
			expr, typ = "p.known", engine.Bool
		case f == "first_seen" || f == "last_seen":
			expr, typ = "p."+q(f), engine.Timestamp
		case slices.Contains(cfg.FieldOrder, f):
			expr = "p." + q(f)
		case cfg.Measures[f] != nil && cfg.Measures[f].Scope == "customer":
			expr = "m." + q(f)
			typ = engineType(schema.Fields[f])
		case cfg.Identifiers[f] != nil:
			alias := fmt.Sprintf("i%d", i)
			joins = append(joins, fmt.Sprintf(" LEFT JOIN (SELECT customer_id, min(value) AS value FROM %s WHERE type = %s GROUP BY customer_id) %s ON %s.customer_id = c.customer_id",
				q("identifiers"), add(f), alias, alias))
			expr = alias + ".value"
		default:
			return nil, fmt.Errorf("exports.%s.fields: %q is not customer_id, known, first_seen, last_seen, a unified field, a customer measure or an identifier type", x.Name, f)
		}
		if slices.Contains(x.Hash, f) {
			expr, typ = hashSQL(d, "CAST("+expr+" AS "+d.TypeName(engine.Text)+")"), engine.Text
		}
		name := f
		if r, ok := x.Rename[f]; ok {
			name = r
		}
		if f == "customer_id" {
			key = name
		}
		sel = append(sel, expr+" AS "+q(name))
		cols = append(cols, Column{Name: name, Type: typ})
	}
	if change {
		sel = append(sel, "c.change AS "+q("change"))
		cols = append(cols, Column{Name: "change", Type: engine.Text})
	}
	// Identifier joins were compiled in field order, after the driver: the
	// text puts them after the FROM as well, so parameter order holds.
	query := "SELECT " + strings.Join(sel, ", ") + " FROM (" + driver + ") c LEFT JOIN " + q("profiles") +
		" p ON p.customer_id = c.customer_id LEFT JOIN " + q(insights.CustomerMeasuresTable) + " m ON m.customer_id = c.customer_id" +
		strings.Join(joins, "") + " ORDER BY c.customer_id"
	return &selection{query: query, args: args, cols: cols, key: key, change: change}, nil
}

// hashSQL is the lower-case hex SHA-256 of a text expression: the
// standardised value (a canonical email, an E.164 phone) is hashed, as ad
// platforms' customer-match uploads expect.
func hashSQL(d engine.Dialect, x string) string {
	if d.Name() == "postgres" {
		return "encode(sha256(convert_to(" + x + ", 'UTF8')), 'hex')"
	}
	return "sha256(" + x + ")"
}

func engineType(t segment.FieldType) engine.Type {
	switch t {
	case segment.Number:
		return engine.Double
	case segment.Bool:
		return engine.Bool
	case segment.Time:
		return engine.Timestamp
	}
	return engine.Text
}

// each runs the selection and calls fn with every row's values.
func (env *Env) each(ctx context.Context, sel *selection, fn func(row []any) error) error {
	return env.eachTyped(ctx, sel, nil, fn)
}

// eachTyped is each, telling start (when not nil) the result columns'
// database types before the first row.
func (env *Env) eachTyped(ctx context.Context, sel *selection, start func([]*sql.ColumnType) error, fn func(row []any) error) error {
	rows, err := env.Eng.Query(ctx, sel.query, sel.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if start != nil {
		types, err := rows.ColumnTypes()
		if err != nil {
			return err
		}
		if err := start(types); err != nil {
			return err
		}
	}
	vals := make([]any, len(sel.cols))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

// count tallies rows and changes.
func (res *Result) count(sel *selection, row []any) {
	res.Rows++
	if sel.change {
		if row[len(row)-1] == "left" {
			res.Left++
		} else {
			res.Entered++
		}
	}
}

// expand reads ${VAR} from the environment, so URLs and secrets need not
// be written in knit.yaml.
func expand(s string) string { return os.ExpandEnv(s) }
