package main

// Helpers for the end-to-end tests: they build the knit binary once, run it
// as a real process against copies of examples/coffee, and read results
// through its --json output or, after the process has exited, through the
// project's DuckDB file.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/duckdb"
)

// knitBin is the binary TestMain builds.
var knitBin string

// exampleDir is the reference project the tests copy; they never write in it.
const exampleDir = "../../examples/coffee"

// Exit codes of main.go's exitCode, restated here so that a change of the
// documented codes fails a test.
const (
	exitInvalid  = 2 // EINVALID
	exitNotFound = 3 // ENOTFOUND
	exitConflict = 4 // ECONFLICT
	exitBudget   = 5 // EBUDGET
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "knit-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	knitBin = filepath.Join(dir, "knit")
	build := exec.Command("go", "build", "-o", knitBin, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building knit:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one knit process did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("knit %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// runKnit runs the binary to completion (a minute at most).
func runKnit(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(knitBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start knit: %v", err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("knit %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// mustKnit runs knit and fails the test unless it exits 0.
func mustKnit(t *testing.T, args ...string) result {
	t.Helper()
	res := runKnit(t, args...)
	if res.code != 0 {
		t.Fatalf("want exit 0, got %v", res)
	}
	return res
}

// wantFailure checks a failed run's exit code and that stderr holds every
// fragment.
func wantFailure(t *testing.T, res result, code int, fragments ...string) {
	t.Helper()
	if res.code != code {
		t.Errorf("want exit %d, got %v", code, res)
	}
	for _, f := range fragments {
		if !strings.Contains(res.stderr, f) {
			t.Errorf("stderr lacks %q:\n%s", f, res.stderr)
		}
	}
}

// copyExample copies examples/coffee into a fresh folder, without any
// database the example folder may hold, and returns the copy's path.
func copyExample(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "coffee")
	err := filepath.WalkDir(exampleDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(exampleDir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasPrefix(d.Name(), "knit.duckdb") {
			return nil // the copy starts without results (and without a WAL)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", exampleDir, err)
	}
	return dst
}

// appendFile appends text to a file of the project.
func appendFile(t *testing.T, project, rel, text string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(project, rel), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// editConfig replaces the one occurrence of old in the project's knit.yaml.
// It fails when old is missing or ambiguous, so an edit of the example
// cannot silently make a test vacuous.
func editConfig(t *testing.T, project, old, replacement string) {
	t.Helper()
	path := filepath.Join(project, "knit.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("knit.yaml holds %q %d times; the test needs exactly one", old, n)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, replacement, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lineOf returns the 1-based line of the project's knit.yaml that contains s.
func lineOf(t *testing.T, project, s string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(project, "knit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("knit.yaml has no line containing %q", s)
	return 0
}

// csvRows reads an example CSV file, header included, with the standard
// library rather than with knit.
func csvRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // a bad row is counted, not refused
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// csvColumn returns the values of one column of a CSV file, in file order.
func csvColumn(t *testing.T, path, column string) []string {
	t.Helper()
	rows := csvRows(t, path)
	col := slices.Index(rows[0], column)
	if col < 0 {
		t.Fatalf("%s has no column %s", path, column)
	}
	var out []string
	for _, row := range rows[1:] {
		out = append(out, row[col])
	}
	return out
}

// runReport is the part of `knit run --json` the tests read.
type runReport struct {
	RunID   int64  `json:"run_id"`
	Status  string `json:"status"`
	Error   string `json:"error"`
	Sources []struct {
		Name         string `json:"name"`
		RowsRead     int64  `json:"rows_read"`
		RowsLoaded   int64  `json:"rows_loaded"`
		RowsRejected int64  `json:"rows_rejected"`
		Records      int64  `json:"records"`
	} `json:"sources"`
	Profiles struct {
		Total   int64 `json:"total"`
		Known   int64 `json:"known"`
		Unknown int64 `json:"unknown"`
	} `json:"profiles"`
}

func parseReport(t *testing.T, res result) runReport {
	t.Helper()
	var rep runReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("run --json output does not parse: %v\n%v", err, res)
	}
	return rep
}

// profileView is the part of `knit profile --json` the tests read.
type profileView struct {
	CustomerID string `json:"customer_id"`
	Known      bool   `json:"known"`
	Records    []struct {
		Key    string `json:"key"`
		Source string `json:"source"`
	} `json:"records"`
	Identifiers []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"identifiers"`
}

func (p profileView) hasRecord(key string) bool {
	for _, r := range p.Records {
		if r.Key == key {
			return true
		}
	}
	return false
}

func (p profileView) hasIdentifier(typ, value string) bool {
	for _, id := range p.Identifiers {
		if id.Type == typ && id.Value == value {
			return true
		}
	}
	return false
}

// profile runs `knit profile --json` and decodes its output.
func profile(t *testing.T, project, key string) profileView {
	t.Helper()
	res := mustKnit(t, "profile", project, key, "--json")
	var p profileView
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("profile --json output does not parse: %v\n%v", err, res)
	}
	if p.CustomerID == "" {
		t.Fatalf("profile of %s has no customer ID:\n%s", key, res.stdout)
	}
	return p
}

// openDB opens the project's DuckDB file in this process. The caller must
// close it before starting another knit process on the project: DuckDB
// allows one process per file.
func openDB(t *testing.T, project string) *duckdb.DB {
	t.Helper()
	db, err := duckdb.Open(filepath.Join(project, "knit.duckdb"))
	if err != nil {
		t.Fatalf("open the project's database: %v", err)
	}
	return db
}

// queryStrings runs a query on the project's database (opened and closed
// around it) and returns each row's columns as text ("NULL" for null).
func queryStrings(t *testing.T, project, query string, args ...any) [][]string {
	t.Helper()
	db := openDB(t, project)
	defer db.Close()
	rows, err := db.SQL().Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
