package insights

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
	Previous int64 `json:"previous"`
	// Seconds is the time spent evaluating the segment: the segments
	// that are evaluated (not kept static) share one statement, and each
	// reports that statement's time.
	Seconds float64 `json:"seconds"`
}

// Tables the segment stage builds for the compiled rules and drops after.
const (
	segmentInput  = "segment_input"
	segmentCounts = "segment_counts"
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
	counts, err := env.buildSegmentInputs(ctx, schema, now)
	if err != nil {
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
	// "has" reads the identifier index itself.
	tables := segment.Tables{Profiles: engine.StagedName(segmentInput), Keyring: env.Tables.In("identifiers"), IdentifiersOnly: true,
		Activities: env.Tables.In(ActivitiesTable), Members: members, ActivityCounts: counts}
	// A static segment whose rule did not change keeps the members of its
	// first evaluation; it is copied first, as other segments may name it.
	kept := func(name string) bool {
		s := cfg.Segments[name]
		return s.Static && hadMembers && prevDefs[name] == s.Rule
	}
	var stats []*SegmentStats
	tables.Rules = map[string]segment.Expr{}
	for _, name := range order {
		start := time.Now()
		st := &SegmentStats{Name: name, Static: cfg.Segments[name].Static}
		stats = append(stats, st)
		if !kept(name) {
			tables.Rules[name] = cfg.Segments[name].Parsed
			continue
		}
		if err := env.exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT segment, customer_id FROM %s WHERE segment = ?", q(members), q(SegmentMembersTable)), name); err != nil {
			return nil, fmt.Errorf("segment %s: %w", name, err)
		}
		st.Seconds = time.Since(start).Seconds()
	}
	// Every other segment in one statement over segment_input, one
	// UNION ALL branch per segment: "in segment" of these reads the named
	// segment's condition on the same row (tables.Rules) instead of
	// searching the members written so far. segment_input has one row
	// per profile, so the members are distinct as selected.
	start := time.Now()
	p := &params{d: d}
	var branches []string
	for _, name := range order {
		if kept(name) {
			continue
		}
		// The name's placeholder precedes the rule's in the text, as its
		// parameter precedes theirs in the list.
		seg := p.add(name)
		cond, list, err := segment.CompileCondition(cfg.Segments[name].Parsed, schema, tables, d, now, p.list)
		if err != nil {
			return nil, segmentError(name, cfg.Segments[name].Rule, err)
		}
		p.list = list
		branches = append(branches, fmt.Sprintf("SELECT CAST(%s AS %s), p.%s FROM %s AS p WHERE %s",
			seg, d.TypeName(engine.Text), q("customer_id"), q(tables.Profiles), cond))
	}
	if len(branches) > 0 {
		if err := env.exec(ctx, fmt.Sprintf("INSERT INTO %s (segment, customer_id) %s", q(members), strings.Join(branches, "\nUNION ALL ")), p.list...); err != nil {
			return nil, fmt.Errorf("segments: %w", err)
		}
	}
	for _, st := range stats {
		if !kept(st.Name) {
			st.Seconds = time.Since(start).Seconds()
		}
	}
	if err := env.writeSegmentDefs(ctx, runID, prevDefs); err != nil {
		return nil, err
	}
	same, err := env.sameMemberships(ctx)
	if err != nil {
		return nil, err
	}
	env.historyKept = same
	if same {
		// Nobody entered or left: the last run's history is kept, not
		// copied (StagedSegmentTables leaves it out of the swap).
		err = env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(SegmentHistoryTable))
	} else {
		err = env.carryHistory(ctx, runID, now)
	}
	if err != nil {
		return nil, err
	}
	if err := env.countSegments(ctx, stats, runID, hadMembers, same); err != nil {
		return nil, err
	}
	if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(segmentInput)); err != nil {
		return nil, err
	}
	return stats, nil
}

