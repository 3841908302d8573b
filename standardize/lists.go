package standardize

import (
	"os"

	knit "github.com/knit-cdp/knit"
)

// Lists are the user's overrides on values: aliases (values that are always
// equal, such as a company's old and new names) and bypass values (that never
// match anything, such as a shop's own address). Entries are compared in
// their Text form, so "ACME Corp." in a file finds "acme corp" in the data;
// Canonical returns the Text form of the alias row's first value. A nil
// *Lists has no entries.
type Lists struct {
	canonical map[string]string // Text(variant or canonical) → Text(canonical)
	bypass    map[string]bool   // Text(value)
}

// LoadLists reads the alias file (rows "canonical,variant[,variant...]")
// and the bypass file (rows "value"); either path may be empty. Lines
// starting with "#" are comments. Errors name the file and line: a row
// with too few or too many fields, a field that is empty after standardising,
// or a variant claimed by two different canonical values.
func LoadLists(aliasCSV, bypassCSV string) (*Lists, error) {
	lists := &Lists{canonical: map[string]string{}, bypass: map[string]bool{}}
	aliasRows, err := readListFile(aliasCSV)
	if err != nil {
		return nil, err
	}
	firstSeen := map[string]int{} // value → line of the row that claimed it
	for _, row := range aliasRows {
		if len(row.fields) < 2 {
			return nil, knit.Errorf(knit.EINVALID, "%s:%d: alias row has %d value; want canonical,variant[,variant...]", aliasCSV, row.line, len(row.fields))
		}
		canonical := row.fields[0]
		for _, value := range row.fields {
			if previous, taken := lists.canonical[value]; taken && previous != canonical {
				return nil, knit.Errorf(knit.EINVALID, "%s:%d: %q is already an alias of %q (line %d); a value can belong to one alias row only", aliasCSV, row.line, value, previous, firstSeen[value])
			}
			if _, seen := firstSeen[value]; !seen {
				firstSeen[value] = row.line
			}
			lists.canonical[value] = canonical
		}
	}
	bypassRows, err := readListFile(bypassCSV)
	if err != nil {
		return nil, err
	}
	for _, row := range bypassRows {
		if len(row.fields) != 1 {
			return nil, knit.Errorf(knit.EINVALID, "%s:%d: bypass row has %d values; want one value per line (quote values containing commas)", bypassCSV, row.line, len(row.fields))
		}
		lists.bypass[row.fields[0]] = true
	}
	return lists, nil
}

func readListFile(path string) ([]tableRow, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "open list file %s", path)
	}
	defer f.Close()
	rows, err := readTable(path, f)
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "read list file")
	}
	return rows, nil
}

// Canonical returns the alias row's canonical value (in Text form) when v
// is listed in the alias file, and v unchanged otherwise. Because Text is
// idempotent, two values are always-equal exactly when their Canonical
// forms are equal.
func (l *Lists) Canonical(v string) string {
	if l == nil || len(l.canonical) == 0 {
		return v
	}
	key, _ := Text(v)
	if canonical, ok := l.canonical[key]; ok {
		return canonical
	}
	return v
}

// Bypassed reports whether v is in the bypass list: such a value never
// matches, even an identical one.
func (l *Lists) Bypassed(v string) bool {
	if l == nil || len(l.bypass) == 0 {
		return false
	}
	key, _ := Text(v)
	return l.bypass[key]
}
