package source

import (
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	knit "github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
)

// Time formats besides Go reference layouts.
const (
	timeRFC3339 = "rfc3339"
	timeUnix    = "unix"
	timeUnixMS  = "unix_ms"
	timeDate    = "date"
	timeAuto    = "auto"
)

// ParseTime parses s with the TimeField's format: a Go reference layout, or
// rfc3339, unix (seconds), unix_ms, date (2006-01-02) or auto (RFC 3339
// with or without fraction or zone, "2006-01-02 15:04:05",
// "2006-01-02T15:04:05", "2006-01-02"; the default). Timezone (an IANA name,
// default UTC) is the zone of times written without one. The result is in
// UTC. Strftime layouts (%Y-%m-%d) must be translated to Go layouts by the
// configuration loader first; here they are an error.
func ParseTime(tf *config.TimeField, s string) (time.Time, error) {
	p, err := newTimeParser(tf.Format, tf.Timezone)
	if err != nil {
		return time.Time{}, err
	}
	t, err := p.parse(s)
	return t.UTC(), err
}

// timeParser parses times of one format in one zone.
type timeParser struct {
	format string // one of the named formats, or "" for layout
	layout string // Go reference layout
	loc    *time.Location
	fixed  *fixedLayout // the layout's fast path, nil when it has none
}

func newTimeParser(format, zone string) (*timeParser, error) {
	loc, err := location(zone)
	if err != nil {
		return nil, err
	}
	p := &timeParser{loc: loc}
	switch strings.ToLower(format) {
	case "", timeAuto:
		p.format = timeAuto
	case timeRFC3339, timeUnix, timeUnixMS, timeDate:
		p.format = strings.ToLower(format)
	default:
		if strings.Contains(format, "%") {
			return nil, knit.Errorf(knit.EINVALID, "time format %q is a strftime layout; write it as a Go reference layout such as 2006-01-02 15:04:05, or use rfc3339, unix, unix_ms, date or auto", format)
		}
		// A layout without any reference element formats to itself.
		if time.Date(2009, 11, 10, 23, 1, 2, 3, time.UTC).Format(format) == format {
			return nil, knit.Errorf(knit.EINVALID, "time format %q has no Go reference elements; write the reference time Mon Jan 2 15:04:05 MST 2006 in your layout (for example 01/02/2006 15:04:05), or use rfc3339, unix, unix_ms, date or auto", format)
		}
		p.layout = format
		p.fixed = compileFixed(format)
	}
	return p, nil
}

// locations caches loaded time zones: loading one reads the zone database.
var locations sync.Map

func location(zone string) (*time.Location, error) {
	if zone == "" || zone == "UTC" {
		return time.UTC, nil
	}
	if loc, ok := locations.Load(zone); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "timezone %q is not a known IANA zone name (such as Europe/Paris or America/New_York)", zone)
	}
	locations.Store(zone, loc)
	return loc, nil
}

// parse returns the time in the zone it was written in (or the parser's).
func (p *timeParser) parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	var err error
	switch p.format {
	case "":
		if p.fixed != nil {
			if t, ok := p.fixed.parse(s, p.loc); ok {
				return t, nil
			}
		}
		t, err = time.ParseInLocation(p.layout, s, p.loc)
	case timeAuto:
		t, err = p.parseAuto(s)
	case timeRFC3339:
		t, err = time.Parse(time.RFC3339Nano, s)
	case timeDate:
		t, err = time.ParseInLocation(time.DateOnly, s, p.loc)
	case timeUnix:
		t, err = parseUnix(s, 9)
	case timeUnixMS:
		t, err = parseUnix(s, 6)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot parse %q as %s", s, p.describe())
	}
	return t, nil
}

// describe names the expected format for error messages.
func (p *timeParser) describe() string {
	switch p.format {
	case "":
		return p.layout
	case timeAuto:
		return "a date or timestamp (RFC 3339, 2006-01-02 15:04:05 or 2006-01-02)"
	case timeRFC3339:
		return "RFC 3339 (2006-01-02T15:04:05Z07:00)"
	case timeDate:
		return "a date (2006-01-02)"
	case timeUnix:
		return "unix seconds"
	default:
		return "unix milliseconds"
	}
}

// The fast paths of auto's layouts without a zone.
var (
	autoDate  = compileFixed(time.DateOnly)
	autoSpace = compileFixed(time.DateTime)
	autoT     = compileFixed("2006-01-02T15:04:05")
)

