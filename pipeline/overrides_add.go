package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
)

// OverrideKind says which overrides file a pair goes to.
type OverrideKind string

const (
	NeverMatch  OverrideKind = "never_match"
	AlwaysMatch OverrideKind = "always_match"
)

// overrideFiles serialises writers in this process: two stewards adding a
// pair at the same moment must not each write the file they read, losing
// the other's row.
var overrideFiles sync.Mutex

// AddOverride stores a never-match or always-match pair of record keys in
// the project's overrides file (knit.yaml: overrides), where the next run
// reads it. The overrides stay configuration a person can read, diff and
// edit; the engine is only asked whether the records exist.
//
// It validates before it writes: both keys must name records of the last
// run (a typo would otherwise fail the next run), and a pair already in
// the other file is a conflict. A pair already stored, in either order,
// is not written twice: added is false. The file is replaced atomically
// (a temporary file in the same folder, synced, then renamed), so a crash
// leaves the old file or the new one, never half a row.
func AddOverride(ctx context.Context, proj *config.Project, eng engine.Engine, kind OverrideKind, a, b string) (added bool, path string, err error) {
	var other string
	switch kind {
	case NeverMatch:
		path, other = proj.Config.Overrides.NeverMatch, proj.Config.Overrides.AlwaysMatch
	case AlwaysMatch:
		path, other = proj.Config.Overrides.AlwaysMatch, proj.Config.Overrides.NeverMatch
	default:
		return false, "", knit.Errorf(knit.EINVALID, "override kind %q: use never_match or always_match", kind)
	}
	if path == "" {
		return false, "", knit.Errorf(knit.EINVALID, "%s sets no overrides.%s file: add\n  overrides:\n    %s: overrides/%s.csv", proj.Path, kind, kind, kind)
	}
	for _, key := range []string{a, b} {
		if err := checkOverrideKey(proj, key); err != nil {
			return false, path, err
		}
	}
	if a == b {
		return false, path, knit.Errorf(knit.EINVALID, "an override pairs two different records; both are %s", a)
	}
	if err := requireRecords(ctx, eng, a, b); err != nil {
		return false, path, err
	}

	overrideFiles.Lock()
	defer overrideFiles.Unlock()
	if other != "" {
		list, err := readOverrides(proj.Dir, other, kind == AlwaysMatch)
		if err != nil {
			return false, path, err
		}
		for _, ov := range list {
			if samePair(ov, a, b) {
				return false, path, knit.Errorf(knit.ECONFLICT, "%s:%d already says the opposite for %s and %s; remove that line first", ov.file, ov.line, a, b)
			}
		}
	}
	list, err := readOverrides(proj.Dir, path, kind == NeverMatch)
	if err != nil {
		return false, path, err
	}
	for _, ov := range list {
		if samePair(ov, a, b) {
			return false, path, nil
		}
	}
	return true, path, appendOverride(config.Resolve(proj.Dir, path), a, b)
}

func samePair(ov override, a, b string) bool {
	return ov.a == a && ov.b == b || ov.a == b && ov.b == a
}

// checkOverrideKey accepts a record key of a configured source. A key that
// starts with a source name cannot start with a spreadsheet formula
// character (= + - @) or the file's comment character, and control
// characters and surrounding spaces (which the reader trims) are refused,
// so the row reads back as exactly the key written.
func checkOverrideKey(proj *config.Project, key string) error {
	if len(key) > 1000 {
		return knit.Errorf(knit.EINVALID, "record key of %d bytes: at most 1000", len(key))
	}
	if strings.TrimSpace(key) != key || strings.ContainsFunc(key, unicode.IsControl) {
		return knit.Errorf(knit.EINVALID, "record key %q holds spaces at its ends or control characters", key)
	}
	k, err := knit.ParseKey(key)
	if err != nil {
		return err
	}
	if k.Record == nil {
		return knit.Errorf(knit.EINVALID, "%q is not a record key: overrides pair records, written source/pk (loyalty/707)", key)
	}
	if _, ok := proj.Config.Sources[k.Record.Source]; !ok {
		return knit.Errorf(knit.EINVALID, "%q: no source %q in %s", key, k.Record.Source, proj.Path)
	}
	if strings.ContainsAny(key[:1], "=+-@#") {
		return knit.Errorf(knit.EINVALID, "record key %q starts with %q", key, key[:1])
	}
	return nil
}

// requireRecords checks that both keys name records of the last run.
func requireRecords(ctx context.Context, eng engine.Engine, a, b string) error {
	ok, err := eng.TableExists(ctx, "records")
	if err != nil {
		return err
	}
	if !ok {
		return knit.Errorf(knit.ENOTFOUND, "the project has no results yet: run it before adding overrides")
	}
	rows, err := eng.Query(ctx, engine.Rebind(eng.Dialect(), `SELECT record_key FROM records WHERE record_key IN (?, ?)`), a, b)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return err
		}
		found[k] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range []string{a, b} {
		if !found[k] {
			return knit.Errorf(knit.ENOTFOUND, "no record %s in the last run", k)
		}
	}
	return nil
}

// appendOverride writes the file's old content plus one CSV row to a
// temporary file next to it and renames it over the file.
func appendOverride(full, a, b string) error {
	old, err := os.ReadFile(full)
	mode := os.FileMode(0o644)
	switch {
	case errors.Is(err, os.ErrNotExist):
		old = []byte("left,right\n")
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return knit.Wrap(knit.EINTERNAL, err, "overrides folder")
		}
	case err != nil:
		return knit.Wrap(knit.EINTERNAL, err, "reading %s", full)
	default:
		if st, err := os.Stat(full); err == nil {
			mode = st.Mode().Perm()
		}
	}
	var buf bytes.Buffer
	buf.Write(old)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		buf.WriteByte('\n')
	}
	w := csv.NewWriter(&buf)
	if err := w.Write([]string{a, b}); err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), "."+filepath.Base(full)+".*")
	if err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "writing %s", full)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return knit.Wrap(knit.EINTERNAL, err, "writing %s", full)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return knit.Wrap(knit.EINTERNAL, err, "writing %s", full)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return knit.Wrap(knit.EINTERNAL, err, "writing %s", full)
	}
	if err := tmp.Close(); err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "writing %s", full)
	}
	if err := os.Rename(tmp.Name(), full); err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "replacing %s", full)
	}
	if d, err := os.Open(filepath.Dir(full)); err == nil {
		d.Sync() // make the rename durable; not every file system supports it
		d.Close()
	}
	return nil
}
