package standardize

import "strings"

// Organization standardises a company name: "&" reads as "and", then Text,
// then a leading "the" and trailing legal forms (inc, incorporated, ltd,
// limited, llc, corp, co, gmbh, plc, sa, ag, bv, …; the full list is
// organization_suffixes.csv) are removed, repeatedly ("Acme Co., Ltd." →
// "acme"). A name that is nothing but a legal form ("Limited") is kept as it
// is rather than emptied.
func Organization(s string) (string, bool) {
	text, ok := Text(strings.ReplaceAll(s, "&", " and "))
	if !ok {
		return "", false
	}
	words := strings.Split(text, " ")
	if len(words) > 1 && words[0] == "the" {
		words = words[1:]
	}
	for len(words) > 1 {
		n := trailingSuffixWords(words)
		if n == 0 || n == len(words) {
			break
		}
		words = words[:len(words)-n]
	}
	return strings.Join(words, " "), true
}

// trailingSuffixWords returns how many words at the end of words form the
// longest legal-form phrase, or 0.
func trailingSuffixWords(words []string) int {
	for n := min(organizationSuffix.maxWords, len(words)); n >= 1; n-- {
		if _, ok := organizationSuffix.canonical[strings.Join(words[len(words)-n:], " ")]; ok {
			return n
		}
	}
	return 0
}
