package main

import (
	"database/sql"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newQueryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "query <project> <sql>",
		Short: "Run a SQL query on the project's results and print the rows",
		Long: `Query runs one SQL statement against the project's database (tables are
listed in the README) and prints the result as a table. It is meant for
reading; the next knit run replaces result tables as a whole.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			rows, err := eng.Query(cmd.Context(), args[1])
			if err != nil {
				return err
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, strings.Join(cols, "\t"))
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
				cells := make([]string, len(cols))
				for i, v := range vals {
					cells[i] = "NULL"
					if v.Valid {
						cells[i] = v.String
					}
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			if err := rows.Err(); err != nil {
				return err
			}
			return tw.Flush()
		},
	}
}
