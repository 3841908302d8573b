package source

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/knit-cdp/knit/config"
)

// Rows is what the pipeline reads a source through: a Reader over files,
// or a table reader of a database adapter (TableOpener).
type Rows interface {
	// Columns returns the column names; Row.Values is aligned with them.
	Columns() []string
	// Next returns the next row, a *RowError for a row that could not be
	// read (call Next again), io.EOF at the end, or a fatal error.
	Next() (*Row, error)
	Close() error
}

var _ Rows = (*Reader)(nil)

// TableOpener opens sources that read a database table (config.Source's
// Table). The postgres package implements it; the pipeline receives it as
// an interface so that it imports no driver.
type TableOpener interface {
	OpenTable(ctx context.Context, src *config.Source) (Rows, error)
}

// CheckColumns fails, as for a file, when a column the source
// configuration names is not among cols; where names the table.
func CheckColumns(src *config.Source, where string, cols []string) error {
	return checkConfigured(src, where, cols)
}

// ConfiguredColumns lists the columns the source configuration names, in
// the order documented for JSON sources, without repeats.
func ConfiguredColumns(src *config.Source) []string {
	var out []string
	for _, c := range configuredColumns(src) {
		out = append(out, c.name)
	}
	return out
}

// JSONObjects turns JSON objects (a table's JSON column, one object per
// row) into row values exactly as an NDJSON source reads its lines:
// dotted column names reach into nested objects, numbers keep their
// literal text, objects and arrays become compact JSON.
type JSONObjects struct {
	f *jsonFile
}

// JSONColumns returns a JSON source's columns: the configured ones, then
// the other top-level keys of first (the first row's object), sorted.
func JSONColumns(src *config.Source, first []byte) []string {
	cols := ConfiguredColumns(src)
	seen := map[string]bool{}
	for _, c := range cols {
		seen[c] = true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(first, &obj) != nil {
		return cols
	}
	var rest []string
	for k := range obj {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(cols, rest...)
}

// NewJSONObjects prepares reading objects into values aligned with cols.
func NewJSONObjects(cols []string) *JSONObjects {
	f := &jsonFile{object: map[string]json.RawMessage{}, values: make([]string, len(cols))}
	for _, c := range cols {
		f.keys = append(f.keys, strings.Split(c, "."))
	}
	return &JSONObjects{f: f}
}

// Values parses one object into values aligned with the columns (reused by
// the next call), or says why it is not a JSON object.
func (j *JSONObjects) Values(raw []byte) ([]string, error) {
	f := j.f
	if err := f.parse(raw); err != nil {
		return nil, err
	}
	f.fill()
	return f.values, nil
}