// parseAuto picks the layout from the shape of s, so a value costs one
// parse.
func (p *timeParser) parseAuto(s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		if t, ok := autoDate.parse(s, p.loc); ok {
			return t, nil
		}
		return time.ParseInLocation(time.DateOnly, s, p.loc)
	}
	if len(s) < len("2006-01-02T15:04:05") || (s[10] != 'T' && s[10] != ' ') {
		return time.Time{}, fmt.Errorf("unknown shape")
	}
	layout := "2006-01-02" + s[10:11] + "15:04:05"
	zone := s[19:]
	if strings.HasPrefix(zone, ".") || strings.HasPrefix(zone, ",") {
		zone = strings.TrimLeft(zone[1:], "0123456789")
	}
	switch {
	case zone == "":
		fixed := autoSpace
		if s[10] == 'T' {
			fixed = autoT
		}
		if t, ok := fixed.parse(s, p.loc); ok {
			return t, nil
		}
		return time.ParseInLocation(layout, s, p.loc)
	case zone == "Z" || len(zone) == len("+07:00"):
		return time.Parse(layout+"Z07:00", s)
	case len(zone) == len("+0700"):
		return time.Parse(layout+"Z0700", s)
	case len(zone) == len("+07"):
		return time.Parse(layout+"Z07", s)
	}
	return time.Time{}, fmt.Errorf("unknown zone %q", zone)
}

// parseUnix parses an integer count of seconds (fracDigits 9) or
// milliseconds (fracDigits 6), with an optional decimal fraction, without
// the rounding a float would bring.
func parseUnix(s string, fracDigits int) (time.Time, error) {
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var nanos int64
	if frac != "" {
		if len(frac) > fracDigits {
			frac = frac[:fracDigits]
		}
		f, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		nanos = int64(f) * int64(math.Pow10(fracDigits-len(frac)))
		if strings.HasPrefix(whole, "-") {
			nanos = -nanos
		}
	}
	if fracDigits == 6 { // milliseconds
		return time.UnixMilli(n).Add(time.Duration(nanos)).UTC(), nil
	}
	return time.Unix(n, nanos).UTC(), nil
}

// Column types a source may declare.
var columnTypes = map[string]engine.Type{
	"string":    engine.Text,
	"int":       engine.BigInt,
	"float":     engine.Double,
	"bool":      engine.Bool,
	"date":      engine.Date,
	"timestamp": engine.Timestamp,
}

// Typer converts a Row's text values into typed Go values.
type Typer struct {
	src     *config.Source
	columns []string
	types   []engine.Type
	times   []*timeParser // parser of each date or timestamp column
}

// NewTyper prepares the conversion of rows with the given columns per the
// source's declared column types; the Timestamp and UpdatedAt columns are
// timestamps parsed with their formats.
func NewTyper(src *config.Source, columns []string) (*Typer, error) {
	t := &Typer{src: src, columns: columns, types: make([]engine.Type, len(columns)), times: make([]*timeParser, len(columns))}
	position := func(name, key string) (int, error) {
		i := slices.Index(columns, name)
		if i < 0 {
			return 0, knit.Errorf(knit.EINVALID, "source %q: %s names column %q, which the data does not have; the columns are: %s", src.Name, key, name, strings.Join(columns, ", "))
		}
		return i, nil
	}
	for _, name := range orderedKeys(nil, src.Columns) {
		col := src.Columns[name]
		i, err := position(name, "columns")
		if err != nil {
			return nil, err
		}
		typeName := "string"
		if col != nil && col.Type != "" {
			typeName = strings.ToLower(col.Type)
		}
		typ, ok := columnTypes[typeName]
		if !ok {
			return nil, knit.Errorf(knit.EINVALID, "source %q: columns.%s.type %q is not a type; use string, int, float, bool, date or timestamp", src.Name, name, col.Type)
		}
		t.types[i] = typ
		if typ == engine.Date || typ == engine.Timestamp {
			if t.times[i], err = newTimeParser(col.Format, ""); err != nil {
				return nil, knit.Wrap(knit.EINVALID, err, "source %q: columns.%s.format", src.Name, name)
			}
		}
	}
	for _, tf := range []struct {
		key   string
		field *config.TimeField
	}{{"timestamp", src.Timestamp}, {"updated_at", src.UpdatedAt}} {
		if tf.field == nil || tf.field.Column == "" {
			continue
		}
		i, err := position(tf.field.Column, tf.key+".column")
		if err != nil {
			return nil, err
		}
		if t.types[i] != engine.Text && t.types[i] != engine.Date && t.types[i] != engine.Timestamp {
			return nil, knit.Errorf(knit.EINVALID, "source %q: column %q is the %s column, so its declared type must be timestamp or date, not %s", src.Name, tf.field.Column, tf.key, src.Columns[tf.field.Column].Type)
		}
		if t.types[i] == engine.Text {
			t.types[i] = engine.Timestamp
		}
		if t.times[i], err = newTimeParser(tf.field.Format, tf.field.Timezone); err != nil {
			return nil, knit.Wrap(knit.EINVALID, err, "source %q: %s.format", src.Name, tf.key)
		}
	}
	return t, nil
}

