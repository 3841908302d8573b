package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	knit "github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
)

// csvSource returns a CSV source with the defaults the config loader fills.
func csvSource(file string) *config.Source {
	header := true
	return &config.Source{Name: "test", File: file, Format: "csv", CSV: config.CSV{Delimiter: ",", Header: &header}}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readResult is everything a reader returned, copied out of reused rows.
type readResult struct {
	rows     []Row
	rejected []*RowError
}

func (r readResult) values() [][]string {
	var out [][]string
	for _, row := range r.rows {
		out = append(out, row.Values)
	}
	return out
}

func (r readResult) lines() []int64 {
	var out []int64
	for _, row := range r.rows {
		out = append(out, row.Line)
	}
	return out
}

func readAll(t *testing.T, dir string, src *config.Source) (*Reader, readResult) {
	t.Helper()
	r, err := Open(dir, src)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	var res readResult
	for {
		row, err := r.Next()
		if err == io.EOF {
			return r, res
		}
		var rowErr *RowError
		if errors.As(err, &rowErr) {
			res.rejected = append(res.rejected, rowErr)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		res.rows = append(res.rows, Row{File: row.File, Line: row.Line, Values: append([]string(nil), row.Values...)})
	}
}

func TestCSVDialects(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		configure func(*config.Source)
		columns   []string
		values    [][]string
		lines     []int64
	}{
		{
			name:    "byte order mark before a quoted header",
			content: "\uFEFF\"id\",name\n1,Ann\n",
			columns: []string{"id", "name"},
			values:  [][]string{{"1", "Ann"}},
			lines:   []int64{2},
		},
		{
			name:    "quoted delimiter and line break keep later line numbers right",
			content: "id,note\n1,\"a, b\"\n2,\"line one\nline two\nline three\"\n3,plain\n",
			columns: []string{"id", "note"},
			values:  [][]string{{"1", "a, b"}, {"2", "line one\nline two\nline three"}, {"3", "plain"}},
			lines:   []int64{2, 3, 6},
		},
		{
			name:    "CRLF line endings and no final newline",
			content: "id,name\r\n1,Ann\r\n2,Bob",
			columns: []string{"id", "name"},
			values:  [][]string{{"1", "Ann"}, {"2", "Bob"}},
			lines:   []int64{2, 3},
		},
		{
			name:      "skip initial space after the delimiter",
			content:   "id, name, city\n1, Ann, Paris\n",
			configure: func(s *config.Source) { s.CSV.SkipInitialSpace = true },
			columns:   []string{"id", "name", "city"},
			values:    [][]string{{"1", "Ann", "Paris"}},
			lines:     []int64{2},
		},
		{
			name:    "values keep their spaces, header names are trimmed",
			content: " id , name \n1, Ann \n",
			columns: []string{"id", "name"},
			values:  [][]string{{"1", " Ann "}},
			lines:   []int64{2},
		},
		{
			name:      "tab delimiter written as backslash t, comments skipped",
			content:   "id\tname\n# a comment\n1\tAnn\n",
			configure: func(s *config.Source) { s.CSV.Delimiter = `\t`; s.CSV.Comment = "#" },
			columns:   []string{"id", "name"},
			values:    [][]string{{"1", "Ann"}},
			lines:     []int64{3},
		},
		{
			name:      "no header row names columns column1..N",
			content:   "1,Ann\n2,Bob\n",
			configure: func(s *config.Source) { no := false; s.CSV.Header = &no; s.PrimaryKey = "column1" },
			columns:   []string{"column1", "column2"},
			values:    [][]string{{"1", "Ann"}, {"2", "Bob"}},
			lines:     []int64{1, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "data.csv", tt.content)
			src := csvSource("data.csv")
			if tt.configure != nil {
				tt.configure(src)
			}
			r, res := readAll(t, dir, src)
			if len(res.rejected) > 0 {
				t.Fatalf("rejected rows: %v", res.rejected)
			}
			if !reflect.DeepEqual(r.Columns(), tt.columns) {
				t.Errorf("columns %q, want %q", r.Columns(), tt.columns)
			}
			if !reflect.DeepEqual(res.values(), tt.values) {
				t.Errorf("values %q, want %q", res.values(), tt.values)
			}
			if !reflect.DeepEqual(res.lines(), tt.lines) {
				t.Errorf("lines %v, want %v", res.lines(), tt.lines)
			}
		})
	}
}

