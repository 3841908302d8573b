package insights

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/segment"
)

// SegmentStats is one segment's size after the run and its change.
type SegmentStats struct {
	Name    string `json:"name"`
	Static  bool   `json:"static,omitempty"`
	Members int64  `json:"members"`
	Entered int64  `json:"entered"`
	Left    int64  `json:"left"`
	// Previous is the size after the last run (0 for a new segment).
	Previous int64   `json:"previous"`
	Seconds  float64 `json:"seconds"`
}

// Tables the segment stage builds for the compiled rules and drops after.
const (
	segmentInput   = "segment_input"
	segmentKeyring = "segment_keyring"
)

// CheckSegments compiles every segment of the project against its schema,
// so that a misspelt field or segment fails the run before any data is
// read. Errors name the segment and point at the rule's line and column.
func CheckSegments(env *Env, now time.Time) error {
	cfg := &env.Proj.Config
	schema := Schema(cfg)
	d := env.Eng.Dialect()
	for _, name := range cfg.SegmentOrder {
		s := cfg.Segments[name]
		if _, _, err := segment.Compile(s.Parsed, schema, segment.Tables{Profiles: "p", Keyring: "k", Activities: "a", Members: "m"}, d, now); err != nil {
			return segmentError(name, s.Rule, err)
		}
	}
	defs := map[string]segment.Expr{}
	for _, name := range cfg.SegmentOrder {
		defs[name] = cfg.Segments[name].Parsed
	}
	_, err := segment.Order(defs)
	return err
}

func segmentError(name, rule string, err error) error {
	if se, ok := err.(*segment.SyntaxError); ok {
		se.Source = rule
	}
	return knit.Errorf(knit.EINVALID, "segments.%s: %s", name, err.Error())
}

// BuildSegments evaluates every segment in dependency order into
// segment_members(segment, customer_id), and carries segment_history
// forward: a customer who is a member now and had no open interval enters
// (entered_run = runID); an open interval whose customer is no longer a
// member is closed (left_run = runID). A static segment keeps the members
// of its first evaluation until its rule changes.
func BuildSegments(ctx context.Context, env *Env, runID int64, now time.Time) ([]*SegmentStats, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	q := d.Quote
	schema := Schema(cfg)
	if err := env.buildSegmentInputs(ctx, schema); err != nil {
		return nil, err
	}
	members := engine.StagedName(SegmentMembersTable)
	if err := env.Eng.CreateTable(ctx, members, []engine.Column{{Name: "segment", Type: engine.Text}, {Name: "customer_id", Type: engine.Text}}); err != nil {
		return nil, err
	}
	prevDefs, err := env.previousDefs(ctx)
	if err != nil {
		return nil, err
	}
	hadMembers, err := env.Eng.TableExists(ctx, SegmentMembersTable)
	if err != nil {
		return nil, err
	}
	defs := map[string]segment.Expr{}
	for _, name := range cfg.SegmentOrder {
		defs[name] = cfg.Segments[name].Parsed
	}
	order, err := segment.Order(defs)
	if err != nil {
		return nil, err
	}
	tables := segment.Tables{Profiles: engine.StagedName(segmentInput), Keyring: engine.StagedName(segmentKeyring),
		Activities: env.Tables.In(ActivitiesTable), Members: members}
	var stats []*SegmentStats
	for _, name := range order {
		start := time.Now()
		s := cfg.Segments[name]
		st := &SegmentStats{Name: name, Static: s.Static}
		if s.Static && hadMembers && prevDefs[name] == s.Rule {
			err = env.exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT segment, customer_id FROM %s WHERE segment = ?", q(members), q(SegmentMembersTable)), name)
		} else {
			var sqlText string
			var args []any
			sqlText, args, err = segment.Compile(s.Parsed, schema, tables, d, now)
			if err != nil {
				return nil, segmentError(name, s.Rule, err)
			}
			p := &params{d: d, list: args}
			// The name's placeholder follows the rule's in the text, as
			// its parameter follows theirs in the list.
			err = env.exec(ctx, fmt.Sprintf("INSERT INTO %s (segment, customer_id) SELECT DISTINCT n.segment, r.customer_id FROM (%s) r CROSS JOIN (SELECT CAST(%s AS %s) AS segment) n",
				q(members), sqlText, p.add(name), d.TypeName(engine.Text)), p.list...)
		}
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", name, err)
		}
		st.Seconds = time.Since(start).Seconds()
		stats = append(stats, st)
	}
	if err := env.writeSegmentDefs(ctx, runID, prevDefs); err != nil {
		return nil, err
	}
	if err := env.carryHistory(ctx, runID, now); err != nil {
		return nil, err
	}
	if err := env.countSegments(ctx, stats, runID, hadMembers); err != nil {
		return nil, err
	}
	for _, t := range []string{segmentInput, segmentKeyring} {
		if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(t)); err != nil {
			return nil, err
		}
	}
	return stats, nil
}

