package fs

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The presets below build comparisons that follow the practice of Splink's
// comparison library: a null level first, exact agreement next (term-
// frequency adjusted where values are skewed, like names), then fuzzier
// levels from tight to loose, and else. Their m and u are starting guesses
// (see withStartingProbabilities) for training to replace.

// NameComparison compares a personal name: exact (term-frequency adjusted),
// Jaro-Winkler ≥ 0.92, ≥ 0.88, ≥ 0.70, else.
func NameComparison(field string) Comparison {
	return build(field,
		Level{Label: "exact", Kind: KindExact, TF: true},
		jw(0.92), jw(0.88), jw(0.70),
	)
}

// JaroWinklerComparison compares text by exact agreement and then each
// Jaro-Winkler threshold in turn (highest first).
func JaroWinklerComparison(field string, thresholds ...float64) Comparison {
	levels := []Level{{Label: "exact", Kind: KindExact}}
	for _, t := range sortedDesc(thresholds) {
		levels = append(levels, jw(t))
	}
	return build(field, levels...)
}

// LevenshteinComparison compares text by exact agreement and then edit
// distance ≤ each threshold in turn (smallest first).
func LevenshteinComparison(field string, distances ...int) Comparison {
	levels := []Level{{Label: "exact", Kind: KindExact}}
	for _, d := range sortedAscInt(distances) {
		levels = append(levels, Level{Label: fmt.Sprintf("edit distance ≤ %d", d), Kind: KindLevenshtein, Threshold: float64(d)})
	}
	return build(field, levels...)
}

// ExactComparison compares by exact agreement only; tf adjusts the exact
// level by term frequency (for skewed values such as city or first name).
func ExactComparison(field string, tf bool) Comparison {
	return build(field, Level{Label: "exact", Kind: KindExact, TF: tf})
}

// DateComparison compares dates (YYYY-MM-DD) by exact agreement and then by
// being within each number of days in turn (default 1, 31 and 365).
func DateComparison(field string, withinDays ...int) Comparison {
	if len(withinDays) == 0 {
		withinDays = []int{1, 31, 365}
	}
	levels := []Level{{Label: "exact", Kind: KindExact}}
	for _, d := range sortedAscInt(withinDays) {
		levels = append(levels, within(d))
	}
	return build(field, levels...)
}

// DateOfBirthComparison compares dates of birth: exact, one typed
// character apart (1971-06-24 vs 1971-05-24: a typo, not an age gap),
// within a month, a year, ten years, else.
func DateOfBirthComparison(field string) Comparison {
	return build(field,
		Level{Label: "exact", Kind: KindExact},
		Level{Label: "one character apart", Kind: KindLevenshtein, Threshold: 1},
		within(31), within(365), within(3653),
	)
}

// EmailComparison compares email addresses: exact, same local part (the
// same person at another provider), Jaro-Winkler ≥ 0.88 on the whole
// address, Jaro-Winkler ≥ 0.88 on the local part, else.
func EmailComparison(field string) Comparison {
	return build(field,
		Level{Label: "exact", Kind: KindExact},
		Level{Label: "same local part", Kind: KindExact, Part: PartEmailLocal},
		jw(0.88),
		Level{Label: "local part Jaro-Winkler ≥ 0.88", Kind: KindJaroWinkler, Part: PartEmailLocal, Threshold: 0.88},
	)
}

// PostcodeComparison compares postcodes: exact, same sector, same
// district, same area, else (UK postcodes; for US ZIP codes the sector is
// the 3-digit prefix).
func PostcodeComparison(field string) Comparison {
	return build(field,
		Level{Label: "exact", Kind: KindExact},
		Level{Label: "same sector", Kind: KindExact, Part: PartPostcodeSector},
		Level{Label: "same district", Kind: KindExact, Part: PartPostcodeDistrict},
		Level{Label: "same area", Kind: KindExact, Part: PartPostcodeArea},
	)
}

// NumericComparison compares numbers: exact, then within each absolute
// difference in turn (smallest first).
func NumericComparison(field string, within ...float64) Comparison {
	levels := []Level{{Label: "exact", Kind: KindExact}}
	for _, d := range sortedAsc(within) {
		levels = append(levels, Level{Label: "within " + strconv.FormatFloat(d, 'g', -1, 64), Kind: KindNumericWithin, Threshold: d})
	}
	return build(field, levels...)
}

func jw(t float64) Level {
	return Level{Label: "Jaro-Winkler ≥ " + strconv.FormatFloat(t, 'g', -1, 64), Kind: KindJaroWinkler, Threshold: t}
}

func within(days int) Level {
	label := fmt.Sprintf("within %d days", days)
	if days == 1 {
		label = "within 1 day"
	}
	return Level{Label: label, Kind: KindDateWithinDays, Threshold: float64(days)}
}

// build wraps the tests of a comparison between a null level and an else
// level and gives them starting probabilities.
func build(field string, tests ...Level) Comparison {
	levels := make([]Level, 0, len(tests)+2)
	levels = append(levels, Level{Label: "null", Kind: KindNull})
	levels = append(levels, tests...)
	levels = append(levels, Level{Label: "else", Kind: KindElse})
	c := Comparison{Name: field, Field: field, Levels: levels}
	withStartingProbabilities(&c)
	return c
}

// withStartingProbabilities gives the non-null levels (tight to loose)
// m ∝ 4^(n−1−i) and u ∝ 4^i: matches mostly agree exactly, non-matches
// mostly fall to else. EM converges from here; a flat start is a saddle
// point where matches and non-matches look alike.
func withStartingProbabilities(c *Comparison) {
	var tests []int
	for k, l := range c.Levels {
		if !l.IsNull() {
			tests = append(tests, k)
		}
	}
	n := len(tests)
	mSum, uSum := 0.0, 0.0
	for i := range tests {
		mSum += math.Pow(4, float64(n-1-i))
		uSum += math.Pow(4, float64(i))
	}
	for i, k := range tests {
		c.Levels[k].M = math.Pow(4, float64(n-1-i)) / mSum
		c.Levels[k].U = math.Pow(4, float64(i)) / uSum
	}
}

func sortedDesc(xs []float64) []float64 {
	out := sortedAsc(xs)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func sortedAsc(xs []float64) []float64 {
	out := append([]float64(nil), xs...)
	slices.Sort(out)
	return out
}

func sortedAscInt(xs []int) []int {
	out := append([]int(nil), xs...)
	slices.Sort(out)
	return out
}

// Custom builds a comparison from explicit levels (tight to loose), between
// the null and else levels every comparison has, with the same starting
// probabilities as the presets.
func Custom(field string, levels ...Level) Comparison { return build(field, levels...) }
