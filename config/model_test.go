package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFuzzyOnTypedColumnRejected: string similarity of a date or number is
// meaningless, so fuzzy rule conditions and string model levels on a typed
// column fail validation with the column named.
func TestFuzzyOnTypedColumnRejected(t *testing.T) {
	base := `
sources:
  crm:
    file: crm.csv
    primary_key: id
    columns: {dob: {type: date}}
    attributes: {dob: person.dob, last: person.last_name}
unify:
`
	tests := []struct{ name, unify, want string }{
		{"rule", "  rules:\n    - conditions: [{field: person.dob, precision: high}]\n",
			"unify.rules[0].conditions[0].precision: fuzzy matching compares text; \"person.dob\" is fed by sources.crm.columns.dob, a date column"},
		{"model preset", "  model:\n    comparisons: [{field: person.dob, preset: jaro_winkler}]\n    blocking: [[person.last_name]]\n",
			"unify.model.comparisons[0].preset: fuzzy matching compares text"},
		{"model without blocking", "  model:\n    comparisons: [{field: person.last_name, preset: name}]\n",
			"unify.model.blocking: the model needs at least one blocking rule"},
		{"bad blocking key", "  model:\n    comparisons: [{field: person.last_name, preset: name}]\n    blocking: [[person.last_name:x]]\n",
			"after the colon give the number of leading characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), []byte(base+tt.unify), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
