// Package source reads customer data files (CSV, NDJSON, JSON arrays and
// Parquet, optionally gzip-compressed by a .gz extension) as rows of text
// values, and types those values per the source's configuration.
//
// Reading never stops at a bad row: a row that cannot be read is returned as
// a *RowError that names the file, the line and, where known, the column, and
// carries the raw text so the caller can store it. The next call to Next
// continues with the following row. Only errors that make the rest of a file
// unreadable (an I/O error, a JSON syntax error inside an array) are fatal.
//
// Columns. A CSV file's columns are its header (trimmed of surrounding space;
// a UTF-8 byte order mark is dropped), or column1..columnN when the source
// sets csv.header: false. A Parquet file's columns are the top-level leaf
// columns of its schema. When a glob matches several files, the reader's
// columns are the union of all files' columns in first-seen order, and a file
// lacking a column gives "" (null) for it.
//
// JSON formats have no header. The columns are those named in the source
// configuration (primary key, identifier columns, attribute columns,
// timestamp, updated_at, declared columns) followed by the other top-level
// keys of the first object of the first file, sorted. Keys that appear only
// in later objects are not read. A configured name with dots, such as
// traits.email, reaches into nested objects (a top-level key spelled with the
// dots wins if one exists). Values are text: strings as they are, numbers as
// their literal text, booleans as true/false, null or a missing key as "",
// nested objects and arrays as compact JSON.
package source

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	knit "github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/similarity"
)

// Row is one row of a source.
type Row struct {
	File string // path as matched (relative to the project folder)
	// Line is the 1-based line where the row starts (CSV, NDJSON), the
	// 1-based element index (JSON array) or the 1-based row number
	// (Parquet).
	Line int64
	// Values is aligned with Reader.Columns; "" means null or missing.
	Values []string
	// Key identifies a row of a table source (primary_key=value), which
	// has no lines; "" for files.
	Key string
}

// RowError is a row that could not be read or typed. Reading continues after
// it.
type RowError struct {
	File   string
	Line   int64
	Column string // empty when the whole row is at fault
	Reason string
	Raw    string // the row's text as read, for storing the rejected row
	Key    string // a table row's primary_key=value (Row.Key); "" for files
}

// Where names the row: file and line, or table and primary key.
func (e *RowError) Where() string {
	if e.Key != "" {
		return e.File + " row " + e.Key
	}
	return fmt.Sprintf("%s:%d", e.File, e.Line)
}

func (e *RowError) Error() string {
	if e.Key != "" {
		if e.Column == "" {
			return fmt.Sprintf("%s: %s", e.Where(), e.Reason)
		}
		return fmt.Sprintf("%s: column %s: %s", e.Where(), e.Column, e.Reason)
	}
	if e.Column == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: column %s: %s", e.File, e.Line, e.Column, e.Reason)
}

// Reader reads the rows of all files matched by a source, in sorted name
// order.
type Reader struct {
	dir     string
	src     *config.Source
	format  string
	files   []string // as matched, relative to dir when the pattern was
	columns []string
	index   map[string]int // column name -> position in columns

	next    int        // index into files of the next file to open
	current fileReader // nil between files
	row     Row
}

// fileReader reads one file into a Row aligned with the Reader's columns.
type fileReader interface {
	// read fills row.Line and row.Values, or returns a *RowError, io.EOF
	// at the end of the file, or a fatal error.
	read(row *Row) error
	close() error
}

// Formats.
const (
	formatCSV     = "csv"
	formatNDJSON  = "ndjson"
	formatJSON    = "json"
	formatParquet = "parquet"
)

// Open resolves src.File (a path or glob relative to dir) and opens a reader
// over all matched files. It fails when nothing matches, a file cannot be
// opened, or a column named in the source configuration is missing from a
// file.
func Open(dir string, src *config.Source) (*Reader, error) {
	files, err := matchFiles(dir, src)
	if err != nil {
		return nil, err
	}
	format, err := formatOf(src, files[0])
	if err != nil {
		return nil, err
	}
	r := &Reader{dir: dir, src: src, format: format, files: files}
	switch format {
	case formatCSV:
		if _, _, err := csvOptions(src); err != nil {
			return nil, err
		}
		err = r.collectColumns(csvHeader)
	case formatParquet:
		err = r.collectColumns(parquetHeader)
	case formatNDJSON, formatJSON:
		err = r.jsonColumns()
	}
	if err != nil {
		return nil, err
	}
	r.index = make(map[string]int, len(r.columns))
	for i, c := range r.columns {
		r.index[c] = i
	}
	r.row.Values = make([]string, len(r.columns))
	return r, nil
}

