package standardize

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The word tables ship as data so they can be read, reviewed and extended
// without touching code. They are parsed once, at package initialisation;
// a malformed embedded file is a build defect and panics with its file and
// line (TestEmbeddedTablesLoad keeps that from ever reaching a release).
//
//go:embed nicknames.csv address_abbreviations.csv organization_suffixes.csv name_affixes.csv
var tableFiles embed.FS

var (
	nicknames           = loadNicknames("nicknames.csv")
	addressWords        = loadPhrases("address_abbreviations.csv")
	organizationSuffix  = loadPhrases("organization_suffixes.csv")
	nameTitles, nameEnd = loadNameAffixes("name_affixes.csv")
)

// tableRow is one CSV record of an embedded table, each field already
// passed through Text so lookups match standardised input.
type tableRow struct {
	line   int
	fields []string
}

// readTable parses a comma-separated file whose lines starting with "#" are
// comments, with fields standardised by Text. It is shared by the embedded
// tables and by the user's alias and bypass lists.
func readTable(name string, r io.Reader) ([]tableRow, error) {
	reader := csv.NewReader(r)
	reader.Comment = '#'
	reader.FieldsPerRecord = -1
	reader.TrimLeadingSpace = true
	var rows []tableRow
	for {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			var parseErr *csv.ParseError
			if errors.As(err, &parseErr) {
				return nil, fmt.Errorf("%s:%d:%d: %w", name, parseErr.Line, parseErr.Column, parseErr.Err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := reader.FieldPos(0)
		row := tableRow{line: line}
		for i, field := range record {
			value, ok := Text(field)
			if !ok {
				if i == len(record)-1 && strings.TrimSpace(field) == "" && i > 0 {
					continue // a trailing comma is harmless
				}
				return nil, fmt.Errorf("%s:%d: field %d (%q) is empty after standardising; every field needs a letter or digit", name, line, i+1, field)
			}
			row.fields = append(row.fields, value)
		}
		rows = append(rows, row)
	}
}

func mustReadEmbedded(name string) []tableRow {
	f, err := tableFiles.Open(name)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	rows, err := readTable(name, f)
	if err != nil {
		panic("standardize: embedded table: " + err.Error())
	}
	return rows
}

// loadNicknames maps every name in the table to its canonical form. A
// canonical name maps to itself; a nickname under several canonical names
// maps to the first row that lists it.
func loadNicknames(name string) map[string]string {
	rows := mustReadEmbedded(name)
	canonical := make(map[string]string, len(rows)*4)
	for _, row := range rows {
		canonical[row.fields[0]] = row.fields[0]
	}
	for _, row := range rows {
		for _, nickname := range row.fields[1:] {
			if _, taken := canonical[nickname]; !taken {
				canonical[nickname] = row.fields[0]
			}
		}
	}
	return canonical
}

// phraseTable rewrites whole-word phrases of standardised text: a key of one
// or more words maps to its canonical words ("" removes the phrase).
type phraseTable struct {
	canonical map[string]string
	maxWords  int
}

func loadPhrases(name string) phraseTable {
	table := phraseTable{canonical: map[string]string{}}
	for _, row := range mustReadEmbedded(name) {
		for _, phrase := range row.fields {
			if _, dup := table.canonical[phrase]; dup {
				panic(fmt.Sprintf("standardize: %s:%d: %q is listed twice", name, row.line, phrase))
			}
			table.canonical[phrase] = row.fields[0]
			table.maxWords = max(table.maxWords, strings.Count(phrase, " ")+1)
		}
	}
	return table
}

func loadNameAffixes(name string) (titles, suffixes map[string]bool) {
	titles, suffixes = map[string]bool{}, map[string]bool{}
	for _, row := range mustReadEmbedded(name) {
		var set map[string]bool
		switch row.fields[0] {
		case "title":
			set = titles
		case "suffix":
			set = suffixes
		default:
			panic(fmt.Sprintf("standardize: %s:%d: kind %q must be title or suffix", name, row.line, row.fields[0]))
		}
		for _, word := range row.fields[1:] {
			set[word] = true
		}
	}
	return titles, suffixes
}

// rewrite replaces phrases in s (output of Text) longest first, left to
// right. Lookups slice s itself, so no key strings are built.
func (t phraseTable) rewrite(s string) string {
	starts := wordStarts(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(starts); {
		matched := 0
		for n := min(t.maxWords, len(starts)-i); n >= 1; n-- {
			phrase := s[starts[i]:wordEnd(s, starts, i+n-1)]
			if canonical, ok := t.canonical[phrase]; ok {
				appendWord(&b, canonical)
				matched = n
				break
			}
		}
		if matched == 0 {
			appendWord(&b, s[starts[i]:wordEnd(s, starts, i)])
			matched = 1
		}
		i += matched
	}
	return b.String()
}

// wordStarts returns the byte offsets where the words of s begin; s is
// Text output, so words are separated by exactly one space.
func wordStarts(s string) []int {
	if s == "" {
		return nil
	}
	starts := make([]int, 1, strings.Count(s, " ")+1)
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func wordEnd(s string, starts []int, i int) int {
	if i+1 < len(starts) {
		return starts[i+1] - 1
	}
	return len(s)
}

func appendWord(b *strings.Builder, word string) {
	if word == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(word)
}
