package insights

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/standardize"
)

// ActivityStats counts what the activities stage did.
type ActivityStats struct {
	// Activities is the number of activities written, by source.
	Activities map[string]int64 `json:"activities"`
	// Unresolved counts event rows whose keys belong to no profile.
	Unresolved map[string]int64 `json:"unresolved"`
	// Reused says the last run's activities were kept: no event, key
	// resolution, first_known or setting they depend on changed.
	Reused bool `json:"reused,omitempty"`
}

// Staged lists the tables the activities stage staged: the activities
// themselves only when they were written.
func (st *ActivityStats) Staged() []string {
	if st.Reused {
		return []string{KnownSinceTable}
	}
	return StageTables["activities"]
}

const activityKeys = "activity_keys"

// BuildActivities writes the activities table: one row per accepted row of
// each configured event source, with the customer its keys resolve to, and
// the known_since table: when each customer became known.
//
// An event's customer is the customer of its visitor record (source/key)
// when it has one, else of the first of its other identifiers, in the
// source's column order, that belongs to a profile. Standardisation runs in
// Go over distinct raw values only, with the same standardisers the run
// used, so a key resolves exactly as it did during unification.
func BuildActivities(ctx context.Context, env *Env) (*ActivityStats, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	props := Properties(cfg)
	cols := []engine.Column{
		{Name: "customer_key", Type: engine.BigInt}, {Name: "primary_key", Type: engine.Text}, {Name: "source", Type: engine.Text},
		{Name: "type", Type: engine.Text}, {Name: "ts", Type: engine.Timestamp}, {Name: "title", Type: engine.Text},
		{Name: "known_at_time", Type: engine.Bool},
	}
	for _, p := range props {
		cols = append(cols, engine.Column{Name: p.Name, Type: p.Type})
	}
	if err := env.loadActivityKeys(ctx); err != nil {
		return nil, err
	}
	if err := env.buildKnownSince(ctx); err != nil {
		return nil, err
	}
	inserts := map[string]statement{}
	for _, name := range cfg.ActivityOrder {
		src := cfg.Sources[name]
		a := cfg.Activities[name]
		args := env.params()
		q := d.Quote
		// The outer query reads the inner one, aliased x: the customer is
		// resolved once per row, then known_since is joined on it.
		x := func(col string) string { return "x." + q(col) }
		text := d.TypeName(engine.Text)
		// typ and title add their parameters when called, in text order.
		typ := func() string {
			if a.TypeColumn != "" {
				return "CAST(" + x(a.TypeColumn) + " AS " + text + ")"
			}
			return args.add(a.Type)
		}
		// Without a title column the title is the type: stored as NULL
		// and read as the type (ActivitySelect), not copied into every row.
		title := func() string { return "CAST(NULL AS " + text + ")" }
		if a.Title != "" {
			title = func() string { return "CAST(" + x(a.Title) + " AS " + text + ")" }
		}
		tsCol := a.Timestamp
		if tsCol == "" {
			tsCol = src.Timestamp.Column
		}
		ts := "CAST(" + x(tsCol) + " AS " + d.TypeName(engine.Timestamp) + ")"
		sel := []string{"x._knit_customer"}
		// The activity ID is source/primary key: only the key is stored.
		sel = append(sel, "CAST("+x(src.PrimaryKey)+" AS "+text+")")
		sel = append(sel, args.add(name))
		sel = append(sel, typ())
		sel = append(sel, ts)
		sel = append(sel, title(),
			// Known at the time of the activity: see docs/insights.md.
			"CASE WHEN x._knit_first_known IS NULL THEN FALSE ELSE "+ts+" >= x._knit_first_known END")
		for _, p := range props {
			expr := "NULL"
			for _, c := range a.PropCols {
				if a.Properties[c] == p.Name {
					expr = x(c)
				}
			}
			sel = append(sel, "CAST("+expr+" AS "+d.TypeName(p.Type)+")")
		}
		// Each key carries its customer's first_known (joined on the
		// million keys, not on every event) and whether the customer is
		// a profile: an event whose customer is none is not an activity.
		from := env.in("src_"+name) + " s"
		cust, known, profiled := "CAST(NULL AS "+d.TypeName(engine.BigInt)+")", "CAST(NULL AS "+d.TypeName(engine.Timestamp)+")", "FALSE"
		for i := len(src.IdentCols) - 1; i >= 0; i-- {
			k := fmt.Sprintf("k%d", i)
			found := k + ".customer_id IS NOT NULL"
			cust = "CASE WHEN " + found + " THEN " + k + ".customer_key ELSE " + cust + " END"
			known = "CASE WHEN " + found + " THEN " + k + ".first_known ELSE " + known + " END"
			profiled = "CASE WHEN " + found + " THEN " + k + ".profiled ELSE " + profiled + " END"
		}
		for i, col := range src.IdentCols {
			k := fmt.Sprintf("k%d", i)
			from += fmt.Sprintf(` LEFT JOIN (SELECT k.raw, k.customer_id, ks.customer_key, ks.first_known, ks.customer_id IS NOT NULL AS profiled
  FROM %s k LEFT JOIN %s ks ON ks.customer_id = k.customer_id WHERE k.source = %s AND k.col = %s) %s ON %s.raw = CAST(s.%s AS %s)`,
				env.out(activityKeys), env.out(KnownSinceTable), args.add(name), args.add(col), k, k, q(col), text)
		}
		stmt := fmt.Sprintf(`INSERT INTO %s SELECT %s
FROM (SELECT s.*, %s AS _knit_customer, %s AS _knit_first_known, %s AS _knit_profiled FROM %s) x
WHERE x._knit_profiled`,
			env.out(ActivitiesTable), strings.Join(sel, ", "), cust, known, profiled, from)
		inserts[name] = statement{stmt, args.list}
	}
	fp, err := env.activityFingerprint(ctx, cols, inserts)
	if err != nil {
		return nil, err
	}
	st := &ActivityStats{Activities: map[string]int64{}, Unresolved: map[string]int64{}}
	if st.Reused, err = env.sameActivities(ctx, fp); err != nil {
		return nil, err
	}
	table := env.out(ActivitiesTable)
	if st.Reused {
		table = env.q(ActivitiesTable)
	} else if err := env.writeActivities(ctx, cols, inserts, fp); err != nil {
		return nil, err
	}
	for _, name := range cfg.ActivityOrder {
		n, err := env.scanInt(ctx, "SELECT count(*) FROM "+table+" WHERE source = ?", name)
		if err != nil {
			return nil, err
		}
		total, err := env.scanInt(ctx, "SELECT count(*) FROM "+env.in("src_"+name))
		if err != nil {
			return nil, err
		}
		st.Activities[name], st.Unresolved[name] = n, total-n
	}
	return st, env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(activityKeys))
}