// Types returns the engine type of each column.
func (t *Typer) Types() []engine.Type { return t.types }

// Convert sets out[i] to the typed value of row.Values[i]: string, int64,
// float64, bool or time.Time (UTC; midnight UTC for dates), nil for null. A
// value that does not parse gives a *RowError naming the column.
func (t *Typer) Convert(row *Row, out []any) error { return t.convertRow(row, out, nil) }

// ConvertTo is Convert with the values kept in vals and handed out as
// pointers (*string, *int64, *float64, *time.Time; bool and nil as
// Convert), which engine.Engine.Load takes: a pointer goes into an any
// without an allocation, where a string, number or time boxed by value
// allocates one each, six or seven per event row.
func (t *Typer) ConvertTo(row *Row, out []any, vals *Values) error {
	return t.convertRow(row, out, vals)
}

func (t *Typer) convertRow(row *Row, out []any, vals *Values) error {
	if len(row.Values) != len(t.types) || len(out) != len(t.types) {
		return fmt.Errorf("source %q: convert: row has %d values and out %d slots for %d columns", t.src.Name, len(row.Values), len(out), len(t.types))
	}
	for i, v := range row.Values {
		if t.types[i] == engine.Text {
			out[i] = vals.text(v)
			continue
		}
		s := strings.TrimSpace(v)
		if s == "" {
			out[i] = nil
			continue
		}
		value, err := t.convert(i, s, vals)
		if err != nil {
			return &RowError{File: row.File, Line: row.Line, Key: row.Key, Column: t.columns[i], Reason: err.Error(), Raw: csvLine(row.Values)}
		}
		out[i] = value
	}
	return nil
}

// Values holds typed values of many rows for ConvertTo. Its arrays are
// filled, never moved, and replaced by new ones when full, so a pointer
// into them stays valid while it is held (and keeps only its block of a
// few thousand values alive). The zero Values is ready to use; a nil
// *Values boxes values by value (Convert).
type Values struct {
	texts  []string
	ints   []int64
	floats []float64
	times  []time.Time
}

// valuesBlock is how many values of one type a block holds.
const valuesBlock = 4096

func keep[T any](block *[]T, v T) *T {
	if len(*block) == cap(*block) {
		*block = make([]T, 0, valuesBlock)
	}
	*block = append(*block, v)
	return &(*block)[len(*block)-1]
}

// text returns nil for "" (null), else s or a pointer to a kept copy.
func (v *Values) text(s string) any {
	switch {
	case s == "":
		return nil
	case v == nil:
		return s
	}
	return keep(&v.texts, s)
}

// Int returns n, or a pointer to a kept copy.
func (v *Values) Int(n int64) any {
	if v == nil {
		return n
	}
	return keep(&v.ints, n)
}

func (v *Values) float(f float64) any {
	if v == nil {
		return f
	}
	return keep(&v.floats, f)
}

func (v *Values) time(t time.Time) any {
	if v == nil {
		return t
	}
	return keep(&v.times, t)
}

// convert types one non-empty, trimmed value.
func (t *Typer) convert(i int, s string, vals *Values) (any, error) {
	switch t.types[i] {
	case engine.BigInt:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return vals.Int(n), nil
		}
		// Exports often write whole numbers as 12.0.
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return vals.Int(int64(f)), nil
		}
		return nil, fmt.Errorf("cannot parse %q as int (a whole number such as 42)", s)
	case engine.Double:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %q as float (a number such as 3.14)", s)
		}
		return vals.float(f), nil
	case engine.Bool:
		switch strings.ToLower(s) {
		case "true", "1", "yes":
			return true, nil
		case "false", "0", "no":
			return false, nil
		}
		return nil, fmt.Errorf("cannot parse %q as bool (true/false, 1/0 or yes/no)", s)
	case engine.Date:
		tm, err := t.times[i].parse(s)
		if err != nil {
			return nil, err
		}
		y, m, d := tm.Date()
		return vals.time(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)), nil
	default: // engine.Timestamp
		tm, err := t.times[i].parse(s)
		if err != nil {
			return nil, err
		}
		return vals.time(tm.UTC()), nil
	}
}

// csvLine renders values as one CSV line, the raw text of a row rejected
// while typing.
func csvLine(values []string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(values)
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}