func TestCSVBadRowsAreRejectedAndReadingContinues(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "data.csv", strings.Join([]string{
		"id,name,city",
		"1,Ann,Paris",
		"2,Bob,Lyon,extra,more",  // too many fields
		"3,Cy \"the\" Ox,Nice",   // bare quote
		"4,Dee,Metz",             //
		"5,\xff\xfeEve,Brest",    // not UTF-8
		"6,\"multi\nline\",Caen", // fine, two lines
		"7,Fay",                  // too few
		"8,Gus,Lille",
	}, "\n")+"\n")
	_, res := readAll(t, dir, csvSource("data.csv"))
	wantIDs := []string{"1", "4", "6", "8"}
	var ids []string
	for _, row := range res.rows {
		ids = append(ids, row.Values[0])
	}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("rows read %q, want %q", ids, wantIDs)
	}
	if got := res.lines(); !reflect.DeepEqual(got, []int64{2, 5, 7, 10}) {
		t.Errorf("lines %v, want [2 5 7 10]", got)
	}
	want := []struct {
		line   int64
		column string
		reason string
		raw    string
	}{
		{3, "", "expected 3 fields as in the header, found 5", "2,Bob,Lyon,extra,more"},
		{4, "", `bare " in non-quoted-field`, `3,Cy "the" Ox,Nice`},
		{6, "name", "not valid UTF-8", "5,\xff\xfeEve,Brest"},
		{9, "", "expected 3 fields as in the header, found 2", "7,Fay"},
	}
	if len(res.rejected) != len(want) {
		t.Fatalf("rejected %d rows (%v), want %d", len(res.rejected), res.rejected, len(want))
	}
	for i, w := range want {
		got := res.rejected[i]
		if got.File != "data.csv" || got.Line != w.line || got.Column != w.column || !strings.Contains(got.Reason, w.reason) || got.Raw != w.raw {
			t.Errorf("rejected[%d] = %+v, want line %d column %q reason containing %q raw %q", i, got, w.line, w.column, w.reason, w.raw)
		}
	}
	if msg := res.rejected[0].Error(); msg != "data.csv:3: expected 3 fields as in the header, found 5 (a value holding the delimiter must be quoted)" {
		t.Errorf("message %q", msg)
	}
}

func TestRowErrorMessage(t *testing.T) {
	e := &RowError{File: "data/web.csv", Line: 14, Column: "EventTimeStamp", Reason: `cannot parse "07/23/2022" as 01-02-2006 15:04:05`}
	want := `data/web.csv:14: column EventTimeStamp: cannot parse "07/23/2022" as 01-02-2006 15:04:05`
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
}

func TestMissingConfiguredColumn(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "data/web.csv", "EventID,EventTimeStamp,Email\n1,x,y\n")
	tests := []struct {
		name      string
		configure func(*config.Source)
		want      []string
	}{
		{"case differs", func(s *config.Source) { s.Timestamp = &config.TimeField{Column: "EventTimestamp"} },
			[]string{`data/web.csv: column "EventTimestamp"`, "(timestamp.column)", `did you mean "EventTimeStamp"?`, "The file has columns: EventID, EventTimeStamp, Email"}},
		{"typo in an identifier column", func(s *config.Source) { s.Identifiers = map[string]string{"Emial": "email"} },
			[]string{`column "Emial"`, "(identifiers)", `did you mean "Email"?`}},
		{"nothing close", func(s *config.Source) { s.PrimaryKey = "LoyaltyNumber" },
			[]string{`column "LoyaltyNumber"`, "(primary_key) is not in the file. The file has columns: EventID, EventTimeStamp, Email"}},
		{"declared column", func(s *config.Source) { s.Columns = map[string]*config.Column{"Amount": {Type: "float"}} },
			[]string{`column "Amount"`, "(columns)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := csvSource("data/web.csv")
			tt.configure(src)
			_, err := Open(dir, src)
			if err == nil {
				t.Fatal("Open succeeded; want a missing column error")
			}
			if knit.ErrorCode(err) != knit.EINVALID {
				t.Errorf("code %q, want %q", knit.ErrorCode(err), knit.EINVALID)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestGlobReadsFilesInNameOrderWithTheUnionOfColumns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "data/events-2.csv", "id,city,name\n3,Lyon,Cy\n")
	writeFile(t, dir, "data/events-1.csv", "id,name\n1,Ann\n2,Bob\n")
	writeFile(t, dir, "data/other.csv", "id,name\n9,Zed\n")
	src := csvSource("data/events-*.csv")
	src.PrimaryKey = "id"
	r, res := readAll(t, dir, src)
	if want := []string{"id", "name", "city"}; !reflect.DeepEqual(r.Columns(), want) {
		t.Errorf("columns %q, want %q", r.Columns(), want)
	}
	want := []Row{
		{File: filepath.Join("data", "events-1.csv"), Line: 2, Values: []string{"1", "Ann", ""}},
		{File: filepath.Join("data", "events-1.csv"), Line: 3, Values: []string{"2", "Bob", ""}},
		{File: filepath.Join("data", "events-2.csv"), Line: 2, Values: []string{"3", "Cy", "Lyon"}},
	}
	if !reflect.DeepEqual(res.rows, want) {
		t.Errorf("rows %+v, want %+v", res.rows, want)
	}
}

func TestGlobChecksEveryFileForConfiguredColumns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.csv", "id,email\n1,x\n")
	writeFile(t, dir, "b.csv", "id,mail\n2,y\n")
	src := csvSource("*.csv")
	src.Identifiers = map[string]string{"email": "email"}
	_, err := Open(dir, src)
	if err == nil || !strings.Contains(err.Error(), `b.csv: column "email"`) || !strings.Contains(err.Error(), `did you mean "mail"?`) {
		t.Errorf("error %v; want b.csv named with a suggestion", err)
	}
}

func TestNoFileMatches(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, csvSource("data/missing-*.csv"))
	if err == nil {
		t.Fatal("Open succeeded with no matching file")
	}
	if knit.ErrorCode(err) != knit.ENOTFOUND || !strings.Contains(err.Error(), `no file matches "data/missing-*.csv"`) {
		t.Errorf("got %v (code %s); want ENOTFOUND naming the pattern", err, knit.ErrorCode(err))
	}
}

