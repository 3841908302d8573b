package segment

import (
	"slices"
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
	return condition(s, d, now, args, func(c *compiler) string {
		var parts []string
		for _, w := range e.Where {
			typ, ok := c.s.ActivityProps[w.Field]
			if !ok {
				panic(errorAt(w.At, "unknown activity property %s%s", w.Field, suggest(w.Field, keys(c.s.ActivityProps))))
			}
			parts = append(parts, c.compare(c.col(alias, w.Field), typ, w, "property"))
		}
		if e.Window != nil {
			parts = append(parts, c.window(c.col(alias, "ts"), e.Window))
		}
		if len(parts) == 0 {
			return "TRUE"
		}
		return strings.Join(parts, " AND ")
	})
}

// condition compiles one condition with a compiler whose placeholders
// continue args, turning a *SyntaxError panic into an error.
func condition(s *Schema, d engine.Dialect, now time.Time, args []any, compile func(c *compiler) string) (cond string, out []any, err error) {
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
	cond = compile(c)
	return cond, c.args, nil
}

// DidKey identifies the activities a did counts: its type, property
// conditions, window and while in canonical form, without its count. Two
// dids with the same key count the same activities.
func DidKey(e *Did) string {
	k := *e
	k.Count = nil
	return k.String()
}

// Dids lists the did conditions of e, in the order they appear.
func Dids(e Expr) []*Did {
	var out []*Did
	eachCondition(e, func(x Expr) {
		if d, ok := x.(*Did); ok {
			out = append(out, d)
		}
	})
	return out
}

// eachCondition calls f with every condition of e that is not and, or or
// not, left to right.
func eachCondition(e Expr, f func(Expr)) {
	switch e := e.(type) {
	case *Or:
		eachCondition(e.Left, f)
		eachCondition(e.Right, f)
	case *And:
		eachCondition(e.Left, f)
		eachCondition(e.Right, f)
	case *Not:
		eachCondition(e.X, f)
	default:
		f(e)
	}
}

// CompileDidCondition compiles the condition an activity of the table
// aliased alias meets to count for the did e — its type, property
// conditions, window and while — with the checks of Compile. Placeholders
// continue the numbering of args; the returned list extends it. With
// Tables.ActivityCounts, one grouped query counts every did of a run:
// count(*) FILTER (WHERE <condition>) per DidKey.
func CompileDidCondition(e *Did, s *Schema, alias string, d engine.Dialect, now time.Time, args []any) (cond string, out []any, err error) {
	return condition(s, d, now, args, func(c *compiler) string { return c.didCondition(e, alias) })
}

// Fields lists the unified fields and measures e compares (outside did
// conditions), each once, in the order they appear.
func Fields(e Expr) []string {
	var out []string
	eachCondition(e, func(x Expr) {
		if c, ok := x.(*Compare); ok && !slices.Contains(out, c.Field) {
			out = append(out, c.Field)
		}
	})
	return out
}
