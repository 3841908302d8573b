package source

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	knit "github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
)

func TestParseTime(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	tests := []struct {
		format, zone, in string
		want             time.Time
	}{
		{"01-02-2006 15:04:05", "", "07-23-2022 10:00:00", utc(2022, 7, 23, 10, 0, 0, 0)},
		// July in New York is UTC-4.
		{"01-02-2006 15:04:05", "America/New_York", "07-23-2022 10:00:00", utc(2022, 7, 23, 14, 0, 0, 0)},
		{"02/01/2006", "Europe/Paris", "23/01/2022", utc(2022, 1, 22, 23, 0, 0, 0)},
		{"rfc3339", "", "2022-07-23T10:00:00+02:00", utc(2022, 7, 23, 8, 0, 0, 0)},
		{"rfc3339", "", "2022-07-23T10:00:00.5Z", utc(2022, 7, 23, 10, 0, 0, 500000000)},
		{"unix", "", "1658570400", utc(2022, 7, 23, 10, 0, 0, 0)},
		{"unix", "", "1658570400.25", utc(2022, 7, 23, 10, 0, 0, 250000000)},
		{"unix", "", "-1.5", utc(1969, 12, 31, 23, 59, 58, 500000000)},
		{"unix_ms", "", "1658570400123", utc(2022, 7, 23, 10, 0, 0, 123000000)},
		{"unix_ms", "", "1658570400123.5", utc(2022, 7, 23, 10, 0, 0, 123500000)},
		{"date", "", "2022-07-23", utc(2022, 7, 23, 0, 0, 0, 0)},
		{"date", "Asia/Tokyo", "2022-07-23", utc(2022, 7, 22, 15, 0, 0, 0)},
		{"auto", "", "2022-07-23", utc(2022, 7, 23, 0, 0, 0, 0)},
		{"auto", "", "2022-07-23 10:00:00", utc(2022, 7, 23, 10, 0, 0, 0)},
		{"auto", "", "2022-07-23T10:00:00", utc(2022, 7, 23, 10, 0, 0, 0)},
		{"auto", "", "2022-07-23T10:00:00.123456", utc(2022, 7, 23, 10, 0, 0, 123456000)},
		{"auto", "", "2022-07-23T10:00:00Z", utc(2022, 7, 23, 10, 0, 0, 0)},
		{"auto", "", "2022-07-23 10:00:00.5-05:00", utc(2022, 7, 23, 15, 0, 0, 500000000)},
		{"auto", "", "2022-07-23T10:00:00+0530", utc(2022, 7, 23, 4, 30, 0, 0)},
		{"auto", "", "2022-07-23T10:00:00+02", utc(2022, 7, 23, 8, 0, 0, 0)},
		{"", "Europe/Paris", "2022-07-23 10:00:00", utc(2022, 7, 23, 8, 0, 0, 0)},       // empty format is auto
		{"auto", "Europe/Paris", "2022-07-23T10:00:00Z", utc(2022, 7, 23, 10, 0, 0, 0)}, // a written zone wins
		{"auto", "", "  2022-07-23  ", utc(2022, 7, 23, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		got, err := ParseTime(&config.TimeField{Format: tt.format, Timezone: tt.zone}, tt.in)
		if err != nil {
			t.Errorf("ParseTime(%q, %q, %q): %v", tt.format, tt.zone, tt.in, err)
			continue
		}
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q, %q, %q) = %v, want %v in UTC", tt.format, tt.zone, tt.in, got, tt.want)
		}
	}
}

