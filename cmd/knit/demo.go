package main

import (
	"github.com/spf13/cobra"
)

func newDemoDataCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "demo-data",
		Short:  "Write a synthetic coffee-chain project of any size, with ground truth",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return nil
		},
	}
}