// statement is a query with its parameters.
type statement struct {
	text string
	args []any
}

// writeActivities writes the staged activities and, beside them, the
// fingerprint of what they were computed from.
func (env *Env) writeActivities(ctx context.Context, cols []engine.Column, inserts map[string]statement, fp string) error {
	if err := env.createActivities(ctx, cols); err != nil {
		return err
	}
	for _, name := range env.Proj.Config.ActivityOrder {
		if err := env.exec(ctx, inserts[name].text, inserts[name].args...); err != nil {
			return fmt.Errorf("activities of %s: %w", name, err)
		}
	}
	state := []engine.Column{{Name: "fingerprint", Type: engine.Text}}
	if err := env.Eng.CreateTable(ctx, engine.StagedName(ActivitiesStateTable), state); err != nil {
		return err
	}
	return env.exec(ctx, "INSERT INTO "+env.out(ActivitiesStateTable)+" VALUES (?)", fp)
}

// activityCompression names, for DuckDB, the compression of the columns
// whose values knit knows the shape of: an event ID per row (FSST), one
// source name and a few types (dictionary). Left to itself DuckDB tries
// every method on every column as it writes, which cost 2 of the 10 CPU
// seconds of writing 10M activities; the stored bytes are the same.
var activityCompression = map[string]string{"primary_key": "fsst", "source": "dictionary", "type": "dictionary"}

