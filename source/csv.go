package source

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	knit "github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
)

// byteOrderMark is the UTF-8 BOM some tools (Excel) write at the start of a
// file.
const byteOrderMark = "\uFEFF"

// maxRawText caps the raw text kept for a rejected row: an unclosed quote can
// swallow the rest of a file into one "row".
const maxRawText = 1 << 20

// csvOptions returns the delimiter and comment characters of a CSV source.
func csvOptions(src *config.Source) (delimiter, comment rune, err error) {
	delimiter, err = csvChar(src, "delimiter", src.CSV.Delimiter, ',')
	if err != nil {
		return 0, 0, err
	}
	comment, err = csvChar(src, "comment", src.CSV.Comment, 0)
	if err != nil {
		return 0, 0, err
	}
	if comment != 0 && comment == delimiter {
		return 0, 0, knit.Errorf(knit.EINVALID, "source %q: csv.comment and csv.delimiter are both %q; they must differ", src.Name, string(comment))
	}
	return delimiter, comment, nil
}

// csvChar parses a one-character CSV option. "\t" written as two characters
// and "tab" both mean a tab, since YAML users write either.
func csvChar(src *config.Source, key, value string, fallback rune) (rune, error) {
	switch value {
	case "":
		return fallback, nil
	case `\t`, "tab":
		return '\t', nil
	}
	c, size := utf8.DecodeRuneInString(value)
	if size != len(value) || c == utf8.RuneError {
		return 0, knit.Errorf(knit.EINVALID, "source %q: csv.%s %q must be a single character (for a tab write \"\\t\")", src.Name, key, value)
	}
	switch c {
	case '"', '\r', '\n':
		return 0, knit.Errorf(knit.EINVALID, "source %q: csv.%s cannot be %q; use another character", src.Name, key, value)
	}
	return c, nil
}

// csvHasHeader reports whether the source's files start with a header row
// (the default).
func csvHasHeader(src *config.Source) bool { return src.CSV.Header == nil || *src.CSV.Header }

// recorder keeps the bytes read through it since the start of the current
// record, so a rejected row can be returned as it was written.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.buf = append(rc.buf, p[:n]...)
	return n, err
}

// forget lets go of the bytes before stream offset off. It moves memory only
// once enough has piled up, so reading stays one copy per byte.
func (rc *recorder) forget(off int64) {
	drop := int(off - rc.base)
	if drop < 64<<10 {
		return
	}
	n := copy(rc.buf, rc.buf[drop:])
	rc.buf = rc.buf[:n]
	rc.base = off
}

// bytes returns the bytes between two stream offsets (nil if they are not
// kept).
func (rc *recorder) bytes(from, to int64) []byte {
	lo, hi := int(from-rc.base), int(to-rc.base)
	if lo < 0 || hi > len(rc.buf) || lo > hi {
		return nil
	}
	return rc.buf[lo:hi]
}

// text returns the bytes between two stream offsets without the final line
// break.
func (rc *recorder) text(from, to int64) string {
	b := rc.bytes(from, to)
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	if len(b) > maxRawText {
		return string(b[:maxRawText]) + "…(truncated)"
	}
	return string(b)
}

// csvFile reads one CSV file.
type csvFile struct {
	name     string
	closer   func() error
	rec      *recorder
	cr       *csv.Reader
	header   []string // this file's columns
	columns  []int    // position in the Reader's columns of each file column
	identity bool     // the file's columns are the Reader's columns
	values   []string // the Reader's row values when not identity
}

// newCSVFile opens a CSV file without reading any record.
func newCSVFile(r *Reader, file string) (*csvFile, error) {
	delimiter, comment, err := csvOptions(r.src)
	if err != nil {
		return nil, err
	}
	stream, closer, err := openStream(r.path(file))
	if err != nil {
		return nil, knit.Wrap(knit.ErrorCode(err), err, "source %q: cannot open %s", r.src.Name, file)
	}
	buffered := bufio.NewReaderSize(stream, 64<<10)
	if head, _ := buffered.Peek(len(byteOrderMark)); string(head) == byteOrderMark {
		buffered.Discard(len(byteOrderMark))
	}
	rec := &recorder{r: buffered}
	cr := csv.NewReader(rec)
	cr.Comma = delimiter
	cr.Comment = comment
	cr.FieldsPerRecord = -1 // a row of the wrong width is rejected, not fatal
	cr.TrimLeadingSpace = r.src.CSV.SkipInitialSpace
	cr.ReuseRecord = true
	return &csvFile{name: file, closer: closer, rec: rec, cr: cr}, nil
}

