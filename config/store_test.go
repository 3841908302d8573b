package config

import (
	"strings"
	"testing"
)

// A PostgreSQL store is a URL without a password (knit.yaml is committed;
// PGPASSWORD or ~/.pgpass hold it), naming a database, with an optional
// schema that must be a plain identifier.
func TestStoreURL(t *testing.T) {
	const rest = "\nsources:\n  crm: {file: crm.csv, primary_key: id}\n"
	tests := []struct {
		store string
		want  string // "" for valid
	}{
		{"postgres://knit@db.example:5432/crm", ""},
		{"postgresql://knit@db.example/crm?sslmode=disable&schema=shop_1", ""},
		{"knit.duckdb", ""},
		{"postgres://knit:secret@db.example:5432/crm", "knit.yaml:1:8: store: the URL holds a password; remove it (postgres://knit@db.example:5432/crm) and set PGPASSWORD"},
		{"postgres://knit@db.example/crm?password=secret", "the URL holds a password"},
		{"postgres://knit@db.example:5432", "the URL names no database; write postgres://user@host:5432/database"},
		{"postgres://knit@db.example/crm?schema=Shop-1", `schema "Shop-1" is not a valid schema name`},
	}
	for _, tt := range tests {
		yaml := "store: " + tt.store + rest
		if tt.want == "" {
			if cfg := mustParse(t, yaml); cfg.Store != tt.store {
				t.Errorf("store %s: parsed as %q", tt.store, cfg.Store)
			}
			continue
		}
		lines := parseErrorLines(t, yaml)
		if !strings.Contains(strings.Join(lines, "\n"), tt.want) {
			t.Errorf("store %s: errors\n%s\nwant one containing %q", tt.store, strings.Join(lines, "\n"), tt.want)
		}
		if strings.Contains(strings.Join(lines, "\n"), "secret") {
			t.Errorf("store %s: the error repeats the password: %s", tt.store, lines)
		}
	}
}