// buildSegmentInputs writes the table compiled rules read besides the
// identifiers and members: the profiles with first_known, and the fields,
// customer measures and activity counts the rules use as columns. It returns the count column of each
// did (segment.Tables.ActivityCounts).
func (env *Env) buildSegmentInputs(ctx context.Context, schema *segment.Schema, now time.Time) (map[string]string, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	// The measures stage of this run counted the dids in its grouped
	// pass; otherwise (a partial run, or another run time) they are
	// counted here.
	countsTable := segmentCounts
	var counts map[string]string
	var countCols []string
	var err error
	if g := env.Tables.groups; g != nil && g.now.Equal(now) {
		countsTable, counts = activityGroups, g.did
		for _, c := range g.did {
			if !slices.Contains(countCols, c) {
				countCols = append(countCols, c)
			}
		}
		slices.Sort(countCols)
	} else if counts, countCols, err = env.buildActivityCounts(ctx, schema, now); err != nil {
		return nil, err
	}
	// Only the fields and measures some rule compares are copied.
	used := map[string]bool{}
	for _, name := range cfg.SegmentOrder {
		for _, f := range segment.Fields(cfg.Segments[name].Parsed) {
			used[f] = true
		}
	}
	var cols []string
	for _, f := range cfg.FieldOrder {
		if used[f] {
			cols = append(cols, "p."+d.Quote(f))
		}
	}
	join := ""
	for _, m := range cfg.MeasureOrder {
		if cfg.Measures[m].Scope == "customer" && used[m] {
			cols = append(cols, "m."+d.Quote(m))
			join = " LEFT JOIN " + env.in(CustomerMeasuresTable) + " m ON m.customer_id = p.customer_id"
		}
	}
	if len(countCols) > 0 {
		for _, c := range countCols {
			cols = append(cols, "c."+d.Quote(c))
		}
		join += " LEFT JOIN " + env.out(countsTable) + " c ON c.customer_key = ks.customer_key"
	}
	extra := ""
	if len(cols) > 0 {
		extra = ", " + strings.Join(cols, ", ")
	}
	if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(segmentInput)); err != nil {
		return nil, err
	}
	err = env.Eng.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s AS
