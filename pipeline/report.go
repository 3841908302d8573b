package pipeline

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is what a run did, stage by stage. It is printed after every run,
// stored as JSON in the runs table, and returned by --json.
type Report struct {
	RunID    int64           `json:"run_id"`
	Project  string          `json:"project"`
	Status   string          `json:"status"`
	Error    string          `json:"error,omitempty"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	Duration float64         `json:"seconds"`
	Sources  []*SourceReport `json:"sources"`
	// Identifiers is the number of distinct standardised identifiers.
	Identifiers           int64            `json:"identifiers"`
	Links                 []*LinkReport    `json:"links"`
	Refused               map[string]int64 `json:"refused"` // by guard
	Generic               []GenericReport  `json:"generic_values"`
	Profiles              ProfileCounts    `json:"profiles"`
	RecordsWithoutProfile int64            `json:"records_without_profile"`
	IDs                   IDCounts         `json:"ids"`
	Stages                []StageReport    `json:"stages"`
	// Only lists the stages of a partial run.
	Only []string `json:"only,omitempty"`
	// Insights reports activities, measures, segments and exports.
	Insights *InsightsReport `json:"insights,omitempty"`
	// Model is what the probabilistic matcher did (nil without unify.model).
	Model *ModelReport `json:"model,omitempty"`
}

// SourceReport counts one source.
type SourceReport struct {
	Name             string  `json:"name"`
	Kind             string  `json:"kind"`
	File             string  `json:"file"`
	RowsRead         int64   `json:"rows_read"`
	RowsLoaded       int64   `json:"rows_loaded"`
	RowsRejected     int64   `json:"rows_rejected"`
	Duplicates       int64   `json:"duplicates_collapsed"`
	Records          int64   `json:"records"`
	DedupeGroups     int64   `json:"dedupe_groups"`
	DedupeAlternates int64   `json:"dedupe_alternates"`
	Seconds          float64 `json:"seconds"`
}

// LinkReport counts the links of one rule or evidence kind.
type LinkReport struct {
	Rule     string `json:"rule"`
	Kind     string `json:"kind"`
	Accepted int64  `json:"accepted"`
	Refused  int64  `json:"refused"`
}

// GenericReport is one identifier value detected as generic.
type GenericReport struct {
	Value    string `json:"value"`
	SeenWith string `json:"seen_with"`
	Distinct int    `json:"distinct"`
}

// ProfileCounts counts profiles.
type ProfileCounts struct {
	Total   int64 `json:"total"`
	Known   int64 `json:"known"`
	Unknown int64 `json:"unknown"`
}

// IDCounts says what happened to customer IDs.
type IDCounts struct {
	New     int64 `json:"new"`
	Kept    int64 `json:"kept"`
	Merged  int64 `json:"merged"`
	Split   int64 `json:"split"`
	Retired int64 `json:"retired"`
}

// StageReport is one stage's duration: wall-clock, and the CPU time of
// the whole process meanwhile (every thread, DuckDB's included), which
// stays comparable when other jobs share the machine.
type StageReport struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

func (r *Report) addRefusal(guard string) { r.Refused[guard]++ }

// guardOf names the guard behind a refusal reason.
func guardOf(reason string) string {
	if i := strings.IndexByte(reason, ':'); i > 0 {
		return reason[:i]
	}
	return reason
}

// Print writes the report for a person.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "run %d %s in %.2fs  (%s)\n", r.RunID, r.Status, r.Duration, r.Project)
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	fmt.Fprintf(w, "\nsources                     rows   rejected  duplicates    records\n")
	for _, s := range r.Sources {
		fmt.Fprintf(w, "  %-20s %11d %10d %11d %10d\n", s.Name, s.RowsRead, s.RowsRejected, s.Duplicates, s.Records)
	}
	if len(r.Links) > 0 {
		fmt.Fprintf(w, "\nlinks                                          accepted    refused\n")
		for _, l := range r.Links {
			fmt.Fprintf(w, "  %-42s %11d %10d\n", truncate(l.Rule, 42), l.Accepted, l.Refused)
		}
	}
	if len(r.Refused) > 0 {
		fmt.Fprintf(w, "\nrefused by guard\n")
		for _, g := range sortedKeys(r.Refused) {
			fmt.Fprintf(w, "  %-42s %11d\n", g, r.Refused[g])
		}
	}
	for i, g := range r.Generic {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more generic values (table generic_values)\n", len(r.Generic)-i)
			break
		}
		fmt.Fprintf(w, "  generic value %s (seen with %d %s values)\n", g.Value, g.Distinct, g.SeenWith)
	}
	if m := r.Model; m != nil {
		fmt.Fprintf(w, "\nmodel: %d records, %d candidate pairs scored in %.2fs (%.0f pairs/s), %d kept for review (read in %.2fs), %d links at probability ≥ %g\n",
			m.Records, m.Pairs, m.ScoreSeconds, m.PairsPerSec, m.Kept, m.ReadSeconds, m.Links, m.Threshold)
	}
	fmt.Fprintf(w, "\nprofiles %d (known %d, unknown %d); %d records without a profile\n",
		r.Profiles.Total, r.Profiles.Known, r.Profiles.Unknown, r.RecordsWithoutProfile)
	fmt.Fprintf(w, "customer IDs: %d new, %d kept, %d merged, %d split, %d retired\n",
		r.IDs.New, r.IDs.Kept, r.IDs.Merged, r.IDs.Split, r.IDs.Retired)
	r.printInsights(w)
	fmt.Fprintf(w, "\nstages:")
	for _, s := range r.Stages {
		fmt.Fprintf(w, " %s %.2fs", s.Name, s.Seconds)
	}
	fmt.Fprintln(w)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