// createActivities creates the staged activities table, on DuckDB with
// the compression of activityCompression.
func (env *Env) createActivities(ctx context.Context, cols []engine.Column) error {
	d := env.Eng.Dialect()
	if d.Name() != "duckdb" {
		return env.Eng.CreateTable(ctx, engine.StagedName(ActivitiesTable), cols)
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = engine.ColumnDefs(d, cols[i:i+1])
		if m := activityCompression[c.Name]; m != "" {
			defs[i] += " USING COMPRESSION " + m
		}
	}
	return env.exec(ctx, "CREATE OR REPLACE TABLE "+env.out(ActivitiesTable)+" ("+strings.Join(defs, ", ")+")")
}

// activityFingerprint sums up everything the activities are computed
// from: the statements that would write them (the configuration as SQL,
// with their parameters), the table's columns, every row of each event
// source, the key resolutions and every customer's first_known. Rows are
// hashed by the engine and the hashes summed, so the order of rows does
// not matter.
func (env *Env) activityFingerprint(ctx context.Context, cols []engine.Column, inserts map[string]statement) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n", engine.ColumnDefs(env.Eng.Dialect(), cols))
	tables := []string{env.out(activityKeys), env.out(KnownSinceTable)}
	for _, name := range env.Proj.Config.ActivityOrder {
		fmt.Fprintf(h, "%s\n%q\n%#v\n", name, inserts[name].text, inserts[name].args)
		tables = append(tables, env.in("src_"+name))
	}
	for _, t := range tables {
		rows, err := env.Eng.Query(ctx, "SELECT count(*), "+rowHashSum(env.Eng.Dialect(), "t")+" FROM "+t+" t")
		if err != nil {
			return "", err
		}
		var n int64
		var sum sql.NullString
		if rows.Next() {
			err = rows.Scan(&n, &sum)
		}
		rows.Close()
		if err != nil {
			return "", err
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %s\n", t, n, sum.String)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// rowHashSum is the dialect's sum, as text, of a 64-bit hash of every
// row of the table aliased alias.
func rowHashSum(d engine.Dialect, alias string) string {
	if d.Name() == "postgres" {
		return "CAST(sum(hashtextextended(CAST(" + alias + " AS text), 0)) AS text)"
	}
	return "CAST(sum(hash(" + alias + ")) AS VARCHAR)"
}

// sameActivities reports whether the last run's activities were computed
// from exactly what this run's would be: then they are kept, not written
// again (50M events take minutes to write).
func (env *Env) sameActivities(ctx context.Context, fp string) (bool, error) {
	for _, t := range []string{ActivitiesTable, ActivitiesStateTable} {
		if env.Tables.In(t) != t {
			return false, nil
		}
		ok, err := env.Eng.TableExists(ctx, t)
		if err != nil || !ok {
			return false, err
		}
	}
	rows, err := env.Eng.Query(ctx, "SELECT fingerprint FROM "+env.q(ActivitiesStateTable))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var prev string
	if rows.Next() {
		if err := rows.Scan(&prev); err != nil {
			return false, err
		}
	}
	return prev == fp, rows.Err()
}

// loadActivityKeys writes activity_keys(source, col, raw, type,
// customer_id): every distinct raw identifier value of every activity
// source, as stored (untrimmed, so events join on their value as it is),
// with the customer its trimmed value resolves to. Standardisation runs in Go over
// the distinct values; only (raw, std) goes back to the engine, std NULL
// when it equals raw (the usual case), since the appender's cost grows
// with every value appended (a million keys of six columns took 13-20 s
// under load). Each source column is resolved by one join: a visitor key
// through its record (source/key), any other key through the identifier
// index (a generic or blocked value resolves to nobody).
func (env *Env) loadActivityKeys(ctx context.Context) error {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	text := d.TypeName(engine.Text)
	if err := env.Eng.CreateTable(ctx, engine.StagedName(activityKeys), []engine.Column{
		{Name: "source", Type: engine.Text}, {Name: "col", Type: engine.Text}, {Name: "raw", Type: engine.Text},
		{Name: "type", Type: engine.Text}, {Name: "customer_id", Type: engine.Text}}); err != nil {
		return err
	}
	raw := engine.StagedName("activity_keys_raw")
	rawCols := []engine.Column{{Name: "raw", Type: engine.Text}, {Name: "std", Type: engine.Text}}
	for _, name := range cfg.ActivityOrder {
		src := cfg.Sources[name]
		for _, col := range src.IdentCols {
			typ := src.Identifiers[col]
			it := cfg.Identifiers[typ]
			std, err := standardize.For(it.Normalize, it.DefaultRegion)
			if err != nil {
				return err
			}
			if err := env.Eng.CreateTable(ctx, raw, rawCols); err != nil {
				return err
			}
			if err := env.loadRawKeys(ctx, raw, rawCols, name, col, std); err != nil {
				return err
			}
			args := env.params()
			sel := fmt.Sprintf("SELECT CAST(%s AS %s), CAST(%s AS %s), k.raw, CAST(%s AS %s), ", args.add(name), text, args.add(col), text, args.add(typ), text)
			if col == src.VisitorKey {
				sel += fmt.Sprintf("r.customer_id FROM %s k LEFT JOIN %s r ON r.record_key = %s || COALESCE(k.std, k.raw)",
					env.q(raw), env.in("records"), args.add(name+"/"))
			} else {
				sel += fmt.Sprintf("i.customer_id FROM %s k LEFT JOIN %s i ON i.type = %s AND i.value = COALESCE(k.std, k.raw)",
					env.q(raw), env.in("identifiers"), args.add(typ))
			}
			if err := env.exec(ctx, "INSERT INTO "+env.out(activityKeys)+" "+sel, args.list...); err != nil {
				return err
			}
		}
	}
	return env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.q(raw))
}

// loadRawKeys appends the distinct raw values of one source column to
// table with the standardised form of the trimmed value (NULL when it
// equals the raw value); a value the standardiser rejects is left out, so
// it resolves to nobody.
func (env *Env) loadRawKeys(ctx context.Context, table string, cols []engine.Column, source, col string, std standardize.Func) error {
	d := env.Eng.Dialect()
	// Distinct values as stored, trimmed afterwards: trimming 50M event
	// rows cost more than the distinct itself, and the activities join
	// then matches the stored value without trimming each row either.
	rows, err := env.Eng.Query(ctx, fmt.Sprintf("SELECT r, TRIM(r) FROM (SELECT DISTINCT CAST(%s AS %s) AS r FROM %s WHERE %s IS NOT NULL) d",
		d.Quote(col), d.TypeName(engine.Text), env.in("src_"+source), d.Quote(col)))
	if err != nil {
		return err
	}
	// Read them all before appending: the engine may have one connection.
	var keys [][2]any
	for rows.Next() {
		var r, trimmed sql.NullString
		if err := rows.Scan(&r, &trimmed); err != nil {
			rows.Close()
			return err
		}
		v, ok := std(trimmed.String)
		if !ok {
			continue
		}
		k := [2]any{r.String, nil}
		if v != r.String {
			k[1] = v
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	i := 0
	_, err = env.Eng.Load(ctx, table, cols, func(out []any) (bool, error) {
		if i >= len(keys) {
			return false, nil
		}
		out[0], out[1] = keys[i][0], keys[i][1]
		i++
		return true, nil
	})
	return err
}

// buildKnownSince writes known_since(customer_key, customer_id,
// first_known) for every profile. customer_key numbers the profiles in
// customer ID order (1, 2, …): the activities carry it instead of the
// customer ID, since writing, grouping and joining 50M integers costs a
// fraction of the same text keys (36-character UUIDs in a real run), and
// every reader of the activities reaches a customer ID through this
// table. A profile added or removed renumbers every profile after it; the
// activities fingerprint includes this table, so the activities are then
// written anew instead of kept pointing at renumbered customers. A customer became known at the earliest of: the first time of
// any of its records from a non-anonymous source (a loyalty sign-up, a
// purchase), and the time of its earliest event, in an anonymous source,
// that carried an identifier of a known type belonging to the same
// customer (a visitor signing in with a loyalty ID). A known profile with
// no such time is known since it was first seen; an unknown profile has
// no first_known.
func (env *Env) buildKnownSince(ctx context.Context) error {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	q := d.Quote
	args := env.params()
	var known []string
	for _, name := range cfg.SourceOrder {
		if !cfg.Sources[name].Anonymous {
			known = append(known, args.add(name))
		}
	}
	evidence := []string{}
	if len(known) > 0 {
		evidence = append(evidence, fmt.Sprintf("SELECT customer_id, first_seen AS t FROM %s WHERE customer_id IS NOT NULL AND source IN (%s)",
			env.in("records"), strings.Join(known, ", ")))
	}
	for _, name := range cfg.ActivityOrder {
		src := cfg.Sources[name]
		if !src.Anonymous || src.VisitorKey == "" {
			continue
		}
		tsCol := cfg.Activities[name].Timestamp
		if tsCol == "" {
			tsCol = src.Timestamp.Column
		}
		for _, col := range src.IdentCols {
			it := cfg.Identifiers[src.Identifiers[col]]
			if col == src.VisitorKey || it.Known == nil || !*it.Known {
				continue
			}
			evidence = append(evidence, fmt.Sprintf(`SELECT v.customer_id, CAST(s.%s AS %s) AS t FROM %s s
  JOIN %s v ON v.source = %s AND v.col = %s AND v.raw = CAST(s.%s AS %s)
  JOIN %s k ON k.source = %s AND k.col = %s AND k.raw = CAST(s.%s AS %s)
  WHERE v.customer_id = k.customer_id`,
				q(tsCol), d.TypeName(engine.Timestamp), env.in("src_"+name),
				env.out(activityKeys), args.add(name), args.add(src.VisitorKey), q(src.VisitorKey), d.TypeName(engine.Text),
				env.out(activityKeys), args.add(name), args.add(col), q(col), d.TypeName(engine.Text)))
		}
	}
	ev := "SELECT CAST(NULL AS " + d.TypeName(engine.Text) + ") AS customer_id, CAST(NULL AS " + d.TypeName(engine.Timestamp) + ") AS t"
	if len(evidence) > 0 {
		ev = strings.Join(evidence, "\nUNION ALL\n")
	}
	if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(KnownSinceTable)); err != nil {
		return err
	}
	stmt := fmt.Sprintf(`CREATE TABLE %s AS
SELECT CAST(row_number() OVER (ORDER BY p.customer_id) AS %s) AS customer_key, p.customer_id, CASE WHEN p.known THEN COALESCE(e.t, p.first_seen) END AS first_known
FROM %s p LEFT JOIN (SELECT customer_id, min(t) AS t FROM (%s) ev GROUP BY customer_id) e ON e.customer_id = p.customer_id`,
		env.out(KnownSinceTable), d.TypeName(engine.BigInt), env.in("profiles"), ev)
	return env.exec(ctx, stmt, args.list...)
}
