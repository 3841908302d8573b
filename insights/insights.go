// Package insights turns unified profiles into answers: activities (event
// rows resolved to customers through the keyring), measures (aggregates per
// customer or for the business), and segments (rules evaluated to member
// lists with a history of who entered and left). Everything runs as SQL in
// the engine; the design is described in docs/insights.md.
//
// A stage reads tables through a Tables map, so the same code serves a
// full run (reading what earlier stages staged this run) and a partial run
// (reading the results of the last successful run).
package insights

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
)

// Tables written by the stages of this package. Each is written under its
// staged name and swapped in with the run's other results.
const (
	ActivitiesTable       = "activities"
	ActivitiesStateTable  = "activities_state"
	KnownSinceTable       = "known_since"
	CustomerMeasuresTable = "customer_measures"
	BusinessMeasuresTable = "business_measures"
	SegmentMembersTable   = "segment_members"
	SegmentHistoryTable   = "segment_history"
	SegmentDefsTable      = "segment_defs"
)

// StageTables lists the tables each stage writes.
var StageTables = map[string][]string{
	"activities": {ActivitiesTable, KnownSinceTable, ActivitiesStateTable},
	"measures":   {CustomerMeasuresTable, BusinessMeasuresTable},
	"segments":   {SegmentMembersTable, SegmentHistoryTable, SegmentDefsTable},
}

// Tables resolves a logical table name to the physical table a stage reads:
// the staged copy when this run wrote it, the last run's table otherwise.
type Tables struct {
	staged map[string]bool
	// groups is the grouped pass the measures stage ran this run (its
	// table activity_groups is staged), whose did counts the segments
	// stage reads; nil when the measures stage did not run.
	groups *groupedPass
}

// NewTables returns a resolver in which the given tables were staged by
// this run.
func NewTables(staged ...string) *Tables {
	t := &Tables{staged: map[string]bool{}}
	t.Staged(staged...)
	return t
}

// Staged marks tables as written by this run.
func (t *Tables) Staged(names ...string) {
	for _, n := range names {
		t.staged[n] = true
	}
}

// In returns the physical name of a table to read.
func (t *Tables) In(name string) string {
	if t.staged[name] {
		return engine.StagedName(name)
	}
	return name
}

// params collects query parameters in the order their ? placeholders
// appear in the text; Env.exec rebinds them for the dialect.
// Placeholders are the dialect's own, so SQL compiled by package segment
// (which numbers its parameters the same way) can join the same list.
type params struct {
	d    engine.Dialect
	list []any
}

func (p *params) add(v any) string {
	p.list = append(p.list, v)
	return p.d.Param(len(p.list))
}

// Env is what every stage needs.
type Env struct {
	Eng    engine.Engine
	Proj   *config.Project
	Tables *Tables

	// historyKept says the last BuildSegments kept the last run's history
	// instead of staging a new one (see StagedSegmentTables).
	historyKept bool
}

func (e *Env) q(name string) string { return e.Eng.Dialect().Quote(name) }

func (e *Env) in(name string) string { return e.q(e.Tables.In(name)) }

func (e *Env) out(name string) string { return e.q(engine.StagedName(name)) }

// exec runs a statement whose placeholders are ? or the dialect's own.
func (e *Env) exec(ctx context.Context, query string, args ...any) error {
	return e.Eng.Exec(ctx, engine.Rebind(e.Eng.Dialect(), query), args...)
}

func (e *Env) params() *params { return &params{d: e.Eng.Dialect()} }

// scanInt runs a query returning one integer.
func (e *Env) scanInt(ctx context.Context, query string, args ...any) (int64, error) {
	rows, err := e.Eng.Query(ctx, engine.Rebind(e.Eng.Dialect(), query), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n sql.NullInt64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n.Int64, rows.Err()
}

// epoch is the dialect's seconds since 1970 of a timestamp expression.
func epoch(d engine.Dialect, x string) string {
	if d.Name() == "postgres" {
		return "EXTRACT(EPOCH FROM " + x + ")"
	}
	return "epoch(" + x + ")"
}

// Property is an activity property: a column of the activities table.
type Property struct {
	Name string
	Type engine.Type
}

// Properties returns the activity properties of a project, in the order
// they are first declared, with their column types. A property that two
// sources declare with different types is text.
func Properties(cfg *config.Config) []Property {
	var props []Property
	for _, src := range cfg.ActivityOrder {
		a := cfg.Activities[src]
		for _, col := range a.PropCols {
			typ := columnType(cfg.Sources[src], col)
			i := slices.IndexFunc(props, func(p Property) bool { return p.Name == a.Properties[col] })
			if i < 0 {
				props = append(props, Property{Name: a.Properties[col], Type: typ})
			} else if props[i].Type != typ {
				props[i].Type = engine.Text
			}
		}
	}
	return props
}

// columnType is the engine type a source column is loaded as.
func columnType(s *config.Source, col string) engine.Type {
	if s.Timestamp != nil && s.Timestamp.Column == col {
		return engine.Timestamp
	}
	if s.UpdatedAt != nil && s.UpdatedAt.Column == col {
		return engine.Timestamp
	}
	c := s.Columns[col]
	if c == nil {
		return engine.Text
	}
	switch c.Type {
	case "int":
		return engine.BigInt
	case "float":
		return engine.Double
	case "bool":
		return engine.Bool
	case "date":
		return engine.Date
	case "timestamp":
		return engine.Timestamp
	}
	return engine.Text
}

func quoteList(d engine.Dialect, names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += d.Quote(n)
	}
	return s
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
