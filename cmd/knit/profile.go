package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit"

	"github.com/knit-cdp/knit/lookup"
)

func newProfileCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "profile <project> <key>",
		Short: "Show the whole customer behind a key",
		Long: `Profile resolves a key — type:value (loyalty_id:707), source/pk (loyalty/707)
or a customer ID, current or previous — and shows the unified fields with the
record that won each, the keyring grouped by source, and previous IDs.`,
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
			p, err := lookup.Get(cmd.Context(), eng, res)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), p)
			}
			printProfile(cmd.OutOrStdout(), p)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func printProfile(w io.Writer, p *lookup.Profile) {
	status := "unknown"
	if p.Known {
		status = "known"
	}
	fmt.Fprintf(w, "customer %s (%s)\n", p.CustomerID, status)
	if p.Resolved.PreviousID != "" {
		fmt.Fprintf(w, "  %s was merged into this customer\n", p.Resolved.PreviousID)
	}
	if p.FirstSeen != nil {
		fmt.Fprintf(w, "  first seen %s, last seen %s\n", fmtTime(p.FirstSeen), fmtTime(p.LastSeen))
	}
	if len(p.Fields) > 0 {
		fmt.Fprintf(w, "\nfields\n")
		for _, f := range p.Fields {
			alt := ""
			if f.Alternatives > 0 {
				alt = fmt.Sprintf(", %d other value(s)", f.Alternatives)
			}
			fmt.Fprintf(w, "  %-22s %-28s from %s (%s%s)\n", f.Name, f.Value, f.Record, f.Policy, alt)
		}
	}
	if len(p.Measures) > 0 {
		fmt.Fprintf(w, "\nmeasures\n")
		for _, m := range p.Measures {
			v := "—"
			if m.Value != nil {
				v = fmt.Sprint(m.Value)
			}
			fmt.Fprintf(w, "  %-26s %s\n", m.Name, v)
		}
	}
	fmt.Fprintf(w, "\nkeyring\n")
	bySource := map[string][]string{}
	var sources []string
	for _, r := range p.Records {
		if _, ok := bySource[r.Source]; !ok {
			sources = append(sources, r.Source)
		}
		note := ""
		if !r.DedupeWinner {
			note = " (dedupe alternate)"
		}
		if r.Rows > 1 {
			note += fmt.Sprintf(" (%d rows)", r.Rows)
		}
		bySource[r.Source] = append(bySource[r.Source], r.Key+note)
	}
	for _, s := range sources {
		fmt.Fprintf(w, "  %-10s %s\n", s, strings.Join(bySource[s], ", "))
	}
	var ids []string
	for _, id := range p.Identifiers {
		ids = append(ids, id.Type+":"+id.Value)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "ids", strings.Join(ids, ", "))
	if len(p.PreviousIDs) > 0 {
		fmt.Fprintf(w, "\nprevious IDs\n")
		for _, prev := range p.PreviousIDs {
			fmt.Fprintf(w, "  %s (merged in run %d)\n", prev.ID, prev.Run)
		}
	}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func newExplainCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain <project> <key>",
		Short: "Show why a customer's records were linked, and the links refused",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			proj, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			res, err := lookup.Resolve(cmd.Context(), eng, proj, args[1])
			if knit.ErrorCode(err) == knit.ENOTFOUND {
				// No profile: say what happened to the key itself.
				name, links, lerr := lookup.NodeLinks(cmd.Context(), eng, proj, args[1])
				if lerr != nil || len(links) == 0 {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"key": name, "profile": nil, "links": links})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%v\n\nlinks\n", err)
				for _, l := range links {
					fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", describeLink(l))
					if !l.Accepted {
						fmt.Fprintf(cmd.OutOrStdout(), "    refused because %s\n", l.Reason)
					}
				}
				return nil
			}
			if err != nil {
				return err
			}
			ex, err := lookup.Explain(cmd.Context(), eng, res)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), ex)
			}
			printExplanation(cmd.OutOrStdout(), ex)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func printExplanation(w io.Writer, ex *lookup.Explanation) {
	p := ex.Profile
	fmt.Fprintf(w, "customer %s: %d records\n", p.CustomerID, len(p.Records))
	// Identifiers shared by two or more records are what linked them.
	holders := map[string][]string{}
	var order []string
	for _, c := range ex.Carried {
		k := c.Type + ":" + c.Value
		if _, ok := holders[k]; !ok {
			order = append(order, k)
		}
		holders[k] = append(holders[k], c.Record)
	}
	fmt.Fprintf(w, "\nshared identifiers\n")
	shared := 0
	for _, k := range order {
		if len(holders[k]) > 1 {
			fmt.Fprintf(w, "  %-36s links %s\n", k, strings.Join(holders[k], ", "))
			shared++
		}
	}
	if shared == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	fmt.Fprintf(w, "\nlinks\n")
	for _, l := range ex.Accepted {
		fmt.Fprintf(w, "  %s\n", describeLink(l))
	}
	if len(ex.Accepted) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	fmt.Fprintf(w, "\nrefused\n")
	for _, l := range ex.Refused {
		fmt.Fprintf(w, "  %s\n    because %s\n", describeLink(l), l.Reason)
	}
	if len(ex.Refused) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
}

func describeLink(l lookup.Link) string {
	s := fmt.Sprintf("%s — %s  [%s", l.A, l.B, l.Kind)
	if l.Rule != "" && l.Rule != l.Kind {
		s += ": " + l.Rule
	}
	s += "]"
	if l.Evidence != "" {
		s += " on " + l.Evidence
	}
	if l.Occurrences > 1 {
		s += fmt.Sprintf(" (%d times)", l.Occurrences)
	}
	return s
}
