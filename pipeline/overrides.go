package pipeline

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/identity"
)

// Override is one always-match or never-match pair of record keys
// (source/pk), with where it was written.
type Override struct {
	Never bool
	A, B  string
	File  string
	Line  int
}

// ReadOverrides reads a project's override files, never-match first; knit
// serve applies them to its live graph as a run applies them to the batch.
func ReadOverrides(proj *config.Project) ([]Override, error) {
	list, err := readOverrideFiles(proj)
	out := make([]Override, len(list))
	for i, ov := range list {
		out[i] = Override{Never: ov.never, A: ov.a, B: ov.b, File: ov.file, Line: ov.line}
	}
	return out, err
}

// readOverrideFiles reads the never-match file, then the always-match one.
func readOverrideFiles(proj *config.Project) ([]override, error) {
	o := proj.Config.Overrides
	var out []override
	for _, f := range []struct {
		path  string
		never bool
	}{{o.NeverMatch, true}, {o.AlwaysMatch, false}} {
		if f.path == "" {
			continue
		}
		list, err := readOverrides(proj.Dir, f.path, f.never)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

type override struct {
	never bool
	a, b  string
	file  string
	line  int
}

// applyOverrides reads the never-match and always-match files (CSV rows of
// two record keys, source/pk) and adds them to the graph. They win over
// every rule. A key that names no record is an error with file and line,
// so a typo is never silently ignored.
func (r *run) applyOverrides() error {
	list, err := readOverrideFiles(r.proj)
	if err != nil {
		return err
	}
	r.overrides = append(r.overrides, list...)
	var problems []string
	for _, ov := range r.overrides {
		a, okA := r.g.LookupRecord(ov.a)
		b, okB := r.g.LookupRecord(ov.b)
		switch {
		case !okA:
			problems = append(problems, knit.Errorf(knit.EINVALID, "%s:%d: no record %q (record keys are source/primary-key)", ov.file, ov.line, ov.a).Error())
		case !okB:
			problems = append(problems, knit.Errorf(knit.EINVALID, "%s:%d: no record %q (record keys are source/primary-key)", ov.file, ov.line, ov.b).Error())
		case ov.never:
			r.g.Never(a, b)
		default:
			r.g.Link(identity.Edge{A: a, B: b, Kind: identity.AlwaysMatch, Rule: -1})
		}
	}
	if len(problems) > 0 {
		return knit.Errorf(knit.EINVALID, "overrides name unknown records:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func readOverrides(dir, path string, never bool) ([]override, error) {
	full := config.Resolve(dir, path)
	f, err := os.Open(full)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no overrides yet: the file is created when the first one is added
	}
	if err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "overrides file %s", path)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	var out []override
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, knit.Wrap(knit.EINVALID, err, "%s:%d", path, line)
		}
		if len(rec) == 2 && slices.Equal([]string{strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])}, []string{"left", "right"}) {
			continue // header
		}
		if len(rec) < 2 || strings.TrimSpace(rec[0]) == "" || strings.TrimSpace(rec[1]) == "" {
			return nil, knit.Errorf(knit.EINVALID, "%s:%d: expected two record keys (source/pk,source/pk), found %q", path, line, strings.Join(rec, ","))
		}
		out = append(out, override{never: never, a: strings.TrimSpace(rec[0]), b: strings.TrimSpace(rec[1]), file: path, line: line})
	}
	return out, nil
}
