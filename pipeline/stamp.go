package pipeline

import (
	"math"
	"time"
)

// stamp is a point in time in Unix microseconds, the precision of DuckDB's
// and PostgreSQL's timestamps; noStamp means "no time" and sorts first.
// Records keep stamps rather than time.Time: a run holds millions of
// records, and every word that may hold a pointer (time.Time's location)
// is one more the garbage collector scans on each cycle.
type stamp int64

const noStamp stamp = math.MinInt64

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return noStamp
	}
	return stamp(t.UnixMicro())
}

func (s stamp) isZero() bool { return s == noStamp }

// value is the stamp as an engine value: NULL or a UTC time.
func (s stamp) value() any {
	if s == noStamp {
		return nil
	}
	return time.UnixMicro(int64(s)).UTC()
}
