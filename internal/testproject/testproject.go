// Package testproject copies and edits example projects for tests that
// run the pipeline on real files: each test works on its own copy, never
// on examples/ itself.
package testproject

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Copy copies a project folder (config and data, not its database or
// exports) into a temporary folder the test may change.
func Copy(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel == "exports" || rel == "events" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.Contains(d.Name(), ".duckdb") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// Append appends text to a file of the project.
func Append(t testing.TB, dir, name, text string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// Edit replaces the first occurrence of old in a file of the project; the
// test fails if old is not there, so an edit never silently misses.
func Edit(t testing.TB, dir, name, old, new string) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", name, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CoffeeSignIn turns a copy of examples/coffee into the story of DESIGN.md
// told to the end: web visitors get profiles of their own (include all
// records), and Unknown1, who browsed anonymously, later signs in with
// loyalty ID 707, so a run merges the anonymous browsing into Jane's
// profile.
func CoffeeSignIn(t testing.TB, dir string) {
	t.Helper()
	Edit(t, dir, "knit.yaml", "include_all_records: [loyalty, ecommerce]", "include_all_records: [loyalty, ecommerce, web]")
	Append(t, dir, "data/web_events.csv", "5,07-23-2022 10:30:00,Unknown1,707,Loyalty sign-in\n")
}
