package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/demo"
)

func newDemoDataCmd() *cobra.Command {
	var preset string
	var customers int
	var seed int64
	cmd := &cobra.Command{
		Use:   "demo-data <folder>",
		Short: "Write a synthetic coffee-chain project of any size, with ground truth",
		Long: `Demo-data writes a complete project — knit.yaml, loyalty, e-commerce, web and
POS files, and truth.csv mapping every record key to the real person — so knit
can be tried and measured at any size. The same seed gives the same bytes.
Presets: ` + strings.Join(demo.PresetNames, ", ") + `. See docs/demo-data.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := demo.Preset(preset)
			if err != nil {
				return knit.Wrap(knit.EINVALID, err, "--preset")
			}
			if customers > 0 {
				if opt.Dataset == demo.People {
					opt.PersonRecords = customers
				} else {
					opt.Customers = customers
				}
			}
			if seed != 0 {
				opt.Seed = seed
			}
			st, err := demo.Generate(args[0], opt)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().StringVar(&preset, "preset", "small", "workload: "+strings.Join(demo.PresetNames, ", "))
	cmd.Flags().IntVar(&customers, "customers", 0, "number of customers (person records for the people preset); 0 keeps the preset's")
	cmd.Flags().Int64Var(&seed, "seed", 0, "random seed; 0 keeps the preset's")
	return cmd
}
