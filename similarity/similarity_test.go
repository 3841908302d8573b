package similarity

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	knit "github.com/knit-cdp/knit"
)

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"kitten", "sitting", 3},
		{"sitting", "kitten", 3},
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"flaw", "lawn", 2},
		{"José", "Jose", 1}, // one character, though two bytes
		{"é", "e", 1},
		{"Zoë", "Zoe", 1},
		{"martha", "marhta", 2},
		{"gumbo", "gambol", 2},
		{strings.Repeat("a", 100), strings.Repeat("a", 99) + "b", 1}, // past the stack buffers
		{strings.Repeat("ab", 50), strings.Repeat("ba", 50), 2},      // long, shifted by one
		{strings.Repeat("é", 70), strings.Repeat("e", 70), 70},       // long non-ASCII
	}
	for _, tt := range tests {
		if got := Levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("Levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDamerauLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"martha", "marhta", 1},
		{"ca", "abc", 3}, // optimal string alignment: no edit of a transposed pair
		{"kitten", "sitting", 3},
		{"", "ab", 2},
		{"abcdef", "badcfe", 3},
		{"Łukasz", "Łuaksz", 1},
	}
	for _, tt := range tests {
		if got := DamerauLevenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("DamerauLevenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func near(a, b, tolerance float64) bool { return math.Abs(a-b) <= tolerance }

func TestEditSimilarity(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"José", "Jose", 0.75},
		{"kitten", "sitting", 4.0 / 7},
		{"jane", "jane", 1},
		{"abc", "xyz", 0},
		{"", "", 0}, // missing on both sides is no evidence
		{"", "a", 0},
	}
	for _, tt := range tests {
		if got := EditSimilarity(tt.a, tt.b); !near(got, tt.want, 1e-12) {
			t.Errorf("EditSimilarity(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestJaroWinkler(t *testing.T) {
	tests := []struct {
		a, b       string
		jaro, want float64
	}{
		{"MARTHA", "MARHTA", 0.9444, 0.9611},
		{"DWAYNE", "DUANE", 0.8222, 0.84},
		{"DIXON", "DICKSONX", 0.7667, 0.8133},
		{"JELLYFISH", "SMELLYFISH", 0.8963, 0.8963}, // no common prefix, no boost
		{"José", "Jose", 0.8333, 0.8833},            // DuckDB, on bytes, says 0.848
		{"abc", "xyz", 0, 0},
		{"jane", "jane", 1, 1},
		{"", "", 0, 0},
		{"a", "", 0, 0},
	}
	for _, tt := range tests {
		if got := Jaro(tt.a, tt.b); !near(got, tt.jaro, 1e-4) {
			t.Errorf("Jaro(%q, %q) = %.4f, want %.4f", tt.a, tt.b, got, tt.jaro)
		}
		if got := JaroWinkler(tt.a, tt.b); !near(got, tt.want, 1e-4) {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.4f", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestJaroWinklerBoostNeedsJaroAboveThreshold(t *testing.T) {
	// "abcxyzuvw" and "abcdefghi" share a prefix of 4 but little else; the
	// Jaro score stays below 0.7, so Winkler's boost must not apply.
	a, b := "abcdwxyzuv", "abcdefghij"
	if jaro := Jaro(a, b); jaro >= winklerThreshold {
		t.Fatalf("test pair has Jaro %.3f; pick one below %.1f", jaro, winklerThreshold)
	}
	if Jaro(a, b) != JaroWinkler(a, b) {
		t.Errorf("JaroWinkler(%q, %q) = %.4f boosted a Jaro of %.4f", a, b, JaroWinkler(a, b), Jaro(a, b))
	}
}

// coffeeCorpus holds shop names in which "coffee" is in every value and
// "zebra" in one.
func coffeeCorpus() *Corpus {
	c := NewCorpus()
	for _, name := range []string{"Acme Coffee", "Zebra Coffee", "Lion Coffee", "Tiger Coffee", "Otter Coffee", "Heron Coffee", "Maple Coffee", "Cedar Coffee"} {
		c.Add(name)
	}
	return c
}

func TestTokenSimilarityWeighsRareWordsMore(t *testing.T) {
	c := coffeeCorpus()
	sharedCommon := c.TokenSimilarity("Acme Coffee", "Zebra Coffee") // share "coffee", in every value
	sharedRare := c.TokenSimilarity("Zebra Coffee", "Zebra Tea")     // share "zebra", in one value
	if sharedRare <= sharedCommon {
		t.Errorf("sharing the rare word scored %.3f, sharing the common word %.3f; want rare > common", sharedRare, sharedCommon)
	}
	// Without a corpus both pairs share one word of three: equal.
	if j1, j2 := Jaccard("Acme Coffee", "Zebra Coffee"), Jaccard("Zebra Coffee", "Zebra Tea"); j1 != j2 || !near(j1, 1.0/3, 1e-12) {
		t.Errorf("Jaccard gave %.3f and %.3f, want 1/3 for both", j1, j2)
	}
}

func TestTokenSimilarity(t *testing.T) {
	c := coffeeCorpus()
	tests := []struct {
		name, a, b string
		low, high  float64
	}{
		{"identical", "Zebra Coffee", "Zebra Coffee", 1, 1},
		{"case, order and punctuation", "Coffee, ZEBRA", "zebra coffee", 1, 1},
		{"misspelt rare word still matches", "Zebra Coffee", "Zebrra Coffee", 0.9, 0.999},
		{"nothing in common", "Zebra Coffee", "Quill Books", 0, 0},
		{"empty", "", "Zebra Coffee", 0, 0},
		{"both empty", "", "", 0, 0},
	}
	for _, tt := range tests {
		got := c.TokenSimilarity(tt.a, tt.b)
		if got < tt.low-1e-12 || got > tt.high+1e-12 {
			t.Errorf("%s: TokenSimilarity(%q, %q) = %.4f, want in [%.3f, %.3f]", tt.name, tt.a, tt.b, got, tt.low, tt.high)
		}
		if back := c.TokenSimilarity(tt.b, tt.a); !near(back, got, 1e-12) {
			t.Errorf("%s: not symmetric: %.6f one way, %.6f the other", tt.name, got, back)
		}
	}
}

func TestScore(t *testing.T) {
	c := coffeeCorpus()
	tests := []struct {
		metric string
		corpus *Corpus
		want   float64
	}{
		{"edit", nil, EditSimilarity("Zebra Coffee", "Zebra Tea")},
		{"", nil, EditSimilarity("Zebra Coffee", "Zebra Tea")},
		{"jaro_winkler", nil, JaroWinkler("Zebra Coffee", "Zebra Tea")},
		{"token", nil, Jaccard("Zebra Coffee", "Zebra Tea")},
		{"token", c, c.TokenSimilarity("Zebra Coffee", "Zebra Tea")},
	}
	for _, tt := range tests {
		got, err := Score(tt.metric, "Zebra Coffee", "Zebra Tea", tt.corpus)
		if err != nil || got != tt.want {
			t.Errorf("Score(%q) = %v, %v; want %v", tt.metric, got, err, tt.want)
		}
	}
	if _, err := Score("soundex", "a", "b", nil); knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), "jaro_winkler") {
		t.Errorf("Score with an unknown metric: error %v, want EINVALID naming the valid metrics", err)
	}
}

func TestThreshold(t *testing.T) {
	tests := []struct {
		precision string
		want      float64
		exact     bool
	}{
		{"", 1, true},
		{"exact", 1, true},
		{"Low", 0.30, false},
		{"medium", 0.60, false},
		{" HIGH ", 0.80, false},
		{"0.85", 0.85, false},
		{"1", 1, false},
	}
	for _, tt := range tests {
		got, exact, err := Threshold(tt.precision)
		if err != nil || got != tt.want || exact != tt.exact {
			t.Errorf("Threshold(%q) = %v, %v, %v; want %v, %v", tt.precision, got, exact, err, tt.want, tt.exact)
		}
	}
	for _, bad := range []string{"0", "1.5", "-0.2", "0.85abc", "fuzzy", "nan"} {
		if _, _, err := Threshold(bad); knit.ErrorCode(err) != knit.EINVALID {
			t.Errorf("Threshold(%q) error = %v, want EINVALID", bad, err)
		}
	}
}

func TestShortComparisonsDoNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		Levenshtein("12 north main street", "12 n main st unit 4")
		EditSimilarity("Łukasz Nowak", "Lukasz Nowak")
		JaroWinkler("jonathan", "jonathon")
		DamerauLevenshtein("martha", "marhta")
	})
	if allocs != 0 {
		t.Errorf("short comparisons allocated %.0f times per run, want 0", allocs)
	}
}

func FuzzLevenshtein(f *testing.F) {
	for _, seed := range [][3]string{{"kitten", "sitting", "mitten"}, {"José", "Jose", "Josh"}, {"", "a", "ab"}, {"\xff", "é", ""}} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := Levenshtein(a, b), Levenshtein(b, a)
		if ab != ba {
			t.Fatalf("not symmetric: d(%q,%q)=%d, d(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		la, lb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
		if ab < abs(la-lb) || ab > max(la, lb) {
			t.Fatalf("d(%q,%q)=%d outside [|%d-%d|, max]", a, b, ab, la, lb)
		}
		if (ab == 0) != (a == b) && utf8.ValidString(a) && utf8.ValidString(b) {
			t.Fatalf("d(%q,%q)=%d but equality is %v", a, b, ab, a == b)
		}
		if ac, cb := Levenshtein(a, c), Levenshtein(c, b); ab > ac+cb {
			t.Fatalf("triangle inequality: d(a,b)=%d > d(a,c)+d(c,b)=%d+%d for %q %q %q", ab, ac, cb, a, b, c)
		}
		if osa := DamerauLevenshtein(a, b); osa > ab || osa < (ab+1)/2 {
			t.Fatalf("OSA distance %d of %q,%q not in [ceil(%d/2), %d]", osa, a, b, ab, ab)
		}
		if s := EditSimilarity(a, b); s < 0 || s > 1 {
			t.Fatalf("EditSimilarity(%q,%q)=%v outside [0,1]", a, b, s)
		}
		if s, r := JaroWinkler(a, b), JaroWinkler(b, a); s < 0 || s > 1+1e-12 || math.Abs(s-r) > 1e-12 {
			t.Fatalf("JaroWinkler(%q,%q)=%v, reversed %v: want symmetric in [0,1]", a, b, s, r)
		}
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
