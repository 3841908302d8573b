package pipeline_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestFieldsAndKeyringAgreeWithSQL checks the unified fields and the
// keyring index, which the run computes in Go from the records in memory,
// against the same tables built in SQL from the written records and
// record_identifiers (the way knit built them before): a window query per
// field ranking a profile's records by the field's policy, and the join of
// record identifiers to their records. Every policy is covered, with and
// without a field's own source order, on a generated project.
func TestFieldsAndKeyringAgreeWithSQL(t *testing.T) {
	for name, edits := range map[string][][2]string{
		"most_recent and source_priority": nil,
		"least_recent, most_filled and field orders": {
			{"person.first_name: {policy: most_recent}", "person.first_name: {policy: least_recent}"},
			{"person.last_name: {policy: most_recent, normalize: name}", "person.last_name: {policy: most_filled, normalize: name, order: [ecommerce, loyalty]}"},
			{"address.city: {policy: source_priority}", "address.city: {policy: source_priority, order: [pos, ecommerce, loyalty]}"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := generated(t, 400)
			for _, e := range edits {
				editConfig(t, dir, e[0], e[1])
			}
			p, _ := mustRun(t, dir)
			if n := p.count(`SELECT count(*) FROM field_lineage`); n < 400 {
				t.Fatalf("field_lineage has %d rows; want one per field of most of 400 customers", n)
			}
			var oracle []string
			for _, field := range p.proj.Config.FieldOrder {
				f := p.proj.Config.Fields[field]
				oracle = append(oracle, fmt.Sprintf(`SELECT customer_id, '%s' AS field, value, record_key, '%s' AS policy, alternatives FROM (
  SELECT customer_id, "%s" AS value, record_key,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY %s) AS rn,
         COUNT(*) OVER (PARTITION BY customer_id) - 1 AS alternatives
  FROM records WHERE customer_id IS NOT NULL AND "%s" IS NOT NULL) WHERE rn = 1`,
					field, f.Policy, field, sqlPolicyOrder(f.Policy, f.Order), field))
			}
			want := strings.Join(oracle, "\nUNION ALL\n")
			for _, q := range []string{
				`SELECT count(*) FROM (SELECT * FROM field_lineage EXCEPT ALL (` + want + `))`,
				`SELECT count(*) FROM ((` + want + `) EXCEPT ALL SELECT * FROM field_lineage)`,
				// profiles carry the winning values as columns
				`SELECT count(*) FROM profiles p JOIN field_lineage l USING (customer_id)
				 WHERE l.value IS DISTINCT FROM CASE l.field WHEN 'person.first_name' THEN p."person.first_name"
				   WHEN 'person.last_name' THEN p."person.last_name" WHEN 'address.city' THEN p."address.city" END`,
				`SELECT count(*) FROM profiles p WHERE (p."person.first_name" IS NOT NULL) <> EXISTS (
				   SELECT 1 FROM field_lineage l WHERE l.customer_id = p.customer_id AND l.field = 'person.first_name')`,
				// the keyring index: every identifier a record links, with that record's customer
				`SELECT count(*) FROM (
				   SELECT ri.type, ri.value, MIN(rec.customer_id) FROM record_identifiers ri JOIN records rec USING (record_key)
				   WHERE ri.linked GROUP BY ri.type, ri.value
				   EXCEPT ALL SELECT * FROM identifiers)`,
				`SELECT count(*) - count(DISTINCT (type, value)) FROM identifiers`,
				// written in customer order, then type and value
				`SELECT count(*) FROM (SELECT rowid, ROW_NUMBER() OVER (ORDER BY customer_id, type, value) - 1 AS pos FROM identifiers) WHERE rowid <> pos`,
				`SELECT count(*) FROM (SELECT rowid, ROW_NUMBER() OVER (ORDER BY customer_id) - 1 AS pos FROM profiles) WHERE rowid <> pos`,
			} {
				if n := p.count(q); n != 0 {
					t.Errorf("%d rows differ:\n%s", n, q)
				}
			}
			if n := p.count(`SELECT count(*) FROM identifiers WHERE (type, value) NOT IN (SELECT (type, value) FROM record_identifiers)`); n == 0 {
				t.Log("no identifier outside record_identifiers (co-occurrence only) in this project")
			}
		})
	}
}

// sqlPolicyOrder is the ORDER BY that ranked a field's records in SQL.
func sqlPolicyOrder(policy string, order []string) string {
	rank := "source_rank"
	if len(order) > 0 {
		rank = "CASE source"
		for i, s := range order {
			rank += fmt.Sprintf(" WHEN '%s' THEN %d", s, i)
		}
		rank += fmt.Sprintf(" ELSE %d END", len(order))
	}
	switch policy {
	case "most_recent":
		return "updated_at DESC NULLS LAST, " + rank + ", record_key"
	case "least_recent":
		return "updated_at ASC NULLS LAST, " + rank + ", record_key"
	case "most_filled":
		return "filled DESC, " + rank + ", record_key"
	}
	return rank + ", dedupe_winner DESC, updated_at DESC NULLS LAST, record_key"
}
