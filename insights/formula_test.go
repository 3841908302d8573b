package insights_test

import (
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/insights"
)

type plainDialect struct{}

func (plainDialect) Name() string                { return "duckdb" }
func (plainDialect) Quote(s string) string       { return `"` + s + `"` }
func (plainDialect) Param(int) string            { return "?" }
func (plainDialect) TypeName(engine.Type) string { return "T" }
func (plainDialect) Similarity(m, a, b string) string {
	return m + "(" + a + ", " + b + ")"
}

// Formulas: precise errors for unknown names, bad syntax and cycles.
func TestFormulaErrors(t *testing.T) {
	tests := []struct{ formulas, want string }{
		{"  f: {formula: revenue / ordrs}\n", `measures.f.formula: "ordrs" is not a measure of the same scope`},
		{"  f: {formula: revenue /}\n", "measures.f.formula: the formula ends where a measure or number is expected"},
		{"  f: {formula: (revenue}\n", "measures.f.formula: missing ) for the ( at position 1"},
		{"  f: {formula: revenue $ 2}\n", `measures.f.formula: unexpected "$" at position 9`},
		{"  f: {formula: g + 1}\n  g: {formula: f * 2}\n", "measures refer to each other in a cycle: f → g → f"},
		{"  f: {aggregate: sum, of: store}\n", "measures.f.of: sum needs a number, but store is text"},
		{"  f: {aggregate: max, of: amout}\n", `measures.f.of: "amout" is not an activity property`},
		{"  f: {aggregate: count, where: 'amout > 3'}\n", "measures.f.where: where 1:1: unknown activity property amout"},
	}
	for _, tt := range tests {
		cfg, err := config.Parse("knit.yaml", []byte(insightsYAML+tt.formulas))
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, err = insights.CompileMeasures(cfg, plainDialect{}, time.Now())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", strings.TrimSpace(tt.formulas), err, tt.want)
		}
	}
}

const insightsYAML = `sources:
  events:
    file: events.csv
    kind: events
    primary_key: id
    timestamp: ts
    identifiers: {member: member_id}
    columns: {amount: float}
activities:
  events: {type_column: type, properties: {amount: amount, store: store}}
measures:
  revenue: {aggregate: sum, of: amount}
`