func TestParseTimeErrors(t *testing.T) {
	tests := []struct {
		format, zone, in, want string
	}{
		{"01-02-2006 15:04:05", "", "07/23/2022", `cannot parse "07/23/2022" as 01-02-2006 15:04:05`},
		{"rfc3339", "", "2022-07-23 10:00", `cannot parse "2022-07-23 10:00" as RFC 3339`},
		{"unix", "", "12abc", `cannot parse "12abc" as unix seconds`},
		{"unix_ms", "", "", `cannot parse "" as unix milliseconds`},
		{"date", "", "23/07/2022", `cannot parse "23/07/2022" as a date (2006-01-02)`},
		{"auto", "", "July 23", `cannot parse "July 23" as a date or timestamp`},
		{"auto", "", "2022-07-23T10:00:00 CEST", `cannot parse "2022-07-23T10:00:00 CEST"`},
		{"auto", "Mars/Olympus", "2022-07-23", `timezone "Mars/Olympus" is not a known IANA zone name`},
		{"%Y-%m-%d", "", "2022-07-23", "is a strftime layout"},
		{"yyyy-mm-dd", "", "2022-07-23", "has no Go reference elements"},
	}
	for _, tt := range tests {
		_, err := ParseTime(&config.TimeField{Format: tt.format, Timezone: tt.zone}, tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTime(%q, %q, %q) error %v, want it to contain %q", tt.format, tt.zone, tt.in, err, tt.want)
		}
	}
}

func typedSource() *config.Source {
	return &config.Source{
		Name: "pos",
		Columns: map[string]*config.Column{
			"qty":    {Type: "int"},
			"price":  {Type: "float"},
			"member": {Type: "bool"},
			"born":   {Type: "date", Format: "01/02/2006"},
			"paid":   {Type: "timestamp"},
			"note":   {Type: "string"},
		},
		Timestamp: &config.TimeField{Column: "at", Format: "01-02-2006 15:04:05", Timezone: "America/New_York"},
		UpdatedAt: &config.TimeField{Column: "changed", Format: "unix"},
	}
}

var typedColumns = []string{"id", "qty", "price", "member", "born", "paid", "note", "at", "changed"}

func TestTyperConverts(t *testing.T) {
	typer, err := NewTyper(typedSource(), typedColumns)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []engine.Type{engine.Text, engine.BigInt, engine.Double, engine.Bool, engine.Date, engine.Timestamp, engine.Text, engine.Timestamp, engine.Timestamp}
	if !reflect.DeepEqual(typer.Types(), wantTypes) {
		t.Errorf("types %v, want %v", typer.Types(), wantTypes)
	}
	tests := []struct {
		values []string
		want   []any
	}{
		{
			[]string{"A1", " 42 ", "3.5", "YES", "07/23/1990", "2022-07-23T10:00:00Z", " keep spaces ", "07-23-2022 10:00:00", "1658570400"},
			[]any{"A1", int64(42), 3.5, true, time.Date(1990, 7, 23, 0, 0, 0, 0, time.UTC), time.Date(2022, 7, 23, 10, 0, 0, 0, time.UTC),
				" keep spaces ", time.Date(2022, 7, 23, 14, 0, 0, 0, time.UTC), time.Date(2022, 7, 23, 10, 0, 0, 0, time.UTC)},
		},
		{
			[]string{"", "12.0", "-1e3", "0", "", "", "", "", " "},
			[]any{nil, int64(12), -1000.0, false, nil, nil, nil, nil, nil},
		},
		{
			[]string{"x", "-7", "0", "no", "", "2022-07-23", "", "", ""},
			[]any{"x", int64(-7), 0.0, false, nil, time.Date(2022, 7, 23, 0, 0, 0, 0, time.UTC), nil, nil, nil},
		},
	}
	out := make([]any, len(typedColumns))
	for _, tt := range tests {
		if err := typer.Convert(&Row{File: "pos.csv", Line: 2, Values: tt.values}, out); err != nil {
			t.Errorf("Convert(%q): %v", tt.values, err)
			continue
		}
		if !reflect.DeepEqual(out, tt.want) {
			t.Errorf("Convert(%q) = %v, want %v", tt.values, out, tt.want)
		}
	}
	// ConvertTo gives the same values as pointers into vals, which stay
	// valid while later rows fill vals (more than one block of each).
	var vals Values
	var kept [][]any
	for i := range 3 * valuesBlock {
		tt := tests[i%len(tests)]
		out := make([]any, len(typedColumns))
		if err := typer.ConvertTo(&Row{File: "pos.csv", Line: 2, Values: tt.values}, out, &vals); err != nil {
			t.Fatalf("ConvertTo(%q): %v", tt.values, err)
		}
		kept = append(kept, out)
	}
	for i, out := range kept {
		for j, v := range out {
			switch p := v.(type) {
			case *string:
				out[j] = *p
			case *int64:
				out[j] = *p
			case *float64:
				out[j] = *p
			case *time.Time:
				out[j] = *p
			case string, int64, float64, time.Time:
				t.Fatalf("ConvertTo boxed a %T by value", v)
			}
		}
		if want := tests[i%len(tests)].want; !reflect.DeepEqual(out, want) {
			t.Fatalf("row %d: ConvertTo gave %v, want %v", i, out, want)
		}
	}
}

