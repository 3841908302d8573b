package postgres_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/similarity"
)

// similarityPairs are hand-picked cases (Winkler's examples, prefixes,
// empties, one-character values, transpositions, long values) and seeded
// random pairs over a small alphabet, where repeated letters and odd
// transposition counts are common.
func similarityPairs() [][2]string {
	pairs := [][2]string{
		{"martha", "marhta"}, {"dwayne", "duane"}, {"dixon", "dicksonx"}, {"mikhvyla", "mikhayla"},
		{"arthurdircle", "arthur circle"}, {"", ""}, {"", "a"}, {"a", ""}, {"a", "a"}, {"a", "b"},
		{"jose", "jose"}, {"abcd", "dcba"}, {"crate", "trace"}, {"jellyfish", "smellyfish"},
		{"jane doe", "doe jane"}, {"jane  doe", "jane doe"}, {"the cat sat", "a cat sat down"},
		{"1 main st", "1 main street"}, {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"},
	}
	rng := rand.New(rand.NewPCG(7, 11))
	word := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = "abcde "[rng.IntN(6)]
		}
		return string(b)
	}
	for range 3000 {
		pairs = append(pairs, [2]string{word(), word()})
	}
	return pairs
}

// similarities loads the pairs into a table of eng and computes every
// metric with the engine's own dialect expression.
func similarities(t *testing.T, eng engine.Engine, pairs [][2]string) [][4]float64 {
	t.Helper()
	ctx := context.Background()
	cols := []engine.Column{{Name: "id", Type: engine.BigInt}, {Name: "a", Type: engine.Text}, {Name: "b", Type: engine.Text}}
	if err := eng.CreateTable(ctx, "pairs", cols); err != nil {
		t.Fatal(err)
	}
	i := 0
	if _, err := eng.Load(ctx, "pairs", cols, func(row []any) (bool, error) {
		if i == len(pairs) {
			return false, nil
		}
		row[0], row[1], row[2] = int64(i), pairs[i][0], pairs[i][1]
		i++
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	d := eng.Dialect()
	q := "SELECT CAST(" + d.Similarity("levenshtein", "a", "b") + " AS DOUBLE PRECISION), " + d.Similarity("edit", "a", "b") + ", " +
		d.Similarity("jaro_winkler", "a", "b") + ", " + d.Similarity("jaccard", "a", "b") + " FROM pairs ORDER BY id"
	rows, err := eng.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][4]float64
	for rows.Next() {
		var v [4]float64
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3]); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(pairs) {
		t.Fatalf("%s computed %d pairs of %d", d.Name(), len(out), len(pairs))
	}
	return out
}

// The functions the adapter installs give DuckDB's built-in results on
// every pair, to the last bit, and the edit distances of knit's Go
// similarity package.
func TestSimilarityMatchesDuckDB(t *testing.T) {
	pg := openSchema(t, "knit_similarity_test")
	duck, err := duckdb.Open(filepath.Join(t.TempDir(), "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	pairs := similarityPairs()
	want := similarities(t, duck, pairs)
	got := similarities(t, pg, pairs)
	metrics := []string{"levenshtein", "edit", "jaro_winkler", "jaccard"}
	bad := 0
	for i, p := range pairs {
		for m, name := range metrics {
			if got[i][m] != want[i][m] && !(math.IsNaN(got[i][m]) && math.IsNaN(want[i][m])) {
				if bad++; bad <= 10 {
					t.Errorf("%s(%q, %q): postgres %v, duckdb %v", name, p[0], p[1], got[i][m], want[i][m])
				}
			}
		}
		if lev := float64(similarity.Levenshtein(p[0], p[1])); got[i][0] != lev {
			t.Errorf("levenshtein(%q, %q): postgres %v, Go %v", p[0], p[1], got[i][0], lev)
		}
		if p[0] != "" || p[1] != "" {
			if e := similarity.EditSimilarity(p[0], p[1]); math.Abs(got[i][1]-e) > 1e-12 {
				t.Errorf("edit(%q, %q): postgres %v, Go %v", p[0], p[1], got[i][1], e)
			}
		}
	}
	if bad > 10 {
		t.Errorf("%d values differ in all", bad)
	}
}
