package postgres_test

import (
	"context"
	"testing"

	"github.com/knit-cdp/knit/postgres"
	"github.com/knit-cdp/knit/similarity"
)

// EditDistanceUpTo gives knit's Go edit distance capped at k+1 on every
// pair (the lengths shortcut included), null for a null value.
func TestEditDistanceUpTo(t *testing.T) {
	pg := openSchema(t, "knit_editbound_test")
	ctx := context.Background()
	pairs := similarityPairs()
	pairs = append(pairs, [2]string{"5035550100", "0503555010"}, [2]string{"1985-03-12", "1985-3-12"})
	similarities(t, pg, pairs) // loads the table pairs
	d := postgres.Dialect{}
	for k := range 4 {
		rows, err := pg.Query(ctx, "SELECT "+d.EditDistanceUpTo("a", "b", k)+", "+d.EditDistanceUpTo("a", "NULL::text", k)+" FROM pairs ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for ; rows.Next(); i++ {
			var got, null *int64
			if err := rows.Scan(&got, &null); err != nil {
				t.Fatal(err)
			}
			want := int64(min(similarity.Levenshtein(pairs[i][0], pairs[i][1]), k+1))
			if got == nil || *got != want || null != nil {
				t.Errorf("k=%d: (%q, %q) gave %v (with null %v), want %d", k, pairs[i][0], pairs[i][1], got, null, want)
			}
		}
		rows.Close()
		if i != len(pairs) {
			t.Fatalf("k=%d: %d rows of %d", k, i, len(pairs))
		}
	}
}