func TestTyperErrorsNameTheColumn(t *testing.T) {
	typer, err := NewTyper(typedSource(), typedColumns)
	if err != nil {
		t.Fatal(err)
	}
	good := []string{"A1", "1", "1.5", "true", "07/23/1990", "2022-07-23", "n", "07-23-2022 10:00:00", "1658570400"}
	tests := []struct {
		column, value, reason string
	}{
		{"qty", "4.5", `cannot parse "4.5" as int`},
		{"qty", "ten", `cannot parse "ten" as int`},
		{"price", "1,5", `cannot parse "1,5" as float`},
		{"member", "maybe", `cannot parse "maybe" as bool (true/false, 1/0 or yes/no)`},
		{"born", "1990-07-23", `cannot parse "1990-07-23" as 01/02/2006`},
		{"paid", "yesterday", `cannot parse "yesterday" as a date or timestamp`},
		{"at", "07/23/2022", `cannot parse "07/23/2022" as 01-02-2006 15:04:05`},
		{"changed", "2022-07-23", `cannot parse "2022-07-23" as unix seconds`},
	}
	out := make([]any, len(typedColumns))
	for _, tt := range tests {
		values := append([]string(nil), good...)
		i := slices.Index(typedColumns, tt.column)
		values[i] = tt.value
		err := typer.Convert(&Row{File: "data/pos.csv", Line: 14, Values: values}, out)
		var rowErr *RowError
		if !errors.As(err, &rowErr) {
			t.Errorf("%s=%q: error %v, want a *RowError", tt.column, tt.value, err)
			continue
		}
		want := "data/pos.csv:14: column " + tt.column + ": " + tt.reason
		if !strings.HasPrefix(rowErr.Error(), want) {
			t.Errorf("%s=%q: error %q, want it to start %q", tt.column, tt.value, rowErr.Error(), want)
		}
		if !strings.Contains(rowErr.Raw, tt.value) {
			t.Errorf("%s=%q: raw %q does not hold the value", tt.column, tt.value, rowErr.Raw)
		}
	}
}

func TestNewTyperRejectsBadDeclarations(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*config.Source)
		want      string
	}{
		{"unknown type", func(s *config.Source) { s.Columns["qty"].Type = "integer" },
			`columns.qty.type "integer" is not a type; use string, int, float, bool, date or timestamp`},
		{"declared column absent", func(s *config.Source) { s.Columns["tip"] = &config.Column{Type: "float"} },
			`columns names column "tip", which the data does not have`},
		{"timestamp column declared int", func(s *config.Source) { s.Columns["at"] = &config.Column{Type: "int"} },
			`column "at" is the timestamp column, so its declared type must be timestamp or date, not int`},
		{"bad timestamp format", func(s *config.Source) { s.Timestamp.Format = "%d/%m/%Y" },
			`timestamp.format: time format "%d/%m/%Y" is a strftime layout`},
	}
	for _, tt := range tests {
		src := typedSource()
		tt.configure(src)
		_, err := NewTyper(src, typedColumns)
		if err == nil || !strings.Contains(err.Error(), tt.want) || knit.ErrorCode(err) != knit.EINVALID {
			t.Errorf("%s: error %v, want EINVALID containing %q", tt.name, err, tt.want)
		}
	}
}
