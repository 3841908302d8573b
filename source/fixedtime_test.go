package source

import (
	"math/rand"
	"testing"
	"time"
)

// TestFixedLayoutMatchesTimeParse checks the fast path against
// time.ParseInLocation on valid, out-of-range and malformed values: what it
// accepts must be what time.Parse gives, and the parser must agree with
// time.Parse on every value either way.
func TestFixedLayoutMatchesTimeParse(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	layouts := []string{"2006-01-02 15:04:05", "01-02-2006 15:04:05", "2006-01-02", "01/02/2006", "2006-01-02T15:04:05", "20060102150405", "02/01/2006 15:04"}
	rng := rand.New(rand.NewSource(1))
	for _, layout := range layouts {
		if compileFixed(layout) == nil {
			t.Fatalf("%q has no fast path", layout)
		}
		for _, loc := range []*time.Location{time.UTC, paris} {
			p := &timeParser{layout: layout, loc: loc, fixed: compileFixed(layout)}
			var values []string
			for range 2000 {
				ts := time.Date(1900+rng.Intn(250), time.Month(1+rng.Intn(12)), 1+rng.Intn(31), rng.Intn(24), rng.Intn(60), rng.Intn(60), 0, time.UTC)
				v := []byte(ts.Format(layout))
				values = append(values, string(v))
				// The same shape with digits changed at random: days
				// and months out of range, 24:00, 29 February.
				for range 3 {
					i := rng.Intn(len(v))
					if v[i] >= '0' && v[i] <= '9' {
						v[i] = byte('0' + rng.Intn(10))
					} else if rng.Intn(4) == 0 {
						v[i] = "x 0-"[rng.Intn(4)]
					}
				}
				values = append(values, string(v))
			}
			values = append(values, "", " ", "2024-02-29 00:00:00", "2023-02-29 00:00:00", "02-29-2024 23:59:59", "2024-1-02 3:04:05", "2024-01-02  13:04:05", "2024-01-02 13:04:05.5", "2024-13-02 13:04:05", "2024-00-10", "0000-01-01")
			for _, v := range values {
				want, wantErr := time.ParseInLocation(layout, v, loc)
				got, gotErr := p.parse(v)
				if (wantErr == nil) != (gotErr == nil) || !got.Equal(want) || got.Location().String() != want.Location().String() {
					t.Fatalf("layout %q in %s, value %q: got %v, %v; time.Parse gives %v, %v", layout, loc, v, got, gotErr, want, wantErr)
				}
				if t2, ok := p.fixed.parse(v, loc); ok && (wantErr != nil || !t2.Equal(want)) {
					t.Fatalf("layout %q, value %q: the fast path gives %v; time.Parse gives %v, %v", layout, v, t2, want, wantErr)
				}
			}
		}
	}
	// auto reads these shapes through the same fast path.
	auto := &timeParser{format: timeAuto, loc: paris}
	for _, v := range []string{"2024-02-29 10:11:12", "2023-02-29 10:11:12", "2024-02-29T24:11:12", "2024-12-31", "2024-12-32", "2024-06-30T23:59:59", "2024-06-30 23:59:60", "2024-06-30 23:59:59.250"} {
		layout := "2006-01-02" + v[min(10, len(v)-1):min(11, len(v))] + "15:04:05"
		if len(v) == len(time.DateOnly) {
			layout = time.DateOnly
		}
		want, wantErr := time.ParseInLocation(layout, v, paris)
		got, gotErr := auto.parse(v)
		if (wantErr == nil) != (gotErr == nil) || !got.Equal(want) {
			t.Errorf("auto, value %q: got %v, %v; time.Parse gives %v, %v", v, got, gotErr, want, wantErr)
		}
	}
	for _, layout := range []string{"2006-01-02 15:04:05.000", "Jan 2 2006", "2006-01-02 15:04:05 MST", "2006-01-02-07", "2006-1-2", "2006-01-02 3:04PM", "2006-01-02T15:04:05Z07:00"} {
		if compileFixed(layout) != nil {
			t.Errorf("%q must go through time.Parse, yet it has a fast path", layout)
		}
	}
}
