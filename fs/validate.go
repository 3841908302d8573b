package fs

import (
	"fmt"
	"math"
	"strings"

	"github.com/knit-cdp/knit"
)

// sumTolerance is how far a comparison's m or u may sum from 1 (the file
// keeps full float64 digits, so rounding is far below it).
const sumTolerance = 1e-6

// Validate checks that the model can score pairs: known kinds and parts,
// levels in an order where each can hold, one null level at most and first,
// an else level last, m and u in (0,1] summing to 1 over the non-null
// levels, a prior and threshold in (0,1), term frequencies in (0,1]. It
// returns one EINVALID error listing every problem.
func (m *Model) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(m.Comparisons) == 0 {
		add("the model has no comparisons")
	}
	if !(m.Prior > 0 && m.Prior < 1) {
		add("prior = %g: the probability that two random records match must be in (0,1)", m.Prior)
	}
	if !(m.Threshold > 0 && m.Threshold < 1) {
		add("threshold = %g: the link probability threshold must be in (0,1), e.g. 0.9", m.Threshold)
	}
	names := map[string]int{}
	for c, comp := range m.Comparisons {
		where := fmt.Sprintf("comparison %d (%q)", c, comp.Name)
		if comp.Name == "" {
			add("comparison %d: name is empty", c)
		} else if prev, dup := names[comp.Name]; dup {
			add("%s: the name is also used by comparison %d; names must be unique", where, prev)
		}
		names[comp.Name] = c
		if comp.Field == "" {
			add("%s: field is empty", where)
		}
		if len(comp.Levels) > math.MaxUint8+1 {
			add("%s: %d levels; at most %d fit a comparison vector", where, len(comp.Levels), math.MaxUint8+1)
		}
		problems = append(problems, comp.levelProblems(where)...)
	}
	for field, freqs := range m.TF {
		for v, f := range freqs {
			if !(f > 0 && f <= 1) {
				add("term_frequencies.%s[%q] = %g: a relative frequency must be in (0,1]", field, v, f)
			}
		}
	}
	if len(problems) > 0 {
		return knit.Errorf(knit.EINVALID, "invalid linkage model:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// levelProblems checks one comparison's levels.
func (comp Comparison) levelProblems(where string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	n := len(comp.Levels)
	if n < 2 {
		add("%s: has %d levels; a comparison needs at least one test and a final else level", where, n)
		return problems
	}
	if comp.Levels[n-1].Kind != KindElse {
		add("%s: the last level is %q; it must be kind else, so every pair gets a level", where, comp.Levels[n-1].Kind)
	}
	mSum, uSum := 0.0, 0.0
	for k, l := range comp.Levels {
		lw := fmt.Sprintf("%s, level %d (%q)", where, k, l.Label)
		if l.Label == "" {
			add("%s, level %d: label is empty", where, k)
		}
		switch l.Kind {
		case KindNull:
			if k != 0 {
				add("%s: the null level must come first, so a missing value is never read as agreement", lw)
			}
			continue // null levels carry no m or u
		case KindElse:
			if k != n-1 {
				add("%s: an else level always holds, so the levels after it can never be reached; move it last", lw)
			}
		case KindExact:
		case KindJaroWinkler, KindJaccard:
			if !(l.Threshold > 0 && l.Threshold <= 1) {
				add("%s: similarity threshold %g must be in (0,1]", lw, l.Threshold)
			}
		case KindLevenshtein, KindDateWithinDays, KindNumericWithin:
			if !(l.Threshold >= 0) {
				add("%s: distance threshold %g must be ≥ 0", lw, l.Threshold)
			}
		default:
			add("%s: unknown kind %q; use null, exact, jaro_winkler, levenshtein, jaccard, date_within_days, numeric_within or else", lw, l.Kind)
		}
		switch l.Part {
		case PartWhole, PartEmailLocal, PartEmailDomain, PartPostcodeSector, PartPostcodeDistrict, PartPostcodeArea:
		default:
			add("%s: unknown part %q; use email_local, email_domain, postcode_sector, postcode_district, postcode_area or leave it out", lw, l.Part)
		}
		if l.TF && (l.Kind != KindExact || l.Part != PartWhole) {
			add("%s: tf is allowed only on an exact level on the whole value", lw)
		}
		if !(l.M > 0 && l.M <= 1) {
			add("%s: m = %g must be in (0,1]", lw, l.M)
		}
		if !(l.U > 0 && l.U <= 1) {
			add("%s: u = %g must be in (0,1]", lw, l.U)
		}
		mSum += l.M
		uSum += l.U
		if j := shadowedBy(comp.Levels[:k], l); j >= 0 {
			add("%s: can never hold, because level %d (%q) comes first and holds whenever it does; order levels from tight to loose", lw, j, comp.Levels[j].Label)
		}
	}
	if math.Abs(mSum-1) > sumTolerance {
		add("%s: m sums to %.9g over the non-null levels; it must sum to 1", where, mSum)
	}
	if math.Abs(uSum-1) > sumTolerance {
		add("%s: u sums to %.9g over the non-null levels; it must sum to 1", where, uSum)
	}
	return problems
}

// shadowedBy returns the index of an earlier level that holds whenever l
// does (so l is unreachable), or -1. Only same-part levels are compared,
// and only the implications that hold for every value: equal values are
// within any distance and at similarity 1.
func shadowedBy(earlier []Level, l Level) int {
	for j, e := range earlier {
		if e.Part != l.Part {
			continue
		}
		switch {
		case e.Kind == l.Kind && e.Kind == KindExact:
			return j
		case e.Kind == l.Kind && (e.Kind == KindJaroWinkler || e.Kind == KindJaccard) && e.Threshold <= l.Threshold:
			return j
		case e.Kind == l.Kind && (e.Kind == KindLevenshtein || e.Kind == KindDateWithinDays || e.Kind == KindNumericWithin) && e.Threshold >= l.Threshold:
			return j
		case l.Kind == KindExact && e.Kind != KindNull && e.Kind != KindElse:
			// Equal values pass every similarity and distance test.
			return j
		}
	}
	return -1
}