// Columns returns the column names; Row.Values is aligned with them.
func (r *Reader) Columns() []string { return r.columns }

// Next returns the next row. It returns io.EOF after the last row of the last
// file, a *RowError for a row that could not be read (call Next again to
// continue), and any other error when reading cannot go on. The returned Row
// may be overwritten by the next call.
func (r *Reader) Next() (*Row, error) {
	for {
		if r.current == nil {
			if r.next >= len(r.files) {
				return nil, io.EOF
			}
			file := r.files[r.next]
			r.next++
			fr, err := r.openFile(file)
			if err != nil {
				return nil, err
			}
			r.current = fr
			r.row.File = file
		}
		err := r.current.read(&r.row)
		if err == nil {
			return &r.row, nil
		}
		if err != io.EOF {
			var rowErr *RowError
			if errors.As(err, &rowErr) {
				return nil, err
			}
			return nil, knit.Wrap(knit.EINVALID, err, "%s", r.row.File)
		}
		closeErr := r.current.close()
		r.current = nil
		if closeErr != nil {
			return nil, knit.Wrap(knit.EINTERNAL, closeErr, "%s: close", r.row.File)
		}
	}
}

// Close releases the file being read.
func (r *Reader) Close() error {
	if r.current == nil {
		return nil
	}
	err := r.current.close()
	r.current = nil
	r.next = len(r.files)
	return err
}

func (r *Reader) openFile(file string) (fileReader, error) {
	switch r.format {
	case formatCSV:
		return openCSV(r, file)
	case formatParquet:
		return openParquet(r, file)
	default:
		return openJSON(r, file)
	}
}

// path returns the filesystem path of a matched file.
func (r *Reader) path(file string) string {
	return config.Resolve(r.dir, file)
}

// matchFiles expands the source's file pattern into the regular files it
// names, sorted by name.
func matchFiles(dir string, src *config.Source) ([]string, error) {
	if src.File == "" {
		return nil, knit.Errorf(knit.EINVALID, "source %q: file is not set; give a path or a glob such as data/events-*.csv", src.Name)
	}
	matches, err := filepath.Glob(config.Resolve(dir, src.File))
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "source %q: file %q is not a valid glob pattern", src.Name, src.File)
	}
	var files []string
	for _, m := range matches {
		info, err := os.Stat(m)
		if err != nil {
			return nil, knit.Wrap(knit.ErrorCode(err), err, "source %q: cannot open %s", src.Name, m)
		}
		if info.IsDir() {
			continue
		}
		if !filepath.IsAbs(src.File) {
			if rel, err := filepath.Rel(dir, m); err == nil {
				m = rel
			}
		}
		files = append(files, m)
	}
	if len(files) == 0 {
		return nil, knit.Errorf(knit.ENOTFOUND, "source %q: no file matches %q (looked in %s)", src.Name, src.File, dir)
	}
	sort.Strings(files)
	return files, nil
}

// formatOf returns the source's format, or the one its first file's
// extension implies.
func formatOf(src *config.Source, file string) (string, error) {
	format := strings.ToLower(src.Format)
	if format == "" {
		switch ext := strings.ToLower(filepath.Ext(strings.TrimSuffix(strings.ToLower(file), ".gz"))); ext {
		case ".csv", ".tsv", ".txt":
			format = formatCSV
		case ".ndjson", ".jsonl":
			format = formatNDJSON
		case ".json":
			format = formatJSON
		case ".parquet":
			format = formatParquet
		default:
			return "", knit.Errorf(knit.EINVALID, "source %q: cannot tell the format of %s from its extension %q; set format to csv, ndjson, json or parquet", src.Name, file, ext)
		}
	}
	switch format {
	case formatCSV, formatNDJSON, formatJSON, formatParquet:
		return format, nil
	case "jsonl":
		return formatNDJSON, nil
	}
	return "", knit.Errorf(knit.EINVALID, "source %q: format %q is not supported; use csv, ndjson, json or parquet", src.Name, src.Format)
}

