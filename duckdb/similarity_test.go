package duckdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/similarity"
)

// editPairs are pairs the shortcuts of EditDistanceUpTo must get right:
// equal lengths with 0–4 differing positions, shifts (a deletion and an
// insertion: many differing positions, distance 2), lengths one and two
// apart, empty and null values; then seeded random pairs over a small
// alphabet, mostly of equal length as phones and dates are.
func editPairs(n int) [][2]*string {
	s := func(v string) *string { return &v }
	pairs := [][2]*string{
		{s("5035550100"), s("5035550100")}, {s("5035550100"), s("5035550101")}, {s("5035550100"), s("5035551101")},
		{s("5035550100"), s("5035651101")}, {s("5035550100"), s("0503555010")}, {s("1234567890"), s("2345678190")},
		{s("1985-03-12"), s("1985-03-21")}, {s("1985-03-12"), s("1985-3-12")}, {s("abc"), s("a")}, {s(""), s("ab")},
		{s(""), s("")}, {nil, s("abc")}, {s("abc"), nil}, {nil, nil}, {s("ab"), s("ba")}, {s("a"), s("b")},
	}
	rng := rand.New(rand.NewPCG(3, 5))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "0123"[rng.IntN(4)]
		}
		return string(b)
	}
	for len(pairs) < n {
		a := word(rng.IntN(12))
		b := []byte(a)
		for range rng.IntN(4) { // a few edits of a, or a new word
			switch i := rng.IntN(len(b) + 1); rng.IntN(4) {
			case 0:
				b = append(b[:i], append([]byte{'9'}, b[i:]...)...)
			case 1:
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			case 2:
				if i < len(b) {
					b[i] = '8'
				}
			default:
				b = []byte(word(max(0, len(a)+rng.IntN(3)-1)))
			}
		}
		pairs = append(pairs, [2]*string{s(a), s(string(b))})
	}
	return pairs
}

// loadPairs creates the table pairs(id, a, b) in a new DuckDB file.
func loadPairs(tb testing.TB, pairs [][2]*string) *DB {
	db, err := Open(filepath.Join(tb.TempDir(), "knit.duckdb"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx := context.Background()
	cols := []engine.Column{{Name: "id", Type: engine.BigInt}, {Name: "a", Type: engine.Text}, {Name: "b", Type: engine.Text}}
	if err := db.CreateTable(ctx, "pairs", cols); err != nil {
		tb.Fatal(err)
	}
	i := 0
	if _, err := db.Load(ctx, "pairs", cols, func(row []any) (bool, error) {
		if i == len(pairs) {
			return false, nil
		}
		row[0], row[1], row[2] = int64(i), nullable(pairs[i][0]), nullable(pairs[i][1])
		i++
		return true, nil
	}); err != nil {
		tb.Fatal(err)
	}
	return db
}

func nullable(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// EditDistanceUpTo is the edit distance capped at k+1, as knit's Go
// Levenshtein computes it, on every pair and bound, null for null values.
func TestEditDistanceUpTo(t *testing.T) {
	pairs := editPairs(5000)
	db := loadPairs(t, pairs)
	for k := range 4 {
		rows, err := db.Query(context.Background(), "SELECT "+dialect{}.EditDistanceUpTo("a", "b", k)+" FROM pairs ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for ; rows.Next(); i++ {
			var got *int64
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
			a, b := pairs[i][0], pairs[i][1]
			if a == nil || b == nil {
				if got != nil {
					t.Errorf("k=%d: (%v, %v) gave %d, want null", k, a, b, *got)
				}
				continue
			}
			want := int64(min(similarity.Levenshtein(*a, *b), k+1))
			if got == nil || *got != want {
				t.Errorf("k=%d: (%q, %q) gave %v, want %d", k, *a, *b, got, want)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if i != len(pairs) {
			t.Fatalf("k=%d: %d rows of %d", k, i, len(pairs))
		}
	}
}

// BenchmarkEditDistanceUpTo compares "edit distance ≤ k" tested with
// EditDistanceUpTo and with DuckDB's levenshtein on 200,000 pairs of
// phone-like values (equal lengths, a few with a typo).
func BenchmarkEditDistanceUpTo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	phone := func() []byte { return fmt.Appendf(nil, "1503%07d", rng.IntN(10_000_000)) }
	var pairs [][2]*string
	for range 200_000 {
		a, c := phone(), phone()
		if rng.IntN(10) == 0 {
			c = append([]byte(nil), a...)
			c[rng.IntN(len(c))] = '0'
		}
		sa, sc := string(a), string(c)
		pairs = append(pairs, [2]*string{&sa, &sc})
	}
	db := loadPairs(b, pairs)
	for k := 1; k <= 2; k++ {
		for _, m := range []struct{ name, expr string }{
			{"levenshtein", "levenshtein(a, b)"},
			{"upto", dialect{}.EditDistanceUpTo("a", "b", k)},
		} {
			b.Run(fmt.Sprintf("k=%d/%s", k, m.name), func(b *testing.B) {
				for b.Loop() {
					rows, err := db.Query(context.Background(), fmt.Sprintf("SELECT count(*) FILTER (WHERE %s <= %d) FROM pairs", m.expr, k))
					if err != nil {
						b.Fatal(err)
					}
					rows.Close()
				}
			})
		}
	}
}