// buildSegmentInputs writes the two tables compiled rules read besides
// activities and members: the profiles with first_known and the customer
// measures as columns, and the keyring in the compiler's shape.
func (env *Env) buildSegmentInputs(ctx context.Context, schema *segment.Schema) error {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	var cols []string
	for _, f := range cfg.FieldOrder {
		cols = append(cols, "p."+d.Quote(f))
	}
	for _, m := range cfg.MeasureOrder {
		if cfg.Measures[m].Scope == "customer" {
			cols = append(cols, "m."+d.Quote(m))
		}
	}
	extra := ""
	if len(cols) > 0 {
		extra = ", " + strings.Join(cols, ", ")
	}
	for _, t := range []string{segmentInput, segmentKeyring} {
		if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(t)); err != nil {
			return err
		}
	}
	err := env.Eng.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s AS
SELECT p.customer_id, p.known, p.first_seen, ks.first_known%s
FROM %s p LEFT JOIN %s ks ON ks.customer_id = p.customer_id LEFT JOIN %s m ON m.customer_id = p.customer_id`,
		env.out(segmentInput), extra, env.in("profiles"), env.in(KnownSinceTable), env.in(CustomerMeasuresTable)))
	if err != nil {
		return fmt.Errorf("segment inputs (a partial run reuses the last run's measures; rerun measures after changing them): %w", err)
	}
	return env.exec(ctx, fmt.Sprintf(`CREATE TABLE %s AS SELECT customer_id, CAST(? AS %s) AS kind, type, value FROM %s WHERE customer_id IS NOT NULL`,
		env.out(segmentKeyring), d.TypeName(engine.Text), env.in("identifiers")), segment.KeyringIdentifierKind)
}

// previousDefs returns the rule of each segment of the last run.
func (env *Env) previousDefs(ctx context.Context) (map[string]string, error) {
	defs := map[string]string{}
	ok, err := env.Eng.TableExists(ctx, SegmentDefsTable)
	if err != nil || !ok {
		return defs, err
	}
	rows, err := env.Eng.Query(ctx, "SELECT segment, rule FROM "+env.q(SegmentDefsTable))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, rule string
		if err := rows.Scan(&name, &rule); err != nil {
			return nil, err
		}
		defs[name] = rule
	}
	return defs, rows.Err()
}

// writeSegmentDefs records each segment's rule, so that a static segment
// is re-evaluated only when its rule changes.
func (env *Env) writeSegmentDefs(ctx context.Context, runID int64, prev map[string]string) error {
	cfg := &env.Proj.Config
	table := engine.StagedName(SegmentDefsTable)
	cols := []engine.Column{{Name: "segment", Type: engine.Text}, {Name: "rule", Type: engine.Text},
		{Name: "static", Type: engine.Bool}, {Name: "changed_run", Type: engine.BigInt}}
	if err := env.Eng.CreateTable(ctx, table, cols); err != nil {
		return err
	}
	i := 0
	_, err := env.Eng.Load(ctx, table, cols, func(out []any) (bool, error) {
		if i >= len(cfg.SegmentOrder) {
			return false, nil
		}
		name := cfg.SegmentOrder[i]
		s := cfg.Segments[name]
		out[0], out[1], out[2], out[3] = name, s.Rule, s.Static, runID
		i++
		return true, nil
	})
	return err
}

// carryHistory copies the last run's history into the staged table, closes
// the intervals of customers who left and opens intervals for those who
// entered.
func (env *Env) carryHistory(ctx context.Context, runID int64, now time.Time) error {
	d := env.Eng.Dialect()
	table := engine.StagedName(SegmentHistoryTable)
	if err := env.Eng.CreateTable(ctx, table, []engine.Column{
		{Name: "segment", Type: engine.Text}, {Name: "customer_id", Type: engine.Text},
		{Name: "entered_run", Type: engine.BigInt}, {Name: "entered_at", Type: engine.Timestamp},
		{Name: "left_run", Type: engine.BigInt}, {Name: "left_at", Type: engine.Timestamp},
	}); err != nil {
		return err
	}
	h, m := env.q(table), env.out(SegmentMembersTable)
	if ok, err := env.Eng.TableExists(ctx, SegmentHistoryTable); err != nil {
		return err
	} else if ok {
		if err := env.Eng.Exec(ctx, "INSERT INTO "+h+" SELECT segment, customer_id, entered_run, entered_at, left_run, left_at FROM "+env.q(SegmentHistoryTable)); err != nil {
			return err
		}
	}
	at := now.UTC()
	err := env.exec(ctx, fmt.Sprintf(`UPDATE %s SET left_run = ?, left_at = ? WHERE left_run IS NULL AND NOT EXISTS (
  SELECT 1 FROM %s m WHERE m.segment = %s.segment AND m.customer_id = %s.customer_id)`, h, m, h, h), runID, at)
	if err != nil {
		return err
	}
	return env.exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT m.segment, m.customer_id, CAST(? AS %s), CAST(? AS %s), NULL, NULL FROM %s m
WHERE NOT EXISTS (SELECT 1 FROM %s h WHERE h.segment = m.segment AND h.customer_id = m.customer_id AND h.left_run IS NULL)`,
		h, d.TypeName(engine.BigInt), d.TypeName(engine.Timestamp), m, h), runID, at)
}

