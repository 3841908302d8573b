package export

import (
	"context"
	"fmt"

	"github.com/knit-cdp/knit/config"
)

// writePostgres upserts the selection into the export's table through the
// TableWriter. A full export replaces the table's contents (rows of
// customers no longer in the segment are deleted); a changes export
// upserts those who entered and deletes those who left.
func (env *Env) writePostgres(ctx context.Context, x *config.Export, sel *selection, res *Result) error {
	if env.Postgres == nil {
		return fmt.Errorf("this knit was built without PostgreSQL exports")
	}
	cols := sel.cols
	if sel.change {
		cols = cols[:len(cols)-1] // the change decides upsert or delete
	}
	keyAt := 0
	for i, c := range cols {
		if c.Name == sel.key {
			keyAt = i
		}
	}
	var rows [][]any
	var remove []string
	err := env.each(ctx, sel, func(row []any) error {
		res.count(sel, row)
		if sel.change && row[len(row)-1] == "left" {
			remove = append(remove, fmt.Sprint(row[keyAt]))
			return nil
		}
		rows = append(rows, append([]any(nil), row[:len(cols)]...))
		return nil
	})
	if err != nil {
		return err
	}
	res.Location = x.Table
	_, err = env.Postgres.WriteTable(ctx, expand(x.URL), x.Table, cols, sel.key, rows, remove, !sel.change)
	return err
}
