package lookup

import (
	"context"
	"fmt"

	"github.com/knit-cdp/knit/engine"
)

// Measure is one customer measure's value on a profile (nil: none, such as
// the average of no purchases).
type Measure struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// measures reads a customer's row of customer_measures, one entry per
// measure column in the table's order. A project without measures (or
// results from before measures existed) has none.
func measures(ctx context.Context, eng engine.Engine, customerID string) ([]Measure, error) {
	ok, err := eng.TableExists(ctx, "customer_measures")
	if err != nil || !ok {
		return nil, err
	}
	rows, err := eng.Query(ctx, engine.Rebind(eng.Dialect(), `SELECT * FROM customer_measures WHERE customer_id = ?`), customerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("customer measures of %s: %w", customerID, err)
	}
	var out []Measure
	for i, c := range cols {
		if c != "customer_id" {
			out = append(out, Measure{Name: c, Value: vals[i]})
		}
	}
	return out, rows.Err()
}