// countSegments fills sizes and changes from the staged members and history.
func (env *Env) countSegments(ctx context.Context, stats []*SegmentStats, runID int64, hadMembers bool) error {
	byName := map[string]*SegmentStats{}
	for _, s := range stats {
		byName[s.Name] = s
	}
	each := func(query string, set func(s *SegmentStats, n int64), args ...any) error {
		rows, err := env.Eng.Query(ctx, engine.Rebind(env.Eng.Dialect(), query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				return err
			}
			if s := byName[name]; s != nil {
				set(s, n)
			}
		}
		return rows.Err()
	}
	h := env.out(SegmentHistoryTable)
	if err := each("SELECT segment, count(*) FROM "+env.out(SegmentMembersTable)+" GROUP BY segment", func(s *SegmentStats, n int64) { s.Members = n }); err != nil {
		return err
	}
	if err := each("SELECT segment, count(*) FROM "+h+" WHERE entered_run = ? GROUP BY segment", func(s *SegmentStats, n int64) { s.Entered = n }, runID); err != nil {
		return err
	}
	if err := each("SELECT segment, count(*) FROM "+h+" WHERE left_run = ? GROUP BY segment", func(s *SegmentStats, n int64) { s.Left = n }, runID); err != nil {
		return err
	}
	if hadMembers {
		return each("SELECT segment, count(*) FROM "+env.q(SegmentMembersTable)+" GROUP BY segment", func(s *SegmentStats, n int64) { s.Previous = n })
	}
	return nil
}
