package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	knit "github.com/knit-cdp/knit"
)

// jsonFile reads one NDJSON file (an object per line) or JSON file (an array
// of objects).
type jsonFile struct {
	name   string
	closer func() error
	in     *bufio.Reader
	dec    *json.Decoder // JSON arrays only
	line   int64         // last line read (NDJSON) or element index (JSON)
	long   []byte        // a line longer than the buffer
	keys   [][]string    // per Reader column: its key path
	values []string
	object map[string]json.RawMessage
	nested map[string]json.RawMessage
	buf    bytes.Buffer
}

// openJSON opens a JSON or NDJSON file positioned at its first object.
func openJSON(r *Reader, file string) (fileReader, error) {
	stream, closer, err := openStream(r.path(file))
	if err != nil {
		return nil, knit.Wrap(knit.ErrorCode(err), err, "source %q: cannot open %s", r.src.Name, file)
	}
	in := bufio.NewReaderSize(stream, 64<<10)
	if head, _ := in.Peek(len(byteOrderMark)); string(head) == byteOrderMark {
		in.Discard(len(byteOrderMark))
	}
	f := &jsonFile{name: file, closer: closer, in: in, object: map[string]json.RawMessage{}}
	for _, c := range r.columns {
		f.keys = append(f.keys, strings.Split(c, "."))
	}
	f.values = make([]string, len(r.columns))
	if r.format == formatJSON {
		f.dec = json.NewDecoder(in)
		tok, err := f.dec.Token()
		if err == io.EOF {
			closer()
			return nil, knit.Errorf(knit.EINVALID, "%s: the file is empty; expected a JSON array of objects", file)
		}
		if delim, ok := tok.(json.Delim); err != nil || !ok || delim != '[' {
			closer()
			return nil, knit.Errorf(knit.EINVALID, "%s: expected a JSON array of objects ([{...}, {...}]); for one object per line set format: ndjson", file)
		}
	}
	return f, nil
}

// jsonColumns sets the columns of a JSON source: the configured ones, then
// the other top-level keys of the first object of the first file, sorted.
func (r *Reader) jsonColumns() error {
	seen := map[string]bool{}
	for _, c := range configuredColumns(r.src) {
		seen[c.name] = true
		r.columns = append(r.columns, c.name)
	}
	fr, err := openJSON(r, r.files[0])
	if err != nil {
		return err
	}
	f := fr.(*jsonFile)
	defer f.close()
	for {
		raw, err := f.nextObject()
		if err == io.EOF {
			return nil
		}
		if _, rejected := err.(*RowError); rejected {
			continue // the first good object decides
		}
		if err != nil {
			return knit.Wrap(knit.EINVALID, err, "%s", f.name)
		}
		if f.parse(raw) != nil {
			continue
		}
		var rest []string
		for k := range f.object {
			if !seen[k] {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		r.columns = append(r.columns, rest...)
		return nil
	}
}

// nextObject returns the raw text of the next element or non-blank line.
func (f *jsonFile) nextObject() ([]byte, error) {
	if f.dec != nil {
		if !f.dec.More() {
			if _, err := f.dec.Token(); err != nil && err != io.EOF {
				return nil, fmt.Errorf("after element %d: %w", f.line, err)
			}
			return nil, io.EOF
		}
		f.line++
		var raw json.RawMessage
		if err := f.dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("element %d (byte %d): %w; the rest of the file cannot be read", f.line, f.dec.InputOffset(), err)
		}
		return raw, nil
	}
	for {
		line, err := f.readLine()
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(line)) > 0 {
			return line, nil
		}
	}
}

// readLine returns the next line of an NDJSON file without its line break.
func (f *jsonFile) readLine() ([]byte, error) {
	f.long = f.long[:0]
	for {
		chunk, err := f.in.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			f.long = append(f.long, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if err == io.EOF && len(chunk) == 0 && len(f.long) == 0 {
			return nil, io.EOF
		}
		f.line++
		line := chunk
		if len(f.long) > 0 {
			f.long = append(f.long, chunk...)
			line = f.long
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}

// parse decodes one object into f.object, or says why it is not one.
func (f *jsonFile) parse(raw []byte) error {
	if !utf8.Valid(raw) {
		return fmt.Errorf("the text is not valid UTF-8; convert the file to UTF-8")
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("expected a JSON object, found %s", jsonKind(trimmed))
	}
	clear(f.object)
	if err := json.Unmarshal(trimmed, &f.object); err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	return nil
}

func (f *jsonFile) read(row *Row) error {
	raw, err := f.nextObject()
	if err != nil {
		return err
	}
	row.Line = f.line
	if err := f.parse(raw); err != nil {
		reason := err.Error()
		if f.dec != nil {
			reason = fmt.Sprintf("element %d: %s", f.line, reason)
		}
		return &RowError{File: f.name, Line: f.line, Reason: reason, Raw: string(raw)}
	}
	f.fill()
	row.Values = f.values
	return nil
}

// fill sets f.values from the parsed object.
func (f *jsonFile) fill() {
	for i, key := range f.keys {
		value, found := f.lookup(key)
		f.values[i] = ""
		if found {
			f.values[i] = f.text(value)
		}
	}
}

// lookup finds a column's value: the top-level key spelled as the column
// is, else the dotted path through nested objects.
func (f *jsonFile) lookup(path []string) (json.RawMessage, bool) {
	if len(path) == 1 {
		v, ok := f.object[path[0]]
		return v, ok
	}
	if v, ok := f.object[strings.Join(path, ".")]; ok {
		return v, true
	}
	v, ok := f.object[path[0]]
	for _, key := range path[1:] {
		if !ok {
			return nil, false
		}
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '{' {
			return nil, false
		}
		clear(f.nested)
		if f.nested == nil {
			f.nested = map[string]json.RawMessage{}
		}
		if json.Unmarshal(v, &f.nested) != nil {
			return nil, false
		}
		v, ok = f.nested[key]
	}
	return v, ok
}

// text renders a JSON value as a column value.
func (f *jsonFile) text(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case 'n':
		return ""
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(raw)
	case '{', '[':
		f.buf.Reset()
		if json.Compact(&f.buf, raw) == nil {
			return f.buf.String()
		}
		return string(raw)
	default: // numbers keep their literal text; true and false are as written
		return string(raw)
	}
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	}
	return fmt.Sprintf("text starting %q", string(raw[:min(len(raw), 20)]))
}

func (f *jsonFile) close() error { return f.closer() }