func TestEmptyFileAndDuplicateHeader(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "empty.csv", "")
	writeFile(t, dir, "dup.csv", "id,name,id\n1,a,2\n")
	for file, want := range map[string]string{
		"empty.csv": "empty.csv: the file is empty; expected a header row",
		"dup.csv":   `dup.csv: header names column "id" twice (fields 1 and 3)`,
	} {
		_, err := Open(dir, csvSource(file))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", file, err, want)
		}
	}
}

func TestInvalidDelimiter(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "data.csv", "a,b\n")
	src := csvSource("data.csv")
	src.CSV.Delimiter = ";;"
	_, err := Open(dir, src)
	if err == nil || !strings.Contains(err.Error(), `csv.delimiter ";;" must be a single character`) {
		t.Errorf("error %v; want the delimiter named", err)
	}
}

func TestGzipFilesAreReadTransparently(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write([]byte("id,name\n1,Ann\n2,Bob\n"))
	gz.Close()
	writeFile(t, dir, "data.csv.gz", buf.String())
	src := csvSource("data.csv.gz")
	src.Format = "" // inferred through the .gz
	_, res := readAll(t, dir, src)
	if want := [][]string{{"1", "Ann"}, {"2", "Bob"}}; !reflect.DeepEqual(res.values(), want) {
		t.Errorf("values %q, want %q", res.values(), want)
	}
}

// TestSharedDatasets reads real benchmark files in place and checks the
// record counts their READMEs give.
func TestSharedDatasets(t *testing.T) {
	tests := []struct {
		path      string
		delimiter string
		skipSpace bool
		key       string
		records   int
		columns   int
	}{
		{"/work/shared/data/febrl/dataset4a.csv", ",", true, "rec_id", 5000, 11},
		{"/work/shared/data/dblp_acm/dblp.csv", "%", false, "id", 2616, 5},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skipf("shared data not present: %v", err)
			}
			src := csvSource(filepath.Base(tt.path))
			src.CSV.Delimiter = tt.delimiter
			src.CSV.SkipInitialSpace = tt.skipSpace
			src.PrimaryKey = tt.key
			r, res := readAll(t, filepath.Dir(tt.path), src)
			if len(res.rejected) > 0 {
				t.Errorf("%d rows rejected, first: %v", len(res.rejected), res.rejected[0])
			}
			if len(res.rows) != tt.records {
				t.Errorf("read %d records, want %d", len(res.rows), tt.records)
			}
			if len(r.Columns()) != tt.columns {
				t.Errorf("columns %q, want %d", r.Columns(), tt.columns)
			}
			for _, row := range res.rows {
				if row.Values[0] == "" || strings.HasPrefix(row.Values[0], " ") || strings.HasSuffix(row.Values[len(row.Values)-1], "\r") {
					t.Fatalf("line %d: values %q: key empty, leading space kept or CR left", row.Line, row.Values)
				}
			}
		})
	}
}

// An unclosed quote runs to the end of the file: that text is one rejected
// row, kept whole, and reading ends cleanly.
func TestCSVUnclosedQuoteRejectsTheRestOfTheFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "data.csv", "id,name\n1,Ann\n2,\"unclosed\n3,Cy\n")
	_, res := readAll(t, dir, csvSource("data.csv"))
	if want := [][]string{{"1", "Ann"}}; !reflect.DeepEqual(res.values(), want) {
		t.Errorf("values %q, want %q", res.values(), want)
	}
	if len(res.rejected) != 1 {
		t.Fatalf("rejected %v, want one row", res.rejected)
	}
	got := res.rejected[0]
	if got.Line != 3 || got.Raw != "2,\"unclosed\n3,Cy" || !strings.Contains(got.Reason, `extraneous or missing " in quoted-field`) {
		t.Errorf("rejected %+v; want line 3 with the rest of the file as raw text", got)
	}
}

// The raw text of a rejected row deep in a file (past the point where the
// reader lets go of earlier bytes) is still exact.
func TestCSVRawTextAfterManyRows(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "%d,name-%d\n", i, i)
	}
	b.WriteString("bad,row,here\nlast,one\n")
	writeFile(t, dir, "data.csv", b.String())
	_, res := readAll(t, dir, csvSource("data.csv"))
	if len(res.rows) != 20001 || len(res.rejected) != 1 {
		t.Fatalf("read %d rows and rejected %d, want 20001 and 1", len(res.rows), len(res.rejected))
	}
	if got := res.rejected[0]; got.Line != 20002 || got.Raw != "bad,row,here" {
		t.Errorf("rejected %+v, want line 20002 raw \"bad,row,here\"", got)
	}
}