SELECT p.customer_id, p.known, p.first_seen, ks.first_known%s
FROM %s p LEFT JOIN %s ks ON ks.customer_id = p.customer_id%s`,
		env.out(segmentInput), extra, env.in("profiles"), env.in(KnownSinceTable), join))
	if err != nil {
		return nil, fmt.Errorf("segment inputs (a partial run reuses the last run's measures; rerun measures after changing them): %w", err)
	}
	if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(activityGroups)); err != nil {
		return nil, err
	}
	env.Tables.groups = nil
	return counts, env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(segmentCounts))
}

// buildActivityCounts counts, in one grouped pass over the activities,
// the activities each distinct did condition of the project's rules
// matches per customer (count(*) FILTER (WHERE condition)), into
// segment_counts: a did then reads a column instead of searching the
// activities once per condition. Only the types the conditions name are
// read. It returns the column of each DidKey and the columns in order.
func (env *Env) buildActivityCounts(ctx context.Context, schema *segment.Schema, now time.Time) (map[string]string, []string, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	counts := map[string]string{}
	var cols, aggs []string
	var args []any
	types := map[string]bool{}
	for _, name := range cfg.SegmentOrder {
		s := cfg.Segments[name]
		for _, did := range segment.Dids(s.Parsed) {
			key := segment.DidKey(did)
			if _, ok := counts[key]; ok {
				continue
			}
			cond, list, err := segment.CompileDidCondition(did, schema, "a", d, now, args)
			if err != nil {
				return nil, nil, segmentError(name, s.Rule, err)
			}
			args = list
			// A name no field can have: fields are lower-case words and
			// dots, measures lower-case words.
			col := fmt.Sprintf("did#%d", len(cols)+1)
			counts[key] = col
			cols = append(cols, col)
			aggs = append(aggs, "count(*) FILTER (WHERE "+cond+") AS "+d.Quote(col))
			types[did.Type] = true
		}
	}
	if len(cols) == 0 {
		return counts, nil, nil
	}
	var marks []string
	for _, t := range sortedKeys(types) {
		args = append(args, t)
		marks = append(marks, d.Param(len(args)))
	}
	if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(segmentCounts)); err != nil {
		return nil, nil, err
	}
	err := env.exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT a.customer_key, %s FROM %s a WHERE a.type IN (%s) GROUP BY a.customer_key",
		env.out(segmentCounts), strings.Join(aggs, ", "), env.in(ActivitiesTable), strings.Join(marks, ", ")), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("segment activity counts: %w", err)
	}
	return counts, cols, nil
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

// StagedSegmentTables lists the tables the last BuildSegments staged: the
// history only when some segment's membership changed.
func (env *Env) StagedSegmentTables() []string {
	if env.historyKept {
		return []string{SegmentMembersTable, SegmentDefsTable}
	}
	return StageTables["segments"]
}

// sameMemberships reports whether the staged members are exactly the
// open intervals of the last run's history, segment by segment (the same
// segments, and in each the same number of members with the same sum of
// customer ID hashes): then the history does not change. Comparing two
// grouped scans costs far less than writing millions of history rows.
func (env *Env) sameMemberships(ctx context.Context) (bool, error) {
	had, err := env.Eng.TableExists(ctx, SegmentHistoryTable)
	if err != nil || !had {
		return false, err
	}
	sum := rowHashSum(env.Eng.Dialect(), "customer_id")
	sums := func(query string) (map[string]string, error) {
		rows, err := env.Eng.Query(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var seg, h string
			var n int64
			if err := rows.Scan(&seg, &n, &h); err != nil {
				return nil, err
			}
			out[seg] = fmt.Sprint(n, " ", h)
		}
		return out, rows.Err()
	}
	now, err := sums("SELECT segment, count(*), " + sum + " FROM " + env.out(SegmentMembersTable) + " GROUP BY segment")
	if err != nil {
		return false, err
	}
	before, err := sums("SELECT segment, count(*), " + sum + " FROM " + env.q(SegmentHistoryTable) + " WHERE left_run IS NULL GROUP BY segment")
	if err != nil {
		return false, err
	}
	return maps.Equal(now, before), nil
}

// carryHistory writes the staged history in one statement: the last
// run's closed intervals as they were; its open intervals joined with the
// current members (a full join on segment and customer), an open interval
// whose customer is no longer a member closed (left_run = runID), and a
// member without an open interval opening one (entered_run = runID).
// There is at most one open interval per segment and customer, and the
// members are distinct, so every stay is one row.
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
	big, ts := d.TypeName(engine.BigInt), d.TypeName(engine.Timestamp)
	at := now.UTC()
	had, err := env.Eng.TableExists(ctx, SegmentHistoryTable)
	if err != nil {
		return err
	}
	if !had {
		return env.exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT m.segment, m.customer_id, CAST(? AS %s), CAST(? AS %s), NULL, NULL FROM %s m`,
			h, big, ts, m), runID, at)
	}
	old := env.q(SegmentHistoryTable)
	return env.exec(ctx, fmt.Sprintf(`INSERT INTO %s
SELECT segment, customer_id, entered_run, entered_at, left_run, left_at FROM %s WHERE left_run IS NOT NULL
UNION ALL
SELECT COALESCE(o.segment, m.segment), COALESCE(o.customer_id, m.customer_id),
  COALESCE(o.entered_run, CAST(? AS %s)), COALESCE(o.entered_at, CAST(? AS %s)),
  CASE WHEN m.customer_id IS NULL THEN CAST(? AS %s) END, CASE WHEN m.customer_id IS NULL THEN CAST(? AS %s) END
FROM (SELECT segment, customer_id, entered_run, entered_at FROM %s WHERE left_run IS NULL) o
FULL JOIN %s m ON m.segment = o.segment AND m.customer_id = o.customer_id`,
		h, old, big, ts, big, ts, old, m), runID, at, runID, at)
}

// countSegments fills sizes and changes from the staged members and history.
func (env *Env) countSegments(ctx context.Context, stats []*SegmentStats, runID int64, hadMembers, historyKept bool) error {
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
	if !historyKept {
		if err := each("SELECT segment, count(*) FROM "+h+" WHERE entered_run = ? GROUP BY segment", func(s *SegmentStats, n int64) { s.Entered = n }, runID); err != nil {
			return err
		}
		if err := each("SELECT segment, count(*) FROM "+h+" WHERE left_run = ? GROUP BY segment", func(s *SegmentStats, n int64) { s.Left = n }, runID); err != nil {
			return err
		}
	}
	if hadMembers {
		return each("SELECT segment, count(*) FROM "+env.q(SegmentMembersTable)+" GROUP BY segment", func(s *SegmentStats, n int64) { s.Previous = n })
	}
	return nil
}
