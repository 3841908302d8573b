package similarity

// Jaro returns the Jaro similarity of a and b, on runes: characters match
// when equal and no further apart than half the longer length less one;
// the score averages the matched share of each string and the share of
// matches in the same order. Identical non-empty strings score 1; an empty
// string scores 0 against anything, including another empty string (no
// evidence; DuckDB's jaro_winkler_similarity agrees).
func Jaro(a, b string) float64 {
	if a == b && a != "" {
		return 1
	}
	var bufA, bufB [stackRunes]rune
	return jaro(runes(a, &bufA), runes(b, &bufB))
}

func jaro(a, b []rune) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	window := max(max(len(a), len(b))/2-1, 0)
	var flagsBuf [2 * stackRunes]bool
	flags := scratch(flagsBuf[:], len(a)+len(b))
	matchedA, matchedB := flags[:len(a)], flags[len(a):]
	matches := 0
	for i, r := range a {
		for j := max(0, i-window); j < min(len(b), i+window+1); j++ {
			if !matchedB[j] && b[j] == r {
				matchedA[i], matchedB[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	outOfOrder, k := 0, 0
	for i, r := range a {
		if !matchedA[i] {
			continue
		}
		for !matchedB[k] {
			k++
		}
		if r != b[k] {
			outOfOrder++
		}
		k++
	}
	m := float64(matches)
	transpositions := float64(outOfOrder) / 2
	return (m/float64(len(a)) + m/float64(len(b)) + (m-transpositions)/m) / 3
}

// Winkler's constants: the common prefix counts up to four characters, each
// adding a tenth of the remaining distance, and only for pairs whose Jaro
// score already reaches 0.7 (Winkler's boost threshold, which rapidfuzz and
// DuckDB's jaro_winkler_similarity also apply, so Go and SQL scores agree).
const (
	winklerPrefixScale = 0.1
	winklerMaxPrefix   = 4
	winklerThreshold   = 0.7
)

// JaroWinkler returns the Jaro-Winkler similarity of a and b on runes:
// Jaro, raised for a common prefix (scale 0.1, at most 4 characters) when
// Jaro is at least 0.7. "MARTHA"/"MARHTA" scores 0.9611, "DWAYNE"/"DUANE"
// 0.84, "DIXON"/"DICKSONX" 0.8133. Empty strings score 0.
func JaroWinkler(a, b string) float64 {
	if a == b && a != "" {
		return 1
	}
	var bufA, bufB [stackRunes]rune
	ra, rb := runes(a, &bufA), runes(b, &bufB)
	score := jaro(ra, rb)
	if score < winklerThreshold {
		return score
	}
	prefix := 0
	for prefix < min(len(ra), len(rb), winklerMaxPrefix) && ra[prefix] == rb[prefix] {
		prefix++
	}
	return score + float64(prefix)*winklerPrefixScale*(1-score)
}
