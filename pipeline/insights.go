package pipeline

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/export"
	"github.com/knit-cdp/knit/insights"
)

// Stages a partial run (Options.Only) may name. "unify" is every stage
// from load to fields, and the search index; the others are the stages
// of that name ("search" rebuilds the search index of the last results;
// "segments" rebuilds it too, as it holds each profile's segments).
var PartialStages = []string{"unify", "search", "activities", "measures", "segments", "exports"}

// unifyStages are the stages "unify" stands for.
var unifyStages = []string{"load", "match", "cluster", "ids", "write", "fields"}

// InsightsReport is what the activities, measures, segments and exports
// stages did.
type InsightsReport struct {
	Activities *insights.ActivityStats  `json:"activities,omitempty"`
	Measures   *insights.MeasureStats   `json:"measures,omitempty"`
	Segments   []*insights.SegmentStats `json:"segments,omitempty"`
	Exports    []*export.Result         `json:"exports,omitempty"`
}

// insightsRun is the state of the insight stages in one run.
type insightsRun struct {
	tables *insights.Tables
	staged []string // insight tables this run staged, to swap in
}

// checkOnly validates Options.Only.
func checkOnly(only []string) error {
	for _, s := range only {
		if !slices.Contains(PartialStages, s) {
			return knit.Errorf(knit.EINVALID, "--only: unknown stage %q; use a comma-separated list of %s", s, strings.Join(PartialStages, ", "))
		}
	}
	return nil
}

// wants reports whether a stage runs in this run.
func (r *run) wants(stage string) bool {
	if len(r.opt.Only) == 0 || stage == "swap" {
		return true
	}
	if slices.Contains(unifyStages, stage) {
		stage = "unify"
	}
	// The search index holds the profiles and their segments.
	if stage == "search" && (slices.Contains(r.opt.Only, "unify") || slices.Contains(r.opt.Only, "segments")) {
		return true
	}
	return slices.Contains(r.opt.Only, stage)
}

// partial reports whether the unify stages are skipped, so the run reads
// the last run's unified tables.
func (r *run) partial() bool { return !r.wants("load") }

func (r *run) insightsEnv() *insights.Env {
	if r.ins.tables == nil {
		r.ins.tables = insights.NewTables()
		if !r.partial() {
			tables := append([]string{}, resultTables...)
			for _, s := range r.sources {
				tables = append(tables, s.table)
			}
			r.ins.tables.Staged(tables...)
		}
	}
	return &insights.Env{Eng: r.eng, Proj: r.proj, Tables: r.ins.tables}
}

// checkInsights compiles measures and segments before any data is read,
// so a misspelt name fails the run at once.
func (r *run) checkInsights() error {
	env := r.insightsEnv()
	if _, _, _, err := insights.CompileMeasures(&r.proj.Config, r.eng.Dialect(), r.opt.Now()); err != nil {
		return err
	}
	return insights.CheckSegments(env, r.opt.Now())
}

func (r *run) insightStage(ctx context.Context, stage string) error {
	env := r.insightsEnv()
	if r.rep.Insights == nil {
		r.rep.Insights = &InsightsReport{}
	}
	var err error
	staged := insights.StageTables[stage]
	switch stage {
	case "activities":
		r.rep.Insights.Activities, err = insights.BuildActivities(ctx, env)
		if err == nil {
			staged = r.rep.Insights.Activities.Staged()
		}
	case "measures":
		r.rep.Insights.Measures, err = insights.BuildMeasures(ctx, env, r.rep.Started)
	case "segments":
		r.rep.Insights.Segments, err = insights.BuildSegments(ctx, env, r.runID, r.rep.Started)
		if err == nil {
			staged = env.StagedSegmentTables()
		}
	}
	if err != nil {
		return err
	}
	r.ins.staged = append(r.ins.staged, staged...)
	r.ins.tables.Staged(staged...)
	return nil
}

// swapTables lists the tables this run swaps in: everything it staged.
func (r *run) swapTables(unified []string) []string {
	if r.partial() {
		return append(slices.Clone(r.ins.staged), r.searchStaged...)
	}
	return append(append(unified, r.searchStaged...), r.ins.staged...)
}

// runExports sends this run's results; it runs after the swap, so only the
// results of a successful run leave the building. A failed export is
// reported and does not fail the run.
func (r *run) runExports(ctx context.Context) error {
	if r.rep.Insights == nil {
		r.rep.Insights = &InsightsReport{}
	}
	env := &export.Env{Eng: r.eng, Proj: r.proj, RunID: r.runID, Now: r.rep.Started, Postgres: r.opt.TableWriter}
	r.rep.Insights.Exports = export.Run(ctx, env)
	return ctx.Err()
}

// printInsights writes the insight stages' part of the report.
func (r *Report) printInsights(w io.Writer) {
	in := r.Insights
	if in == nil {
		return
	}
	if a := in.Activities; a != nil {
		fmt.Fprintf(w, "\nactivities                  written  unresolved\n")
		for _, src := range sortedKeys(a.Activities) {
			fmt.Fprintf(w, "  %-20s %12d %11d\n", src, a.Activities[src], a.Unresolved[src])
		}
	}
	if m := in.Measures; m != nil {
		fmt.Fprintf(w, "measures: %d customer, %d business (%d rows)\n", m.Customer, m.Business, m.BusinessRows)
	}
	if len(in.Segments) > 0 {
		fmt.Fprintf(w, "\nsegments                       members    entered       left     change\n")
		for _, s := range in.Segments {
			fmt.Fprintf(w, "  %-26s %10d %10d %10d %+10d\n", truncate(s.Name, 26), s.Members, s.Entered, s.Left, s.Members-s.Previous)
		}
	}
	if len(in.Exports) > 0 {
		fmt.Fprintf(w, "\nexports\n")
		for _, x := range in.Exports {
			line := fmt.Sprintf("  %-20s %-8s %-9s %10d rows", x.Name, x.To, x.Status, x.Rows)
			if x.Error != "" {
				line += "  " + x.Error
			} else if x.Location != "" {
				line += "  → " + x.Location
			}
			fmt.Fprintln(w, line)
		}
	}
}

var _ = engine.StagedName
