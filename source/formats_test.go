package source

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/parquet-go/parquet-go"
)

func TestNDJSONSkipsBlankLinesAndRejectsNonObjects(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", strings.Join([]string{
		`{"id": "e1", "n": 12.50, "ok": true, "tags": ["a", "b"], "gone": null}`,
		``,
		`["not", "an", "object"]`,
		`{"id": "e2", "n": 3}`,
		`{"id": "e3", broken`,
		"\r",
		`{"id": "e4", "extra": {"x": 1}}`,
	}, "\n"))
	src := &config.Source{Name: "test", File: "events.ndjson", Format: "ndjson", PrimaryKey: "id"}
	r, res := readAll(t, dir, src)
	// Configured columns first, then the first object's other keys sorted;
	// "extra" appears only later, so it is not a column.
	if want := []string{"id", "gone", "n", "ok", "tags"}; !reflect.DeepEqual(r.Columns(), want) {
		t.Fatalf("columns %q, want %q", r.Columns(), want)
	}
	wantValues := [][]string{
		{"e1", "", "12.50", "true", `["a","b"]`},
		{"e2", "", "3", "", ""},
		{"e4", "", "", "", ""},
	}
	if !reflect.DeepEqual(res.values(), wantValues) {
		t.Errorf("values %q, want %q", res.values(), wantValues)
	}
	if want := []int64{1, 4, 7}; !reflect.DeepEqual(res.lines(), want) {
		t.Errorf("lines %v, want %v", res.lines(), want)
	}
	if len(res.rejected) != 2 {
		t.Fatalf("rejected %v, want 2 rows", res.rejected)
	}
	if got := res.rejected[0]; got.Line != 3 || got.Reason != "expected a JSON object, found an array" || got.Raw != `["not", "an", "object"]` {
		t.Errorf("rejected[0] = %+v", got)
	}
	if got := res.rejected[1]; got.Line != 5 || !strings.Contains(got.Reason, "not valid JSON") {
		t.Errorf("rejected[1] = %+v", got)
	}
}

func TestJSONArrayStreamsElements(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "people.json", "\uFEFF[\n"+
		`{"id": 1, "name": "Ann", "traits": {"email": "ann@example.com", "age": 31}},`+"\n"+
		`"stray string",`+"\n"+
		`{"id": 2, "name": "Bob\u00e9\n", "traits": {"email": null}},`+"\n"+
		`{"id": 3, "traits.email": "literal@example.com", "traits": {"email": "nested@example.com"}}`+"\n]\n")
	src := &config.Source{Name: "test", File: "people.json", Format: "json", PrimaryKey: "id",
		Identifiers: map[string]string{"traits.email": "email"}}
	r, res := readAll(t, dir, src)
	if want := []string{"id", "traits.email", "name", "traits"}; !reflect.DeepEqual(r.Columns(), want) {
		t.Fatalf("columns %q, want %q", r.Columns(), want)
	}
	want := [][]string{
		{"1", "ann@example.com", "Ann", `{"email":"ann@example.com","age":31}`},
		{"2", "", "Bobé\n", `{"email":null}`},
		{"3", "literal@example.com", "", `{"email":"nested@example.com"}`}, // a literal dotted key wins
	}
	if !reflect.DeepEqual(res.values(), want) {
		t.Errorf("values %q, want %q", res.values(), want)
	}
	if want := []int64{1, 3, 4}; !reflect.DeepEqual(res.lines(), want) {
		t.Errorf("element indexes %v, want %v", res.lines(), want)
	}
	if len(res.rejected) != 1 || res.rejected[0].Line != 2 || res.rejected[0].Reason != "element 2: expected a JSON object, found a string" {
		t.Errorf("rejected %v, want element 2 rejected as a string", res.rejected)
	}
}

