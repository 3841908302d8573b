package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/insights"
	"github.com/knit-cdp/knit/lookup"
)

func newSegmentCmd() *cobra.Command {
	var asJSON, count bool
	cmd := &cobra.Command{
		Use:   "segment <project> <name>",
		Short: "List a segment's members after the last run",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			out := cmd.OutOrStdout()
			if count {
				n, err := insights.CountMembers(cmd.Context(), eng, args[1])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(out, map[string]any{"segment": args[1], "members": n})
				}
				fmt.Fprintln(out, n)
				return nil
			}
			members, err := insights.Members(cmd.Context(), eng, args[1])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(out, map[string]any{"segment": args[1], "members": members})
			}
			fmt.Fprintf(out, "%-36s  %-7s  %s\n", "customer_id", "known", "entered")
			for _, m := range members {
				fmt.Fprintf(out, "%-36s  %-7t  run %d, %s\n", m.CustomerID, m.Known, m.EnteredRun, m.EnteredAt.UTC().Format("2006-01-02 15:04"))
			}
			fmt.Fprintf(out, "%d members\n", len(members))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&count, "count", false, "print only the number of members")
	return cmd
}

func newTimelineCmd() *cobra.Command {
	var asJSON bool
	var types []string
	var since, until string
	var limit int
	cmd := &cobra.Command{
		Use:   "timeline <project> <key>",
		Short: "A customer's activities, newest first",
		Long: `Timeline lists the activities of the customer behind a key (type:value,
source/pk or a customer ID), newest first, including those recorded while the
customer was still unknown.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			proj, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			res, err := lookup.Resolve(cmd.Context(), eng, proj, args[1])
			if err != nil {
				return err
			}
			f := insights.TimelineFilter{Types: types, Limit: limit}
			for _, p := range insights.Properties(&proj.Config) {
				f.Properties = append(f.Properties, p.Name)
			}
			if f.From, err = parseDay(since, "--since", 0); err != nil {
				return err
			}
			if f.To, err = parseDay(until, "--until", 1); err != nil {
				return err
			}
			acts, err := insights.Timeline(cmd.Context(), eng, res.CustomerID, f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{"customer_id": res.CustomerID, "activities": acts})
			}
			fmt.Fprintf(out, "customer %s: %d activities\n", res.CustomerID, len(acts))
			for _, a := range acts {
				ts := "(no time)       "
				if a.Time != nil {
					ts = a.Time.Format("2006-01-02 15:04")
				}
				state := "known"
				if !a.KnownAtTime {
					state = "unknown"
				}
				line := fmt.Sprintf("  %s  %-16s %-24s %-7s %s", ts, a.Type, a.Title, state, a.ActivityID)
				if len(a.Properties) > 0 {
					b, _ := json.Marshal(a.Properties)
					line += "  " + string(b)
				}
				fmt.Fprintln(out, strings.TrimRight(line, " "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only activities of these types (repeat or separate with commas)")
	cmd.Flags().StringVar(&since, "since", "", "only activities on or after this day (YYYY-MM-DD, UTC)")
	cmd.Flags().StringVar(&until, "until", "", "only activities on or before this day (YYYY-MM-DD, UTC)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many activities (0: all)")
	return cmd
}

// parseDay reads a YYYY-MM-DD flag; addDays 1 makes an inclusive end day
// an exclusive bound.
func parseDay(s, flag string, addDays int) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, knit.Errorf(knit.EINVALID, "%s %q: write a day as YYYY-MM-DD, e.g. 2024-03-31", flag, s)
	}
	return t.AddDate(0, 0, addDays), nil
}

func newRunsCmd() *cobra.Command {
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "runs <project>",
		Short: "The run history: when, how long, status, counts and errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			runs, err := insights.Runs(cmd.Context(), eng, limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, runs)
			}
			fmt.Fprintf(out, "%5s  %-19s  %8s  %-11s  %9s  %8s  %s\n", "run", "started", "seconds", "status", "profiles", "segments", "stages / error")
			for _, r := range runs {
				var rep struct {
					Profiles struct{ Total int64 }   `json:"profiles"`
					Only     []string                `json:"only"`
					Stages   []struct{ Name string } `json:"stages"`
					Insights *struct {
						Segments []json.RawMessage `json:"segments"`
						Exports  []struct {
							Name, Status string
						} `json:"exports"`
					} `json:"insights"`
				}
				_ = json.Unmarshal(r.Report, &rep)
				secs := ""
				if r.Finished != nil {
					secs = fmt.Sprintf("%.2f", r.Finished.Sub(r.Started).Seconds())
				}
				segs := 0
				var failed []string
				if rep.Insights != nil {
					segs = len(rep.Insights.Segments)
					for _, x := range rep.Insights.Exports {
						if x.Status != "succeeded" {
							failed = append(failed, x.Name)
						}
					}
				}
				var stages []string
				for _, s := range rep.Stages {
					stages = append(stages, s.Name)
				}
				note := strings.Join(stages, ",")
				if len(rep.Only) > 0 {
					note = "partial: " + note
				}
				if len(failed) > 0 {
					note += "; failed exports: " + strings.Join(failed, ", ")
				}
				if r.Error != "" {
					note = r.Error
				}
				fmt.Fprintf(out, "%5d  %-19s  %8s  %-11s  %9d  %8d  %s\n", r.RunID, r.Started.UTC().Format("2006-01-02 15:04:05"), secs, r.Status, rep.Profiles.Total, segs, firstLine(note))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with each run's full report)")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many runs, newest first (0: all)")
	return cmd
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
