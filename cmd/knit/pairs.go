package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit"
)

// reviewPair is one scored pair of the match_pairs table.
type reviewPair struct {
	A           string  `json:"a"`
	B           string  `json:"b"`
	Probability float64 `json:"probability"`
	Weight      float64 `json:"weight"`
	Linked      bool    `json:"linked"`
	Explanation string  `json:"explanation"`
}

func newPairsCmd() *cobra.Command {
	var near float64
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pairs <project>",
		Short: "List the model-scored pairs nearest the threshold, for review",
		Long: `Pairs lists the pairs the probabilistic model scored within --near of the
threshold (closest first) with each comparison's contribution, so a person can
review them and add the record keys to the always-match or never-match file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			proj, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			m := proj.Config.Unify.Model
			if m == nil {
				return knit.Errorf(knit.EINVALID, "%s has no unify.model: only model-scored pairs are listed", proj.Path)
			}
			if ok, err := eng.TableExists(cmd.Context(), "match_pairs"); err != nil {
				return err
			} else if !ok {
				return knit.Errorf(knit.ENOTFOUND, "no scored pairs yet: run \"knit train %s\" and \"knit run %s\" first", args[0], args[0])
			}
			rows, err := eng.Query(cmd.Context(),
				`SELECT a, b, probability, weight, linked, explanation FROM match_pairs
				 WHERE abs(probability - ?) <= ? ORDER BY abs(probability - ?), a, b LIMIT ?`,
				m.Threshold, near, m.Threshold, limit)
			if err != nil {
				return err
			}
			defer rows.Close()
			var out []reviewPair
			for rows.Next() {
				var p reviewPair
				if err := rows.Scan(&p.A, &p.B, &p.Probability, &p.Weight, &p.Linked, &p.Explanation); err != nil {
					return err
				}
				out = append(out, p)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d pairs within %g of the threshold %g (closest first)\n", len(out), near, m.Threshold)
			for _, p := range out {
				verdict := "not linked"
				if p.Linked {
					verdict = "linked"
				}
				fmt.Fprintf(w, "\n%s  %s  probability %.4f, weight %+.2f, %s\n", p.A, p.B, p.Probability, p.Weight, verdict)
				for _, term := range strings.Split(p.Explanation, "; ") {
					fmt.Fprintf(w, "    %s\n", term)
				}
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&near, "near", 0.1, "list pairs whose probability is within this distance of the threshold")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many pairs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
