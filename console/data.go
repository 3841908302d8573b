package console

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/insights"
	"github.com/knit-cdp/knit/pipeline"
)

// Queries the console needs beyond package lookup and insights. Each is
// bounded: a LIMIT, a lookup by customer_id, or one aggregate over a table
// whose size is the number of profiles or segment memberships.

// each runs a parameterised query (? placeholders) and calls f per row.
func (c *Console) each(ctx context.Context, q string, args []any, f func(*sql.Rows) error) error {
	rows, err := c.eng.Query(ctx, engine.Rebind(c.eng.Dialect(), q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
	return rows.Err()
}

// hasTable reports whether a result table exists (a project that has
// never run has none).
func (c *Console) hasTable(ctx context.Context, name string) (bool, error) {
	return c.eng.TableExists(ctx, name)
}

// runRow is one run of the history with its report decoded.
type runRow struct {
	ID       int64
	Status   string
	Error    string
	Started  time.Time
	Finished *time.Time
	Report   *pipeline.Report // nil while running or when unreadable
}

// Seconds is the run's duration (0 while running).
func (r runRow) Seconds() float64 {
	if r.Report != nil && r.Report.Duration > 0 {
		return r.Report.Duration
	}
	if r.Finished != nil {
		return r.Finished.Sub(r.Started).Seconds()
	}
	return 0
}

// runHistory reads the newest runs.
func (c *Console) runHistory(ctx context.Context, limit int) ([]runRow, error) {
	runs, err := insights.Runs(ctx, c.eng, limit)
	if err != nil {
		return nil, err
	}
	out := make([]runRow, 0, len(runs))
	for _, r := range runs {
		row := runRow{ID: r.RunID, Status: r.Status, Error: r.Error, Started: r.Started, Finished: r.Finished}
		if len(r.Report) > 0 {
			var rep pipeline.Report
			if json.Unmarshal(r.Report, &rep) == nil {
				row.Report = &rep
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// profileCounts counts known and unknown profiles: one pass over the
// profiles table's known column.
func (c *Console) profileCounts(ctx context.Context) (known, unknown int64, err error) {
	if ok, err := c.hasTable(ctx, "profiles"); err != nil || !ok {
		return 0, 0, err
	}
	err = c.each(ctx, `SELECT COALESCE(SUM(CASE WHEN known THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN known THEN 0 ELSE 1 END), 0) FROM profiles`, nil,
		func(rows *sql.Rows) error { return rows.Scan(&known, &unknown) })
	return known, unknown, err
}

// segmentTrend is one segment's size after each of the last runs.
type segmentTrend struct {
	Name    string
	Members int64
	Points  []trendPoint // oldest first
}

type trendPoint struct {
	Run     int64
	Members int64
}

// segmentTrends rebuilds each segment's size after each of the given runs
// (oldest first) from segment_history with two aggregates (entries per
// run, exits per run) rather than a range join, so the cost is one scan of
// the history whatever the number of runs.
func (c *Console) segmentTrends(ctx context.Context, runs []int64) ([]segmentTrend, error) {
	if ok, err := c.hasTable(ctx, insights.SegmentHistoryTable); err != nil || !ok {
		return nil, err
	}
	delta := map[string]map[int64]int64{}
	add := func(q string, sign int64) error {
		return c.each(ctx, q, nil, func(rows *sql.Rows) error {
			var seg string
			var run, n int64
			if err := rows.Scan(&seg, &run, &n); err != nil {
				return err
			}
			if delta[seg] == nil {
				delta[seg] = map[int64]int64{}
			}
			delta[seg][run] += sign * n
			return nil
		})
	}
	if err := add(`SELECT segment, entered_run, count(*) FROM segment_history GROUP BY segment, entered_run`, 1); err != nil {
		return nil, err
	}
	if err := add(`SELECT segment, left_run, count(*) FROM segment_history WHERE left_run IS NOT NULL GROUP BY segment, left_run`, -1); err != nil {
		return nil, err
	}
	names, err := c.segmentNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]segmentTrend, 0, len(names))
	for _, name := range names {
		t := segmentTrend{Name: name}
		changes := slices.Sorted(maps.Keys(delta[name]))
		var size int64
		i := 0
		for _, run := range runs {
			for ; i < len(changes) && changes[i] <= run; i++ {
				size += delta[name][changes[i]]
			}
			t.Points = append(t.Points, trendPoint{Run: run, Members: size})
		}
		for ; i < len(changes); i++ {
			size += delta[name][changes[i]]
		}
		t.Members = size
		out = append(out, t)
	}
	return out, nil
}

// segmentNames lists the segments of the last run, in knit.yaml's order.
func (c *Console) segmentNames(ctx context.Context) ([]string, error) {
	if ok, err := c.hasTable(ctx, insights.SegmentDefsTable); err != nil || !ok {
		return nil, err
	}
	var names []string
	err := c.each(ctx, `SELECT segment FROM segment_defs ORDER BY segment LIMIT 1000`, nil, func(rows *sql.Rows) error {
		var s string
		err := rows.Scan(&s)
		names = append(names, s)
		return err
	})
	return inConfigOrder(names, c.proj.Config.SegmentOrder), err
}

// inConfigOrder orders names as knit.yaml lists them, unknown names after.
func inConfigOrder(names, order []string) []string {
	rank := func(n string) int {
		if i := slices.Index(order, n); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	return names
}