// openStream opens a file for sequential reading, decompressing it when its
// name ends in .gz.
func openStream(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, knit.Wrap(knit.ENOTFOUND, err, "no such file")
	}
	if err != nil {
		return nil, nil, knit.Wrap(knit.EINVALID, err, "unreadable")
	}
	if !strings.HasSuffix(strings.ToLower(path), ".gz") {
		return f, f.Close, nil
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, knit.Wrap(knit.EINVALID, err, "not a gzip file")
	}
	return gz, func() error {
		gz.Close()
		return f.Close()
	}, nil
}

// configuredColumn is a column the source configuration refers to, with the
// configuration key that names it (for error messages).
type configuredColumn struct {
	name string
	key  string
}

// configuredColumns lists the columns the source configuration names, in the
// stable order documented for JSON sources, without repeats.
func configuredColumns(src *config.Source) []configuredColumn {
	var out []configuredColumn
	seen := map[string]bool{}
	add := func(name, key string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		out = append(out, configuredColumn{name, key})
	}
	add(src.PrimaryKey, "primary_key")
	for _, c := range orderedKeys(src.IdentCols, src.Identifiers) {
		add(c, "identifiers")
	}
	for _, c := range orderedKeys(src.AttrCols, src.Attributes) {
		add(c, "attributes")
	}
	add(src.VisitorKey, "visitor_key")
	if src.Timestamp != nil {
		add(src.Timestamp.Column, "timestamp.column")
	}
	if src.UpdatedAt != nil {
		add(src.UpdatedAt.Column, "updated_at.column")
	}
	for _, c := range orderedKeys(nil, src.Columns) {
		add(c, "columns")
	}
	return out
}

// orderedKeys returns the keys of m in the given order, then any keys the
// order misses, sorted.
func orderedKeys[V any](order []string, m map[string]V) []string {
	out := make([]string, 0, len(m))
	listed := make(map[string]bool, len(order))
	for _, k := range order {
		if _, ok := m[k]; ok && !listed[k] {
			listed[k] = true
			out = append(out, k)
		}
	}
	var rest []string
	for k := range m {
		if !listed[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// headerFunc returns the columns one file holds.
type headerFunc func(r *Reader, file string) ([]string, error)

// collectColumns reads every file's columns, checks that each holds the
// configured columns, and sets r.columns to their union.
func (r *Reader) collectColumns(header headerFunc) error {
	seen := map[string]bool{}
	for _, file := range r.files {
		cols, err := header(r, file)
		if err != nil {
			return err
		}
		if err := checkConfigured(r.src, file, cols); err != nil {
			return err
		}
		for _, c := range cols {
			if !seen[c] {
				seen[c] = true
				r.columns = append(r.columns, c)
			}
		}
	}
	return nil
}

// checkConfigured fails when a column the configuration names is not among
// a file's columns.
func checkConfigured(src *config.Source, file string, cols []string) error {
	have := make(map[string]bool, len(cols))
	for _, c := range cols {
		have[c] = true
	}
	for _, want := range configuredColumns(src) {
		if have[want.name] {
			continue
		}
		message := fmt.Sprintf("%s: column %q named in source %q (%s) is not in the file", file, want.name, src.Name, want.key)
		if near := closest(want.name, cols); near != "" {
			message += fmt.Sprintf("; did you mean %q?", near)
		} else {
			message += "."
		}
		return knit.Errorf(knit.EINVALID, "%s The file has columns: %s", message, strings.Join(cols, ", "))
	}
	return nil
}

// closest returns the column most like name: the same ignoring case and
// punctuation, or within a small edit distance; "" if none is close.
func closest(name string, cols []string) string {
	fold := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch r {
			case '_', '-', ' ', '.':
				return -1
			}
			return r
		}, strings.ToLower(s))
	}
	want := fold(name)
	best, bestDist := "", 3 // at most two edits away
	if len([]rune(want)) <= 4 {
		bestDist = 2 // short names: one edit, or any pair of short names would match
	}
	for _, c := range cols {
		got := fold(c)
		if got == want {
			return c
		}
		if d := similarity.Levenshtein(want, got); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// fileColumnMap maps a file's column positions to the Reader's columns, and
// reports whether the two are the same list in the same order.
func (r *Reader) fileColumnMap(cols []string) (positions []int, identity bool) {
	positions = make([]int, len(cols))
	identity = len(cols) == len(r.columns)
	for i, c := range cols {
		positions[i] = r.index[c]
		if positions[i] != i {
			identity = false
		}
	}
	return positions, identity
}
