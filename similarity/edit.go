// Package similarity scores how alike two standardised values are, for
// knit's fuzzy match conditions: edit-distance similarity (the default),
// Jaro-Winkler, and an IDF-weighted token similarity for multi-word values.
// Every measure works on characters (runes), not bytes: DuckDB's built-in
// functions count bytes, so levenshtein('é','e') is 2 there and 1 here.
// All functions are safe for concurrent use; a Corpus is safe for
// concurrent reads once it is no longer being added to.
package similarity

import "unicode/utf8"

// stackRunes is the length up to which strings are decoded into arrays on
// the stack, so comparing typical names and addresses allocates nothing.
const stackRunes = 64

// runes decodes s into buf when it fits, else into a new slice.
func runes(s string, buf *[stackRunes]rune) []rune {
	out := buf[:0]
	if utf8.RuneCountInString(s) > stackRunes {
		out = make([]rune, 0, len(s))
	}
	for _, r := range s {
		out = append(out, r)
	}
	return out
}

// scratch returns buf[:n] when it is long enough, else a new slice: the
// tables of short comparisons live on the caller's stack.
func scratch[T any](buf []T, n int) []T {
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]T, n)
}

// editPair decodes a and b and drops their common prefix and suffix, which
// change no edit distance and are most of the work for near-identical
// values. The longer remainder comes first, so tables sized by the second
// use the least memory.
func editPair(a, b string, bufA, bufB *[stackRunes]rune) (longer, shorter []rune) {
	longer, shorter = trimCommon(runes(a, bufA), runes(b, bufB))
	if len(longer) < len(shorter) {
		longer, shorter = shorter, longer
	}
	return longer, shorter
}

// trimCommon drops the common prefix and suffix, which change no edit
// distance and are most of the work for near-identical values.
func trimCommon(a, b []rune) ([]rune, []rune) {
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	return a, b
}

// Levenshtein returns the number of single-character insertions, deletions
// and substitutions that turn a into b, counting characters (runes), not
// bytes. It keeps one row of the dynamic-programming table, sized by the
// shorter string, and allocates nothing for strings up to 64 characters.
func Levenshtein(a, b string) int {
	return editDistance(a, b, false)
}

// editDistance does the work common to the edit distances: equal strings,
// decoding, trimming the common prefix and suffix, and an empty remainder.
// The tables are called directly, not through a function value, so the
// decoded runes stay on the stack.
func editDistance(a, b string, transpositions bool) int {
	if a == b {
		return 0
	}
	var bufA, bufB [stackRunes]rune
	ra, rb := editPair(a, b, &bufA, &bufB)
	if len(rb) == 0 {
		return len(ra)
	}
	if transpositions {
		return alignmentTable(ra, rb)
	}
	return levenshteinTable(ra, rb)
}

func levenshteinTable(ra, rb []rune) int {
	var rowBuf [stackRunes + 1]int
	row := scratch(rowBuf[:], len(rb)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		diagonal := row[0] // the cell above-left of row[j] in the full table
		row[0] = i
		for j := 1; j <= len(rb); j++ {
			substitution := diagonal
			if ra[i-1] != rb[j-1] {
				substitution++
			}
			diagonal = row[j]
			row[j] = min(row[j]+1, row[j-1]+1, substitution)
		}
	}
	return row[len(rb)]
}

// EditSimilarity is (maxlen - Levenshtein) / maxlen, with lengths in
// characters: 1 for identical values, 0 for values with nothing in common.
// "José" and "Jose" score 0.75 (one edit in four characters). Two empty
// strings score 0, not 1: an empty value is missing data, and two missing
// values are no evidence that two records are the same customer.
func EditSimilarity(a, b string) float64 {
	longest := max(utf8.RuneCountInString(a), utf8.RuneCountInString(b))
	if longest == 0 {
		return 0
	}
	return float64(longest-Levenshtein(a, b)) / float64(longest)
}

// DamerauLevenshtein is the optimal-string-alignment distance: Levenshtein
// plus the transposition of two adjacent characters as one edit ("MARTHA"
// → "MARHTA" is 1), where no substring is edited twice. On runes; three
// rows of memory, sized by the shorter string.
func DamerauLevenshtein(a, b string) int {
	return editDistance(a, b, true)
}

func alignmentTable(ra, rb []rune) int {
	width := len(rb) + 1
	var rowsBuf [3 * (stackRunes + 1)]int
	rows := scratch(rowsBuf[:], 3*width)
	twoBack, previous, current := rows[:width], rows[width:2*width], rows[2*width:]
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		current[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				current[j] = min(current[j], twoBack[j-2]+1)
			}
		}
		twoBack, previous, current = previous, current, twoBack
	}
	return previous[len(rb)]
}
