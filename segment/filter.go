package segment

import (
	"strings"
	"time"

	"github.com/knit-cdp/knit/engine"
)

// CompileActivityFilter compiles the property conditions (Where) and the
// time window of a Did to a SQL condition on the activity table aliased
// alias, with the same checks and NULL semantics as a rule's did. Measures
// use it to filter the activities they aggregate. args holds the
// parameters of the query the condition joins, so placeholders continue
// their numbering; the returned list extends it. The Did's type, count and
// while are not compiled: the caller owns them.
func CompileActivityFilter(e *Did, s *Schema, alias string, d engine.Dialect, now time.Time, args []any) (cond string, out []any, err error) {
	if s == nil {
		s = &Schema{}
	}
	c := &compiler{s: s, d: d, now: now, args: args}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*SyntaxError)
			if !ok {
				panic(r)
			}
			cond, out, err = "", args, se
		}
	}()
	var parts []string
	for _, w := range e.Where {
		typ, ok := s.ActivityProps[w.Field]
		if !ok {
			panic(errorAt(w.At, "unknown activity property %s%s", w.Field, suggest(w.Field, keys(s.ActivityProps))))
		}
		parts = append(parts, c.compare(c.col(alias, w.Field), typ, w, "property"))
	}
	if e.Window != nil {
		parts = append(parts, c.window(c.col(alias, "ts"), e.Window))
	}
	if len(parts) == 0 {
		return "TRUE", c.args, nil
	}
	return strings.Join(parts, " AND "), c.args, nil
}