// readHeader sets the file's columns: the trimmed header row, or
// column1..columnN counted from the first record when the source has no
// header (that record is then read again as data).
func (f *csvFile) readHeader(src *config.Source) error {
	record, err := f.cr.Read()
	if err == io.EOF {
		return knit.Errorf(knit.EINVALID, "%s: the file is empty; expected a header row naming the columns", f.name)
	}
	if err != nil {
		return knit.Wrap(knit.EINVALID, err, "%s: cannot read the header row", f.name)
	}
	f.header = make([]string, len(record))
	if !csvHasHeader(src) {
		for i := range record {
			f.header[i] = "column" + strconv.Itoa(i+1)
		}
		return nil
	}
	first := map[string]int{}
	for i, name := range record {
		name = strings.TrimSpace(name)
		if name == "" {
			name = "column" + strconv.Itoa(i+1)
		}
		if j, dup := first[name]; dup {
			return knit.Errorf(knit.EINVALID, "%s: header names column %q twice (fields %d and %d); rename one so each column has one name", f.name, name, j+1, i+1)
		}
		first[name] = i
		f.header[i] = name
	}
	return nil
}

// csvHeader returns the columns of one CSV file.
func csvHeader(r *Reader, file string) ([]string, error) {
	f, err := newCSVFile(r, file)
	if err != nil {
		return nil, err
	}
	defer f.closer()
	if err := f.readHeader(r.src); err != nil {
		return nil, err
	}
	return f.header, nil
}

// openCSV opens a CSV file positioned at its first data row.
func openCSV(r *Reader, file string) (fileReader, error) {
	f, err := newCSVFile(r, file)
	if err != nil {
		return nil, err
	}
	if err := f.readHeader(r.src); err != nil {
		f.closer()
		return nil, err
	}
	if !csvHasHeader(r.src) {
		// The first record was data: start again.
		f.closer()
		header := f.header
		if f, err = newCSVFile(r, file); err != nil {
			return nil, err
		}
		f.header = header
	}
	f.columns, f.identity = r.fileColumnMap(f.header)
	if !f.identity {
		f.values = make([]string, len(r.columns))
	}
	return f, nil
}

func (f *csvFile) read(row *Row) error {
	start := f.cr.InputOffset()
	f.rec.forget(start)
	record, err := f.cr.Read()
	if err != nil {
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			row.Line = int64(parseErr.StartLine)
			return &RowError{File: f.name, Line: row.Line, Reason: describeParseError(parseErr), Raw: f.rec.text(start, f.cr.InputOffset())}
		}
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("after line %d: %w", row.Line, err)
	}
	line, _ := f.cr.FieldPos(0)
	row.Line = int64(line)
	if len(record) != len(f.header) {
		return &RowError{File: f.name, Line: row.Line,
			Reason: fmt.Sprintf("expected %d fields as in the header, found %d (a value holding the delimiter must be quoted)", len(f.header), len(record)),
			Raw:    f.rec.text(start, f.cr.InputOffset())}
	}
	// The record's values are its bytes as read less quotes, delimiters and
	// line ends (and leading spaces), all whole characters: when the bytes
	// are valid UTF-8 so is every value, checked in one call instead of one
	// per value. Otherwise each value is checked, to name the column.
	if raw := f.rec.bytes(start, f.cr.InputOffset()); raw == nil || !utf8.Valid(raw) {
		for i, v := range record {
			if !utf8.ValidString(v) {
				return &RowError{File: f.name, Line: row.Line, Column: f.header[i],
					Reason: fmt.Sprintf("value %q is not valid UTF-8; convert the file to UTF-8 (for example iconv -f latin1 -t utf-8)", v),
					Raw:    f.rec.text(start, f.cr.InputOffset())}
			}
		}
	}
	if f.identity {
		row.Values = record
		return nil
	}
	clear(f.values)
	for i, v := range record {
		f.values[f.columns[i]] = v
	}
	row.Values = f.values
	return nil
}

// describeParseError explains a CSV syntax error and how to write the value
// instead.
func describeParseError(e *csv.ParseError) string {
	reason := fmt.Sprintf("%v (line %d, column %d)", e.Err, e.Line, e.Column)
	switch {
	case errors.Is(e.Err, csv.ErrBareQuote):
		reason += `; a value containing a quote must be quoted with the quote doubled, as in "say ""hi"""`
	case errors.Is(e.Err, csv.ErrQuote):
		reason += `; a quoted value must end with a quote followed by the delimiter or the end of the line`
	}
	return reason
}

func (f *csvFile) close() error { return f.closer() }
