package postgres

import (
	"context"
	"regexp"
)

// PostgreSQL plans a query from table statistics, which a table gets from
// ANALYZE (autovacuum runs it only after a delay and a threshold of
// changes). The pipeline creates its tables and queries them at once, so
// without statistics the planner guesses a handful of rows and picks
// nested loops that never end on a million (the activities stage's joins
// took 8.6 s on 6,679 web events). The engine therefore analyzes every
// table it fills: after COPY (Load) and after CREATE TABLE … AS.

// createAs matches the start of CREATE TABLE "name" AS, capturing the name.
var createAs = regexp.MustCompile(`^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TABLE\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\)\s*)?AS\b`)

// analyzeCreated analyzes the table a CREATE TABLE … AS statement made.
func (d *DB) analyzeCreated(ctx context.Context, query string) error {
	m := createAs.FindStringSubmatch(query)
	if m == nil {
		return nil
	}
	return d.Exec(ctx, "ANALYZE "+m[1])
}
