package config

import (
	"slices"
	"strings"
	"testing"
)

const insightsBase = `sources:
  web:
    file: web.csv
    kind: events
    primary_key: id
    timestamp: ts
    identifiers: {visitor: anonymous_id}
`

func TestInsightsDecodeAndDefaults(t *testing.T) {
	cfg := mustParse(t, insightsBase+`activities:
  web:
    type_column: event
    properties: {amount: amount, store: store}
measures:
  orders: {aggregate: count, activity: Checkout}
  revenue: {aggregate: sum, of: amount, where: 'store = "S1"', window: in the last 30 days}
  aov: {formula: revenue / orders}
segments:
  buyers: did "Checkout"
  frozen: {rule: known, static: true}
exports:
  buyers_csv: {segment: buyers, to: csv}
  hook: {segment: buyers, to: webhook, url: "http://127.0.0.1:1/x"}
`)
	if got := cfg.Activities["web"].PropCols; !slices.Equal(got, []string{"amount", "store"}) {
		t.Errorf("property columns = %v, want file order [amount store]", got)
	}
	if cfg.Measures["orders"].Scope != "customer" {
		t.Errorf("default scope = %q, want customer", cfg.Measures["orders"].Scope)
	}
	if !slices.Equal(cfg.MeasureOrder, []string{"orders", "revenue", "aov"}) {
		t.Errorf("measure order = %v", cfg.MeasureOrder)
	}
	if s := cfg.Segments["buyers"]; s.Rule != `did "Checkout"` || s.Static || s.Parsed == nil {
		t.Errorf("shorthand segment = %+v", s)
	}
	if !cfg.Segments["frozen"].Static {
		t.Error("static segment lost its flag")
	}
	x := cfg.Exports["buyers_csv"]
	if x.Path != "exports/buyers_csv" || x.BatchSize != 500 || x.Retries != 4 || x.Backoff != "500ms" {
		t.Errorf("export defaults = %+v", x)
	}
}

func TestInsightsValidationMessages(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"activity of unknown source", "activities:\n  wbe: {type: X}\n",
			`knit.yaml:9:3: activities.wbe: "wbe" is not a source; activities are keyed by an event source: did you mean "web"?`},
		{"type and type_column", "activities:\n  web: {type: X, type_column: event}\n",
			`knit.yaml:9:8: activities.web: set exactly one of type (a constant such as Purchase) or type_column (the column holding the type)`},
		{"bad property name", "activities:\n  web: {type: X, properties: {Amount: Amount}}\n",
			`knit.yaml:9:31: activities.web.properties.Amount: "Amount" is not a valid property name; names must start with a lower-case letter and use only a-z, 0-9 and _ (at most 63 characters)`},
		{"unknown aggregate", "measures:\n  m: {aggregate: total}\n",
			`knit.yaml:9:18: measures.m.aggregate: "total" is not a valid aggregate; use one of count, count_distinct, sum, avg, min, max, first, last, argmax, argmin, days_since_first, days_since_last`},
		{"sum without of", "measures:\n  m: {aggregate: sum}\n",
			`knit.yaml:9:3: measures.m.of: required for sum: the activity property to aggregate`},
		{"bad where", "measures:\n  m: {aggregate: count, where: amount >}\n",
			`knit.yaml:9:32: measures.m.where: where 1:9: expected a value`},
		{"bad window", "measures:\n  m: {aggregate: count, window: in the last 3 dayz}\n",
			`knit.yaml:9:33: measures.m.window: window 1:15: expected a unit after 3`},
		{"bad rule", "segments:\n  s: known and did Checkout\n",
			`knit.yaml:9:6: segments.s: 1:15: expected a quoted activity type after did`},
		{"export of unknown segment", "segments:\n  buyers: known\nexports:\n  e: {segment: buyer, to: csv}\n",
			`knit.yaml:11:16: exports.e.segment: "buyer" is not a segment; did you mean "buyers"?`},
		{"webhook without url", "exports:\n  e: {to: webhook}\n",
			`knit.yaml:9:3: exports.e.url: required for webhook exports`},
		{"bad backoff", "exports:\n  e: {to: csv, backoff: soon}\n",
			`knit.yaml:9:25: exports.e.backoff: "soon" is not a duration; write e.g. 500ms or 2s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := parseErrorLines(t, insightsBase+tt.yaml)
			for _, l := range lines {
				if strings.HasPrefix(l, tt.want) {
					return
				}
			}
			t.Errorf("want a line starting\n  %s\ngot\n  %s", tt.want, strings.Join(lines, "\n  "))
		})
	}
}

// The schema lists the same aggregates and targets that validation allows.
func TestInsightsSchemaEnums(t *testing.T) {
	defs := loadSchema(t)["$defs"].(jsonObject)
	enum := func(def, key string) []string {
		var out []string
		for _, v := range defs[def].(jsonObject)["properties"].(jsonObject)[key].(jsonObject)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := enum("measure", "aggregate"); !slices.Equal(got, MeasureAggregates) {
		t.Errorf("schema aggregates %v, validation %v", got, MeasureAggregates)
	}
	if got := enum("export", "to"); !slices.Equal(got, exportTargets) {
		t.Errorf("schema export targets %v, validation %v", got, exportTargets)
	}
}
