package insights

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/engine"
)

// Member is one member of a segment, with when they entered.
type Member struct {
	CustomerID string    `json:"customer_id"`
	Known      bool      `json:"known"`
	EnteredRun int64     `json:"entered_run"`
	EnteredAt  time.Time `json:"entered_at"`
}

// Members lists a segment's current members, by customer ID.
func Members(ctx context.Context, eng engine.Engine, segment string) ([]Member, error) {
	out := []Member{}
	err := EachMember(ctx, eng, segment, 0, func(m Member) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

// EachMember calls f for a segment's current members by customer ID, at
// most limit of them (0: all), as the rows are read: a download of a
// million members holds one at a time.
func EachMember(ctx context.Context, eng engine.Engine, segment string, limit int, f func(Member) error) error {
	if err := requireSegment(ctx, eng, segment); err != nil {
		return err
	}
	// A limit applies before the joins: a preview of a segment of a
	// million joins 50 members, not a million.
	members := `SELECT segment, customer_id FROM segment_members WHERE segment = ?`
	args := []any{segment}
	if limit > 0 {
		members += " ORDER BY customer_id LIMIT ?"
		args = append(args, limit)
	}
	q := `SELECT m.customer_id, COALESCE(p.known, FALSE), COALESCE(h.entered_run, 0), h.entered_at
FROM (` + members + `) m LEFT JOIN profiles p ON p.customer_id = m.customer_id
LEFT JOIN segment_history h ON h.segment = m.segment AND h.customer_id = m.customer_id AND h.left_run IS NULL
ORDER BY m.customer_id`
	rows, err := eng.Query(ctx, engine.Rebind(eng.Dialect(), q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m Member
		var at sql.NullTime
		if err := rows.Scan(&m.CustomerID, &m.Known, &m.EnteredRun, &at); err != nil {
			return err
		}
		m.EnteredAt = at.Time
		if err := f(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountMembers counts a segment's current members.
func CountMembers(ctx context.Context, eng engine.Engine, segment string) (int64, error) {
	if err := requireSegment(ctx, eng, segment); err != nil {
		return 0, err
	}
	env := &Env{Eng: eng, Tables: NewTables()}
	return env.scanInt(ctx, `SELECT count(*) FROM segment_members WHERE segment = ?`, segment)
}

func requireSegment(ctx context.Context, eng engine.Engine, segment string) error {
	ok, err := eng.TableExists(ctx, SegmentDefsTable)
	if err != nil {
		return err
	}
	if !ok {
		return knit.Errorf(knit.ENOTFOUND, "the project has no segments yet: define segments in knit.yaml and run `knit run`")
	}
	env := &Env{Eng: eng, Tables: NewTables()}
	n, err := env.scanInt(ctx, `SELECT count(*) FROM segment_defs WHERE segment = ?`, segment)
	if err != nil {
		return err
	}
	if n == 0 {
		return knit.Errorf(knit.ENOTFOUND, "no segment %q in the last run", segment)
	}
	return nil
}

// Activity is one entry of a customer's timeline.
type Activity struct {
	ActivityID  string         `json:"activity_id"`
	Source      string         `json:"source"`
	Type        string         `json:"type"`
	Time        *time.Time     `json:"ts,omitempty"`
	Title       string         `json:"title"`
	KnownAtTime bool           `json:"known_at_time"`
	Properties  map[string]any `json:"properties,omitempty"`
}

// TimelineFilter narrows a timeline.
type TimelineFilter struct {
	Types      []string  // only these types
	From, To   time.Time // From inclusive, To exclusive; zero = open
	Limit      int       // 0 = all
	Properties []string  // property columns to read
}

// CustomerKeyIs is the condition, on the activities table, that an
// activity belongs to the customer whose ID is the SQL expression id (a
// placeholder): activities carry the customer's integer key, which
// known_since maps to the customer ID.
func CustomerKeyIs(d engine.Dialect, id string) string {
	return d.Quote("customer_key") + " = (SELECT customer_key FROM " + d.Quote(KnownSinceTable) + " WHERE customer_id = " + id + ")"
}

// ActivityID is the SQL of an activity's ID, <source>/<primary key>, over
// the activities table aliased alias ("" for none).
func ActivityID(d engine.Dialect, alias string) string {
	return col(d, alias, "source") + " || '/' || " + col(d, alias, "primary_key")
}

// ActivityTitle is the SQL of an activity's title: the title column, or
// the type where the source has none (stored as NULL).
func ActivityTitle(d engine.Dialect, alias string) string {
	return "COALESCE(" + col(d, alias, "title") + ", " + col(d, alias, "type") + ")"
}

// ActivitySelect selects activity_id, source, type, ts and title of the
// activities table aliased alias ("" for none).
func ActivitySelect(d engine.Dialect, alias string) string {
	return ActivityID(d, alias) + " AS activity_id, " + col(d, alias, "source") + ", " + col(d, alias, "type") + ", " +
		col(d, alias, "ts") + ", " + ActivityTitle(d, alias) + " AS title"
}

func col(d engine.Dialect, alias, name string) string {
	if alias == "" {
		return d.Quote(name)
	}
	return alias + "." + d.Quote(name)
}

// Timeline lists a customer's activities, newest first.
func Timeline(ctx context.Context, eng engine.Engine, customerID string, f TimelineFilter) ([]Activity, error) {
	ok, err := eng.TableExists(ctx, ActivitiesTable)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, knit.Errorf(knit.ENOTFOUND, "the project has no activities yet: configure activities in knit.yaml and run `knit run`")
	}
	d := eng.Dialect()
	p := &params{d: d}
	cols := ActivitySelect(d, "") + ", known_at_time"
	for _, prop := range f.Properties {
		cols += ", " + d.Quote(prop)
	}
	where := []string{CustomerKeyIs(d, p.add(customerID))}
	if len(f.Types) > 0 {
		var marks []string
		for _, t := range f.Types {
			marks = append(marks, p.add(t))
		}
		where = append(where, "type IN ("+strings.Join(marks, ", ")+")")
	}
	if !f.From.IsZero() {
		where = append(where, "ts >= "+p.add(f.From.UTC()))
	}
	if !f.To.IsZero() {
		where = append(where, "ts < "+p.add(f.To.UTC()))
	}
	query := "SELECT " + cols + " FROM " + d.Quote(ActivitiesTable) + " WHERE " + strings.Join(where, " AND ") + " ORDER BY ts DESC NULLS LAST, activity_id DESC"
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := eng.Query(ctx, query, p.list...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Activity{}
	for rows.Next() {
		var a Activity
		var ts sql.NullTime
		var title sql.NullString
		vals := make([]any, len(f.Properties))
		dest := []any{&a.ActivityID, &a.Source, &a.Type, &ts, &title, &a.KnownAtTime}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if ts.Valid {
			t := ts.Time.UTC()
			a.Time = &t
		}
		a.Title = title.String
		for i, prop := range f.Properties {
			if vals[i] != nil {
				if a.Properties == nil {
					a.Properties = map[string]any{}
				}
				a.Properties[prop] = vals[i]
			}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RunSummary is one row of the run history.
type RunSummary struct {
	RunID    int64           `json:"run_id"`
	Started  time.Time       `json:"started"`
	Finished *time.Time      `json:"finished,omitempty"`
	Status   string          `json:"status"`
	Error    string          `json:"error,omitempty"`
	Report   json.RawMessage `json:"report,omitempty"`
}

// Runs lists the run history, newest first.
func Runs(ctx context.Context, eng engine.Engine, limit int) ([]RunSummary, error) {
	ok, err := eng.TableExists(ctx, "runs")
	if err != nil {
		return nil, err
	}
	if !ok {
		return []RunSummary{}, nil
	}
	query := "SELECT run_id, started, finished, status, error, report FROM runs ORDER BY run_id DESC"
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := eng.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RunSummary{}
	for rows.Next() {
		var r RunSummary
		var fin sql.NullTime
		var msg, rep sql.NullString
		if err := rows.Scan(&r.RunID, &r.Started, &fin, &r.Status, &msg, &rep); err != nil {
			return nil, err
		}
		if fin.Valid {
			r.Finished = &fin.Time
		}
		r.Error = msg.String
		if rep.Valid {
			r.Report = json.RawMessage(rep.String)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