func TestJSONSyntaxErrorInArrayIsFatal(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bad.json", `[{"id": 1}, {"id": 2,, }]`)
	r, err := Open(dir, &config.Source{Name: "test", File: "bad.json", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(); err != nil {
		t.Fatalf("first element: %v", err)
	}
	_, err = r.Next()
	if err == nil || !strings.Contains(err.Error(), "bad.json: element 2") {
		t.Errorf("error %v; want the file and element named", err)
	}
}

func TestJSONNotAnArray(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "one.json", `{"id": 1}`)
	_, err := Open(dir, &config.Source{Name: "test", File: "one.json", Format: "json"})
	if err == nil || !strings.Contains(err.Error(), "set format: ndjson") {
		t.Errorf("error %v; want advice to use ndjson", err)
	}
}

// parquetCustomer covers the Parquet types customer exports use. Address
// is a nested group, which the reader leaves out.
type parquetCustomer struct {
	ID      int64     `parquet:"id"`
	Email   *string   `parquet:"email,optional"`
	Score   float64   `parquet:"score"`
	Active  bool      `parquet:"active"`
	SeenAt  time.Time `parquet:"seen_at,timestamp(microsecond)"`
	Born    int32     `parquet:"born,date"` // days since 1970-01-01
	Balance int64     `parquet:"balance,decimal(2:10)"`
	Count   int32     `parquet:"count"`
	Address struct {
		City string `parquet:"city"`
	} `parquet:"address"`
}

func daysSinceEpoch(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	email := "ann@example.com"
	rows := []parquetCustomer{
		{ID: 1, Email: &email, Score: 0.5, Active: true, SeenAt: time.Date(2024, 3, 1, 12, 30, 15, 250000000, time.UTC),
			Born: daysSinceEpoch(1990, 7, 23), Balance: -1234, Count: 7},
		{ID: 2, Score: 1e21, SeenAt: time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), Born: daysSinceEpoch(1960, 1, 1), Balance: 5},
		{ID: 3, SeenAt: time.Date(2300, 1, 1, 0, 0, 0, 1000, time.UTC)}, // past time.Duration's range
	}
	f, err := os.Create(filepath.Join(dir, "customers.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := parquet.Write(f, rows); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	src := &config.Source{Name: "test", File: "customers.parquet", PrimaryKey: "id"} // format from the extension
	r, res := readAll(t, dir, src)
	if want := []string{"id", "email", "score", "active", "seen_at", "born", "balance", "count"}; !reflect.DeepEqual(r.Columns(), want) {
		t.Fatalf("columns %q, want %q", r.Columns(), want)
	}
	want := [][]string{
		{"1", "ann@example.com", "0.5", "true", "2024-03-01T12:30:15.25Z", "1990-07-23", "-12.34", "7"},
		{"2", "", "1e+21", "false", "1969-12-31T23:00:00Z", "1960-01-01", "0.05", "0"},
		{"3", "", "0", "false", "2300-01-01T00:00:00.000001Z", "1970-01-01", "0.00", "0"},
	}
	if !reflect.DeepEqual(res.values(), want) {
		t.Errorf("values\n%q\nwant\n%q", res.values(), want)
	}
	if want := []int64{1, 2, 3}; !reflect.DeepEqual(res.lines(), want) {
		t.Errorf("row numbers %v, want %v", res.lines(), want)
	}
}

func TestParquetMissingConfiguredColumn(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "c.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := parquet.Write(f, []parquetCustomer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(dir, &config.Source{Name: "test", File: "c.parquet", PrimaryKey: "ID"})
	if err == nil || !strings.Contains(err.Error(), `did you mean "id"?`) {
		t.Errorf("error %v; want a suggestion of id", err)
	}
}

func TestGzipNDJSONWithALongLine(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 200_000) // longer than the read buffer
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	fmt.Fprintf(gz, "{\"id\": \"a\", \"blob\": %q}\n{\"id\": \"b\"}\n", long)
	gz.Close()
	writeFile(t, dir, "events.jsonl.gz", buf.String())
	_, res := readAll(t, dir, &config.Source{Name: "test", File: "events.jsonl.gz", PrimaryKey: "id"})
	if want := [][]string{{"a", long}, {"b", ""}}; !reflect.DeepEqual(res.values(), want) {
		t.Errorf("read %d rows; want the long value intact and the next row", len(res.rows))
	}
	if want := []int64{1, 2}; !reflect.DeepEqual(res.lines(), want) {
		t.Errorf("lines %v, want %v", res.lines(), want)
	}
}

func TestCorruptGzipIsAnErrorNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "data.csv.gz", "id,name\n1,Ann\n") // not compressed
	_, err := Open(dir, csvSource("data.csv.gz"))
	if err == nil || !strings.Contains(err.Error(), "data.csv.gz") || !strings.Contains(err.Error(), "not a gzip file") {
		t.Errorf("error %v; want the file named as not gzip", err)
	}
}
