package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit/pipeline"
)

func newTrainCmd() *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "train <project>",
		Short: "Estimate the probabilistic model's parameters into knit.model.yaml",
		Long: `Train reads the sources and estimates the parameters of unify.model: u from
random record pairs, m by expectation-maximisation over the pairs of each
training blocking rule, term frequencies and the prior. The trained model is
written to the project folder (knit.model.yaml by default) as a readable file
that "knit run" uses. No hand-labelled pairs are needed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			proj, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			var opt pipeline.Options
			if !quiet {
				opt.Progress = newProgress(os.Stderr).update
			}
			_, rep, err := pipeline.Train(cmd.Context(), proj, eng, opt)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			rep.Print(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the training report as JSON")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress display")
	return cmd
}
