package postgres

import (
	"strconv"

	"github.com/knit-cdp/knit/engine"
)

var _ engine.EditBounder = Dialect{}

// EditDistanceUpTo implements engine.EditBounder with the same results as
// DuckDB's: the distance is at least the difference of the lengths, so
// pairs whose lengths differ by more than k skip the PL/pgSQL function.
// The equal-length shortcuts DuckDB takes need a hamming count PostgreSQL
// does not have.
func (Dialect) EditDistanceUpTo(a, b string, k int) string {
	over := strconv.Itoa(k + 1)
	return "(CASE WHEN " + a + " IS NULL OR " + b + " IS NULL THEN NULL" +
		" WHEN abs(length(" + a + ") - length(" + b + ")) > " + strconv.Itoa(k) + " THEN " + over +
		" ELSE least(knit_levenshtein(" + a + ", " + b + "), " + over + ") END)"
}
