package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/knit-cdp/knit/engine"
)

// mergeFields builds unified profiles: for every field, the winning value
// among the profile's records by the field's policy, with its lineage (the
// record that won). The merge runs in the engine as one window query per
// field.
func (r *run) mergeFields(ctx context.Context) error {
	d := r.eng.Dialect()
	q := d.Quote
	lineage := engine.StagedName("field_lineage")
	err := r.eng.CreateTable(ctx, lineage, []engine.Column{
		{Name: "customer_id", Type: engine.Text}, {Name: "field", Type: engine.Text}, {Name: "value", Type: engine.Text},
		{Name: "record_key", Type: engine.Text}, {Name: "policy", Type: engine.Text}, {Name: "alternatives", Type: engine.BigInt},
	})
	if err != nil {
		return err
	}
	text := d.TypeName(engine.Text)
	for _, name := range r.fields {
		f := r.proj.Config.Fields[name]
		// Placeholders are numbered in the order they appear in the text.
		args := engine.NewArgs(d)
		fieldArg, policyArg := args.Add(name), args.Add(f.Policy)
		order := r.policyOrder(f.Policy, f.Order, args)
		col := q(name)
		// Rows go in customer order, so a profile's fields sit in one row
		// group per field and zone maps skip the rest (see recordsByCustomer).
		stmt := fmt.Sprintf(`INSERT INTO %s
SELECT customer_id, CAST(%s AS %s), value, record_key, CAST(%s AS %s), alternatives FROM (
  SELECT customer_id, %s AS value, record_key,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY %s) AS rn,
         COUNT(*) OVER (PARTITION BY customer_id) - 1 AS alternatives
  FROM %s WHERE customer_id IS NOT NULL AND %s IS NOT NULL
) ranked WHERE rn = 1 ORDER BY customer_id`,
			q(lineage), fieldArg, text, policyArg, text, col, order, q(engine.StagedName("records")), col)
		if err := r.eng.Exec(ctx, stmt, args.List...); err != nil {
			return fmt.Errorf("merge field %s: %w", name, err)
		}
	}
	return r.buildProfiles(ctx)
}

// policyOrder returns the ORDER BY that puts a field's winning record
// first. Every order ends in record_key so ties never depend on row order.
func (r *run) policyOrder(policy string, order []string, args *engine.Args) string {
	rank := "source_rank"
	if len(order) > 0 {
		var b strings.Builder
		b.WriteString("CASE source")
		for i, s := range order {
			fmt.Fprintf(&b, " WHEN %s THEN %d", args.Add(s), i)
		}
		fmt.Fprintf(&b, " ELSE %d END", len(order))
		rank = b.String()
	}
	switch policy {
	case "most_recent":
		return "updated_at DESC NULLS LAST, " + rank + ", record_key"
	case "least_recent":
		return "updated_at ASC NULLS LAST, " + rank + ", record_key"
	case "most_filled":
		return "filled DESC, " + rank + ", record_key"
	default: // source_priority: the first source in order with a value
		return rank + ", dedupe_winner DESC, updated_at DESC NULLS LAST, record_key"
	}
}

// buildProfiles writes the profiles table: one row per customer with its
// known flag, record facts and unified fields as columns.
func (r *run) buildProfiles(ctx context.Context) error {
	base := "profile_base"
	err := r.loadTable(ctx, base, []engine.Column{
		{Name: "customer_id", Type: engine.Text}, {Name: "known", Type: engine.Bool}, {Name: "anchor_record", Type: engine.Text},
		{Name: "record_count", Type: engine.BigInt}, {Name: "sources", Type: engine.Text},
		{Name: "first_seen", Type: engine.Timestamp}, {Name: "last_seen", Type: engine.Timestamp}, {Name: "created_run", Type: engine.BigInt},
	}, len(r.profiles), func(i int, out []any) {
		p := r.profiles[i]
		first, last := noStamp, noStamp
		var srcs []string
		for _, ri := range p.records {
			rec := r.recs[ri]
			f := rec.first
			if f.isZero() {
				f = rec.updated
			}
			if !f.isZero() && (first.isZero() || f < first) {
				first = f
			}
			last = max(last, rec.updated)
			if name := r.sources[rec.source].cfg.Name; !slices.Contains(srcs, name) {
				srcs = append(srcs, name)
			}
		}
		out[0], out[1], out[2] = p.id, p.known, r.g.Nodes[r.recs[p.records[0]].node].Value
		out[3], out[4], out[5], out[6] = int64(len(p.records)), strings.Join(srcs, ","), first.value(), last.value()
		out[7] = r.registry[p.id].Created
	})
	if err != nil {
		return err
	}
	d := r.eng.Dialect()
	q := d.Quote
	args := engine.NewArgs(d)
	var pivot, cols strings.Builder
	for _, name := range r.fields {
		fmt.Fprintf(&pivot, ", max(value) FILTER (WHERE field = %s) AS %s", args.Add(name), q(name))
		fmt.Fprintf(&cols, ", f.%s", q(name))
	}
	stmt := fmt.Sprintf(`CREATE TABLE %s AS
SELECT b.*%s FROM %s b LEFT JOIN (
  SELECT customer_id%s FROM %s GROUP BY customer_id
) f ON f.customer_id = b.customer_id
ORDER BY b.customer_id`,
		q(engine.StagedName("profiles")), cols.String(), q(engine.StagedName(base)), pivot.String(), q(engine.StagedName("field_lineage")))
	if err := r.eng.Exec(ctx, "DROP TABLE IF EXISTS "+q(engine.StagedName("profiles"))); err != nil {
		return err
	}
	if err := r.eng.Exec(ctx, stmt, args.List...); err != nil {
		return err
	}
	return r.eng.Exec(ctx, "DROP TABLE "+q(engine.StagedName(base)))
}
