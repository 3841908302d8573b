package standardize

import "strings"

// Address standardises a postal address line for comparison: "#" becomes
// "unit" ("#5" → "unit 5"), then Text, then street types, directions, unit
// designators and ordinal words are rewritten to one canonical form each
// from address_abbreviations.csv (street/str → st, avenue/av → ave,
// north → n, apartment/apt/suite/# → unit, first → 1st, p o box → po box).
// "12 North Main Street Apt 4" and "12 N Main St #4" both become
// "12 n main st unit 4". A repeated designator ("Apt #4" → "unit unit 4")
// collapses to one.
func Address(s string) (string, bool) {
	text, ok := Text(strings.ReplaceAll(s, "#", " unit "))
	if !ok {
		return "", false
	}
	rewritten := addressWords.rewrite(text)
	for strings.Contains(rewritten, "unit unit") {
		rewritten = collapseRepeatedWord(rewritten, "unit")
	}
	return rewritten, rewritten != ""
}

// collapseRepeatedWord removes immediate repeats of word.
func collapseRepeatedWord(s, word string) string {
	words := strings.Split(s, " ")
	kept := words[:0]
	for i, w := range words {
		if w == word && i > 0 && words[i-1] == word {
			continue
		}
		kept = append(kept, w)
	}
	return strings.Join(kept, " ")
}
