package server

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/identity"
	"github.com/knit-cdp/knit/pipeline"
)

// Overrides in the live graph. A batch run reads the never-match and
// always-match files (knit.yaml: overrides) and honours them; the live
// graph does the same from the moment a state is built (start, and after
// every batch run): a never-match pair's records are never joined by a
// live link, and an always-match pair's records are joined. A pair naming
// a record the live graph has not seen yet (a visitor of the collected
// source who has not arrived) waits for it, and applies the moment the
// record appears, before the event that brought it is stitched.

// loadOverrides applies the project's override files to a new state and
// returns the pairs it could not use (a key naming no source), for the
// log: a batch run refuses them with file and line.
func (s *state) loadOverrides() ([]string, error) {
	list, err := pipeline.ReadOverrides(s.proj)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, ov := range list {
		if msg := s.addOverride(ov, time.Time{}); msg != "" {
			problems = append(problems, msg)
		}
	}
	return problems, nil
}

// overrideKey names a pair whatever its order and file line.
type overrideKey struct {
	never bool
	a, b  string
}

func keyOf(ov pipeline.Override) overrideKey {
	a, b := ov.A, ov.B
	if a > b {
		a, b = b, a
	}
	return overrideKey{ov.Never, a, b}
}

// addOverride applies one pair now if both records are in the live
// graph, else keeps it waiting; a pair the state has is not added twice.
// It returns a problem, or "".
func (s *state) addOverride(ov pipeline.Override, at time.Time) string {
	if s.overrides[keyOf(ov)] {
		return ""
	}
	for _, key := range []string{ov.A, ov.B} {
		if s.sourceOf(key) < 0 {
			// The key itself stays out of the message: it goes to the log.
			return ov.File + ":" + strconv.Itoa(ov.Line) + ": a record key names no source of the project (record keys are source/pk)"
		}
	}
	if s.overrides == nil {
		s.overrides = map[overrideKey]bool{}
	}
	s.overrides[keyOf(ov)] = true
	a, okA := s.live.LookupRecord(ov.A)
	b, okB := s.live.LookupRecord(ov.B)
	if okA && okB {
		s.applyOverride(ov, a, b, at)
		return ""
	}
	if s.waiting == nil {
		s.waiting = map[string][]pipeline.Override{}
	}
	for _, key := range []string{ov.A, ov.B} {
		s.waiting[key] = append(s.waiting[key], ov)
	}
	return ""
}

func (s *state) applyOverride(ov pipeline.Override, a, b int32, at time.Time) {
	if ov.Never {
		s.live.Never(a, b)
		return
	}
	s.join(a, b, identity.AlwaysMatch, "always-match override "+ov.File+":"+strconv.Itoa(ov.Line), at)
}

func (s *state) sourceOf(key string) int {
	src, _, ok := strings.Cut(key, "/")
	if !ok {
		return -1
	}
	return slices.Index(s.proj.Config.SourceOrder, src)
}

// record returns the node of a record key, creating it on first use; a
// new record first settles the override pairs waiting for it.
func (s *state) record(source int, key string) int32 {
	if len(s.waiting) == 0 {
		return s.live.Record(source, key) // nothing waits: one map lookup
	}
	n, known := s.live.LookupRecord(key)
	if known {
		return n
	}
	n = s.live.Record(source, key)
	for _, ov := range s.waiting[key] {
		other := ov.A
		if other == key {
			other = ov.B
		}
		if m, ok := s.live.LookupRecord(other); ok {
			s.applyOverride(ov, n, m, time.Time{})
			s.waiting[other] = slices.DeleteFunc(s.waiting[other], func(x pipeline.Override) bool { return x == ov })
			if len(s.waiting[other]) == 0 {
				delete(s.waiting, other)
			}
		}
	}
	delete(s.waiting, key)
	return n
}

// AddOverride stores a never-match or always-match pair of record keys in
// the project's overrides file (pipeline.AddOverride validates it against
// the last run) and applies it to the live graph at once. A never-match
// pair whose records the live graph already holds in one profile stays
// joined there until the next batch run splits it.
func (s *Server) AddOverride(ctx context.Context, kind pipeline.OverrideKind, a, b string) (added bool, err error) {
	added, path, err := pipeline.AddOverride(ctx, s.proj, s.eng, kind, a, b)
	if err != nil || !added {
		return added, err
	}
	ov := pipeline.Override{Never: kind == pipeline.NeverMatch, A: a, B: b, File: path}
	s.mu.Lock()
	msg := s.st.addOverride(ov, s.opt.Now().UTC())
	s.st.added = append(s.st.added, ov)
	s.st.flush()
	s.mu.Unlock()
	if msg != "" {
		return true, knit.Errorf(knit.EINVALID, "%s", msg)
	}
	return true, nil
}

// carryOverrides gives a state about to replace old the pairs added to old
// through AddOverride: a batch run that read the files before the pair was
// stored must not drop it from the live graph.
func (next *state) carryOverrides(old *state) {
	for _, ov := range old.added {
		if !next.overrides[keyOf(ov)] { // else the files gave it already
			next.addOverride(ov, time.Time{})
			next.added = append(next.added, ov)
		}
	}
}
