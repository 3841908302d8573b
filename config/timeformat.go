package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// strftimeToGo maps strftime directives (as in Python, DuckDB and C) to Go
// reference-layout pieces.
var strftimeToGo = map[byte]string{
	'Y': "2006", 'y': "06",
	'm': "01", 'd': "02", 'e': "_2", 'j': "002",
	'b': "Jan", 'h': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday",
	'H': "15", 'I': "03", 'M': "04", 'S': "05", 'p': "PM",
	'f': "000000", 'z': "-0700", 'Z': "MST",
	'F': "2006-01-02", 'T': "15:04:05", 'D': "01/02/06", 'R': "15:04",
	'%': "%",
}

// strftimeNoPad maps the glibc "%-m" (no padding) forms.
var strftimeNoPad = map[byte]string{'m': "1", 'd': "2", 'I': "3", 'H': "15", 'M': "4", 'S': "5"}

// translateStrftime turns a strftime format such as "%m-%d-%Y %H:%M:%S" into
// the Go layout "01-02-2006 15:04:05".
func translateStrftime(format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch != '%' {
			// Digits in literal text would be read as date fields by Go.
			if ch >= '0' && ch <= '9' {
				return "", fmt.Errorf("strftime format %q has a digit in its literal text, which a Go layout would read as a date field; write the layout in Go form instead", format)
			}
			b.WriteByte(ch)
			continue
		}
		if i+1 >= len(format) {
			return "", fmt.Errorf("strftime format %q ends with a lone %%", format)
		}
		i++
		table := strftimeToGo
		if format[i] == '-' && i+1 < len(format) {
			i++
			table = strftimeNoPad
		}
		piece, ok := table[format[i]]
		if !ok {
			return "", fmt.Errorf("strftime directive %%%c in %q is not supported; supported: %%Y %%y %%m %%d %%e %%j %%b %%B %%a %%A %%H %%I %%M %%S %%p %%f %%z %%Z %%F %%T %%D %%R %%%% and %%-m %%-d %%-I %%-M %%-S", format[i], format)
		}
		b.WriteString(piece)
	}
	return b.String(), nil
}

// normalizeTimeFormat validates a time format and returns the form stored in
// the Config: a keyword (rfc3339, unix, unix_ms, date, auto; empty means
// auto) or a Go reference layout, strftime formats being translated so that
// readers handle only Go layouts.
func normalizeTimeFormat(format string) (string, error) {
	if format == "" {
		return "auto", nil
	}
	if slices.Contains(timeKeywords, format) {
		return format, nil
	}
	layout := format
	if strings.Contains(format, "%") {
		var err error
		if layout, err = translateStrftime(format); err != nil {
			return "", err
		}
	}
	if !strings.Contains(layout, "2006") && !strings.Contains(layout, "06") {
		return "", fmt.Errorf("%q has no year; use one of %s, a Go layout containing 2006 such as \"2006-01-02 15:04:05\", or a strftime format such as \"%%Y-%%m-%%d %%H:%%M:%%S\"", format, strings.Join(timeKeywords, ", "))
	}
	// A layout must read back what it writes, or no value would ever parse.
	reference := time.Date(2021, time.March, 14, 15, 9, 26, 535897000, time.UTC)
	if _, err := time.Parse(layout, reference.Format(layout)); err != nil {
		return "", fmt.Errorf("%q is not a usable Go time layout: %v", format, err)
	}
	return layout, nil
}
