package source

import "time"

// fixedLayout is a Go reference layout made only of zero-padded numbers
// (2006 01 02 15 04 05) and separators, such as 2006-01-02 15:04:05 or
// 01-02-2006 15:04:05: every field sits at a fixed position, so a value is
// read digit by digit instead of by time.Parse's general walk through the
// layout (an event source parses one per row, millions per run). A value
// the fast path does not accept exactly (another length, a field out of
// range) goes to time.ParseInLocation, which gives the same time or the
// error; so the fast path never changes what parses or how.
type fixedLayout struct {
	size   int
	fields []fixedField
	lits   []fixedLit
}

type fixedField struct {
	pos, width int
	unit       int // index into the date: 0 year .. 5 second
}

type fixedLit struct {
	pos int
	c   byte
}

// fixedTokens are the layout elements the fast path reads.
var fixedTokens = []struct {
	token string
	unit  int
}{{"2006", 0}, {"01", 1}, {"02", 2}, {"15", 3}, {"04", 4}, {"05", 5}}

// compileFixed returns the fast path of a layout, or nil when the layout
// holds anything else (names, zones, fractions, unpadded numbers) or a
// field twice.
func compileFixed(layout string) *fixedLayout {
	f := &fixedLayout{size: len(layout)}
	seen := [6]bool{}
	for i := 0; i < len(layout); {
		matched := false
		for _, t := range fixedTokens {
			if len(layout)-i >= len(t.token) && layout[i:i+len(t.token)] == t.token {
				if seen[t.unit] {
					return nil
				}
				seen[t.unit] = true
				f.fields = append(f.fields, fixedField{pos: i, width: len(t.token), unit: t.unit})
				i += len(t.token)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		switch c := layout[i]; c {
		case '-', '/', ':', 'T', ' ':
			// A layout's space matches a run of spaces in time.Parse; the
			// fast path takes exactly one, and leaves longer runs to it.
			f.lits = append(f.lits, fixedLit{pos: i, c: c})
			i++
		default: // names, zones, fractions: time.Parse
			return nil
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return nil
	}
	// A separator next to a number can start another element ("-07" is a
	// zone); the layout must format the way the fields say it does.
	for _, ref := range []time.Time{time.Date(2009, 11, 10, 23, 1, 2, 0, time.UTC), time.Date(1987, 3, 4, 5, 16, 27, 0, time.UTC)} {
		if ref.Format(layout) != f.format(ref) {
			return nil
		}
	}
	return f
}

// format renders t with the fixed layout, to check compileFixed's reading.
func (f *fixedLayout) format(t time.Time) string {
	b := make([]byte, f.size)
	for _, l := range f.lits {
		b[l.pos] = l.c
	}
	v := [6]int{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()}
	for _, fl := range f.fields {
		n := v[fl.unit]
		for i := fl.pos + fl.width - 1; i >= fl.pos; i-- {
			b[i] = byte('0' + n%10)
			n /= 10
		}
	}
	return string(b)
}

// parse reads s, reporting false when s is not exactly of the layout's
// shape with every field in range.
func (f *fixedLayout) parse(s string, loc *time.Location) (time.Time, bool) {
	if len(s) != f.size {
		return time.Time{}, false
	}
	for _, l := range f.lits {
		if s[l.pos] != l.c {
			return time.Time{}, false
		}
	}
	v := [6]int{}
	for _, fl := range f.fields {
		n := 0
		for i := fl.pos; i < fl.pos+fl.width; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			n = n*10 + int(c-'0')
		}
		v[fl.unit] = n
	}
	year, month, day, hour, min, sec := v[0], v[1], v[2], v[3], v[4], v[5]
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, 0, loc), true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(m-1)%7%2
}
