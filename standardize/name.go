package standardize

import "strings"

// Name standardises a person's name: "Last, First" becomes "first last",
// then Text, then leading titles (mr, dr, prof, …) and trailing suffixes
// (jr, sr, iii, phd, …) are stripped; the word lists are in
// name_affixes.csv. A comma part made only of suffixes ("Jane Doe, Jr.")
// is dropped rather than treated as a first name. ok is false when nothing
// but titles and suffixes was given ("Mr.").
func Name(s string) (string, bool) {
	var parts []string
	for part := range strings.SplitSeq(s, ",") {
		words, ok := Text(part)
		if !ok || (len(parts) > 0 && allIn(words, nameEnd)) {
			continue
		}
		parts = append(parts, words)
	}
	if len(parts) == 2 {
		parts[0], parts[1] = parts[1], parts[0]
	}
	words := strings.Fields(strings.Join(parts, " "))
	for len(words) > 0 && nameTitles[words[0]] {
		words = words[1:]
	}
	for len(words) > 0 && nameEnd[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " "), len(words) > 0
}

// FirstName returns the canonical form of a first name through the nickname
// table (nicknames.csv): "Bob" → "robert", "Liz" → "elizabeth", "Peggy" →
// "margaret". The value goes through Name first, then its first word is
// replaced and any further words kept ("Bob Lee" → "robert lee"), so a
// first-name field holding a middle name stays informative. A nickname of
// several names ("chris": christopher, christine, christina) resolves to
// the first row of the table that lists it, which the table orders by the
// more common reading; a canonical name always resolves to itself. Names
// not in the table are returned standardised; "" when nothing is left.
func FirstName(s string) string {
	name, ok := Name(s)
	if !ok {
		return ""
	}
	first, rest, _ := strings.Cut(name, " ")
	if canonical, ok := nicknames[first]; ok {
		first = canonical
	}
	if rest == "" {
		return first
	}
	return first + " " + rest
}

// allIn reports whether every word of s (Text output) is in set.
func allIn(s string, set map[string]bool) bool {
	for word := range strings.SplitSeq(s, " ") {
		if !set[word] {
			return false
		}
	}
	return true
}
