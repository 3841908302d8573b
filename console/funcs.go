package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// navItem is one entry of the main navigation.
type navItem struct{ Key, Label, Href string }

// nav lists the main navigation; a page sets View.Nav to its Key.
var nav = []navItem{
	{"home", "Home", "/console/"},
	{"customers", "Customers", "/console/customers"},
	{"unify", "Unify", "/console/unify"},
	{"segments", "Segments", "/console/segments"},
	{"runs", "Runs", "/console/runs"},
}

// funcs are the helpers every template may call.
var funcs = template.FuncMap{
	"navItems": func() []navItem { return nav },
	// time formats a time in UTC to the second ("" for nil or zero).
	"time":     fmtTime,
	"duration": fmtDuration,
	"num":      fmtNum,
	// pathEscape escapes one path segment, such as a customer ID.
	"pathEscape": url.PathEscape,
	"query":      queryString,
	"sparkline":  sparkline,
	"value":      fmtValue,
}

func fmtTime(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return fmt.Sprint(v)
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// fmtDuration shows seconds as a person reads them: 0.42 s, 12.3 s, 4 min 5 s.
func fmtDuration(seconds float64) string {
	switch {
	case seconds < 10:
		return strconv.FormatFloat(seconds, 'f', 2, 64) + " s"
	case seconds < 120:
		return strconv.FormatFloat(seconds, 'f', 1, 64) + " s"
	}
	s := int(seconds + 0.5)
	return fmt.Sprintf("%d min %d s", s/60, s%60)
}

// fmtNum groups thousands: 1,234,567.
func fmtNum(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// queryString builds "?k=v&…" from pairs, skipping empty values, for
// links that keep a page's filters (pagination, sorting).
func queryString(pairs ...any) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		k := fmt.Sprint(pairs[i])
		v := fmt.Sprint(pairs[i+1])
		if v != "" && v != "0" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// sparkline draws sizes over runs as a small inline SVG. It is built from
// numbers only, so it cannot carry markup from the data; the label gives
// screen readers the first and last values.
func sparkline(points []trendPoint) template.HTML {
	const w, h, pad = 120.0, 28.0, 3.0
	if len(points) == 0 {
		return ""
	}
	lo, hi := points[0].Members, points[0].Members
	for _, p := range points {
		lo, hi = min(lo, p.Members), max(hi, p.Members)
	}
	var b strings.Builder
	first, last := points[0], points[len(points)-1]
	fmt.Fprintf(&b, `<svg class="spark" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%d members after run %d, %d after run %d">`,
		w, h, w, h, first.Members, first.Run, last.Members, last.Run)
	b.WriteString(`<polyline points="`)
	var x, y float64
	for i, p := range points {
		x = pad
		if len(points) > 1 {
			x = pad + float64(i)*(w-2*pad)/float64(len(points)-1)
		}
		y = h / 2
		if hi > lo {
			y = h - pad - float64(p.Members-lo)*(h-2*pad)/float64(hi-lo)
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	// A dot on the last run, so a single run still shows something.
	fmt.Fprintf(&b, `"/><circle cx="%.1f" cy="%.1f" r="2.5"/></svg>`, x, y)
	return template.HTML(b.String())
}
