package fs

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/knit-cdp/knit/similarity"
)

// LevelOf is the Go reference implementation of a comparison: the index of
// the first level that holds for values a and b. An empty (or all-space)
// value is null. It defines the semantics the engine's SQL must reproduce
// and scores pairs in Go where no engine is involved (live stitching).
// Strings are compared by character (rune), not byte.
func (c *Comparison) LevelOf(a, b string) uint8 {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	for k, l := range c.Levels {
		if l.holds(a, b) {
			return uint8(k)
		}
	}
	// Validate guarantees a final else level; without one, the last level.
	return uint8(len(c.Levels) - 1)
}

// Compare builds the comparison vector of a pair of records given as
// field → value maps.
func (m *Model) Compare(left, right map[string]string) Vector {
	v := make(Vector, len(m.Comparisons))
	for i := range m.Comparisons {
		c := &m.Comparisons[i]
		v[i] = c.LevelOf(left[c.Field], right[c.Field])
	}
	return v
}

func (l Level) holds(a, b string) bool {
	if l.Kind == KindNull {
		return a == "" || b == ""
	}
	if l.Kind == KindElse {
		return true
	}
	a, b = part(a, l.Part), part(b, l.Part)
	if a == "" || b == "" {
		// A missing part (an email without '@', a postcode too short for a
		// sector) is no agreement.
		return false
	}
	switch l.Kind {
	case KindExact:
		return a == b
	case KindJaroWinkler:
		return JaroWinkler(a, b) >= l.Threshold
	case KindLevenshtein:
		return float64(Levenshtein(a, b)) <= l.Threshold
	case KindJaccard:
		return Jaccard(a, b) >= l.Threshold
	case KindDateWithinDays:
		da, okA := parseDate(a)
		db, okB := parseDate(b)
		return okA && okB && math.Abs(da.Sub(db).Hours()/24) <= l.Threshold
	case KindNumericWithin:
		x, errA := strconv.ParseFloat(a, 64)
		y, errB := strconv.ParseFloat(b, 64)
		return errA == nil && errB == nil && math.Abs(x-y) <= l.Threshold
	}
	return false
}

// Part extracts the part of a value a level tests (see the Part
// constants): the engine's SQL compares values cut by this function.
func Part(s, p string) string { return part(s, p) }

// part extracts the part of a value a level tests (see the Part constants).
func part(s, p string) string {
	switch p {
	case PartEmailLocal, PartEmailDomain:
		at := strings.LastIndexByte(s, '@')
		if at < 0 {
			return ""
		}
		if p == PartEmailLocal {
			return s[:at]
		}
		return s[at+1:]
	case PartPostcodeSector, PartPostcodeDistrict:
		r := []rune(strings.ReplaceAll(s, " ", ""))
		cut := 2
		if p == PartPostcodeDistrict {
			cut = 3
		}
		if len(r) <= cut {
			return ""
		}
		return string(r[:len(r)-cut])
	case PartPostcodeArea:
		end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
		if end < 0 {
			return s
		}
		return s[:end]
	}
	return s
}

// ParseDate reads the leading date of a date or timestamp, as date levels
// do: YYYY-MM-DD with any one separator of - / . or space, or YYYYMMDD.
func ParseDate(s string) (time.Time, bool) { return parseDate(s) }

// parseDate reads the leading date of s. Separators other than '-' matter
// because the default text standardiser turns "1630-08-01" into
// "1630 08 01", and the digits standardiser into "16300801": a date level
// on such a field must still see dates, not silently never hold.
func parseDate(s string) (time.Time, bool) {
	var ymd string
	switch {
	case len(s) >= 10 && isDigits(s[:4]) && isDateSep(s[4]) && s[7] == s[4] && isDigits(s[5:7]) && isDigits(s[8:10]) && (len(s) == 10 || !isDigit(s[10])):
		ymd = s[:4] + s[5:7] + s[8:10]
	case len(s) >= 8 && isDigits(s[:8]) && (len(s) == 8 || !isDigit(s[8])):
		ymd = s[:8]
	default:
		return time.Time{}, false
	}
	t, err := time.Parse("20060102", ymd)
	return t, err == nil
}

func isDateSep(c byte) bool { return c == '-' || c == '/' || c == '.' || c == ' ' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// JaroWinkler is the Jaro-Winkler similarity of a and b by character
// (similarity.JaroWinkler: prefix bonus 0.1 per common leading character,
// at most 4, when the Jaro similarity exceeds 0.7).
func JaroWinkler(a, b string) float64 { return similarity.JaroWinkler(a, b) }

// Levenshtein is the edit distance between a and b in characters.
func Levenshtein(a, b string) int { return similarity.Levenshtein(a, b) }

// Jaccard is |A∩B| / |A∪B| over the sets of whitespace-separated words.
func Jaccard(a, b string) float64 {
	wa, wb := strings.Fields(a), strings.Fields(b)
	set := make(map[string]uint8, len(wa)+len(wb))
	for _, w := range wa {
		set[w] |= 1
	}
	for _, w := range wb {
		set[w] |= 2
	}
	if len(set) == 0 {
		return 0
	}
	both := 0
	for _, s := range set {
		if s == 3 {
			both++
		}
	}
	return float64(both) / float64(len(set))
}
