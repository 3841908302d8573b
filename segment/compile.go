package segment

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/knit-cdp/knit/engine"
)

// FieldType is the type of a unified field, a measure or an activity
// property, as the rule language sees it.
type FieldType int

// Field types.
const (
	Text FieldType = iota
	Number
	Bool
	Time
)

var fieldTypeText = [...]string{Text: "text", Number: "a number", Bool: "true/false", Time: "a time"}

func (t FieldType) String() string { return fieldTypeText[t] }

// Schema tells the compiler which names exist. A name that is not here is
// an error, so no name from a rule reaches SQL unchecked.
type Schema struct {
	// Fields are unified fields and measures, by name: the columns of the
	// profiles table besides its fixed ones.
	Fields map[string]FieldType
	// IdentTypes are identifier types, for "has".
	IdentTypes map[string]bool
	// Segments are the other segments, for "in segment".
	Segments map[string]bool
	// ActivityProps are activity properties usable in "where": the
	// columns of the activities table besides its fixed ones.
	ActivityProps map[string]FieldType
	// ActivityTypes, when not nil, are the activity types "did" may name,
	// so a misspelt type is an error instead of an empty segment.
	ActivityTypes map[string]bool
}

// Tables names the tables compiled SQL reads. Their columns are fixed:
//
//	Profiles:   customer_id, known BOOLEAN, first_seen TIMESTAMP,
//	            first_known TIMESTAMP (NULL while unknown), one column per
//	            Schema.Fields entry, named as the field
//	Keyring:    customer_id, kind ('identifier' for identifiers), type, value
//	Activities: customer_id, type, ts TIMESTAMP, known_at_time BOOLEAN,
//	            one column per Schema.ActivityProps entry, named as the
//	            property (NULL where an activity lacks it)
//	Members:    segment, customer_id — current members of each segment
type Tables struct {
	Profiles, Keyring, Activities, Members string
	// ActivityCounts, when not nil, maps the DidKey of a did condition to
	// a column of Profiles holding, per customer, the number of
	// activities meeting it (NULL or 0 for none): a did then reads that
	// column instead of searching Activities. The columns are written by
	// one grouped pass over the activities for all rules of a run (see
	// CompileDidCondition), where a search per did would scan them once
	// per condition.
	ActivityCounts map[string]string
	// IdentifiersOnly says Keyring holds identifiers only and has no kind
	// column (the identifier index itself), so "has" need not ask for
	// the kind.
	IdentifiersOnly bool
	// Rules, when not nil, maps segments to their rules: "in segment X"
	// of a segment X here is X's own condition, checked on the same row
	// of Profiles, instead of a search of Members. Segments evaluated in
	// one statement over Profiles use it (a customer is a member of X
	// exactly when X's condition holds on their row); a segment whose
	// members are not its rule's answer this run (a static segment kept
	// from an earlier run) must not be here.
	Rules map[string]Expr
}

// KeyringIdentifierKind is the keyring's kind column value for identifiers.
const KeyringIdentifierKind = "identifier"

// CompileRule parses and compiles src; errors of either step show the
// offending line of src with a caret.
func CompileRule(src string, s *Schema, t Tables, d engine.Dialect, now time.Time) (string, []any, error) {
	e, err := Parse(src)
	if err != nil {
		return "", nil, err
	}
	query, args, err := Compile(e, s, t, d, now)
	if se, ok := err.(*SyntaxError); ok {
		se.Source = src
	}
	return query, args, err
}

// Compile returns a SELECT of the customer_id of every member of the
// segment e describes. Every value is a positional parameter in args; every
// name is checked against s and quoted by d. now is the run time: relative
// times (30 days ago) are computed from it in Go and passed as parameters.
// A name that does not exist or an operator that does not fit a field's type
// is a *SyntaxError at its position.
func Compile(e Expr, s *Schema, t Tables, d engine.Dialect, now time.Time) (query string, args []any, err error) {
	if s == nil {
		s = &Schema{}
	}
	c := &compiler{s: s, t: t, d: d, now: now}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*SyntaxError)
			if !ok {
				panic(r)
			}
			query, args, err = "", nil, se
		}
	}()
	where := c.expr(e)
	return "SELECT p." + d.Quote("customer_id") + " FROM " + d.Quote(t.Profiles) + " AS p WHERE " + where, c.args, nil
}

// CompileCondition compiles e to the condition Compile puts in its WHERE
// (over t.Profiles aliased p), with placeholders that continue args: the
// conditions of several segments can then share one statement.
func CompileCondition(e Expr, s *Schema, t Tables, d engine.Dialect, now time.Time, args []any) (cond string, out []any, err error) {
	return condition(s, d, now, args, func(c *compiler) string {
		c.t = t
		return c.expr(e)
	})
}

type compiler struct {
	s    *Schema
	t    Tables
	d    engine.Dialect
	now  time.Time
	args []any
	// inlining lists the segments whose rules are being expanded in
	// place (Tables.Rules), outermost first.
	inlining []string
}

// param records v as the next positional parameter and returns its
// placeholder. Callers build SQL left to right, so placeholders and args
// stay in the same order.
func (c *compiler) param(v any) string {
	c.args = append(c.args, v)
	return c.d.Param(len(c.args))
}

func (c *compiler) col(alias, name string) string { return alias + "." + c.d.Quote(name) }

func (c *compiler) expr(e Expr) string {
	switch e := e.(type) {
	case *Or:
		l := c.expr(e.Left)
		return "(" + l + " OR " + c.expr(e.Right) + ")"
	case *And:
		l := c.expr(e.Left)
		return "(" + l + " AND " + c.expr(e.Right) + ")"
	case *Not:
		return "NOT (" + c.expr(e.X) + ")"
	case *Known:
		known := "COALESCE(" + c.col("p", "known") + ", FALSE)"
		if e.Known {
			return known
		}
		return "NOT " + known
	case *Has:
		if !c.s.IdentTypes[e.Type] {
			panic(errorAt(e.At, "unknown identifier type %s%s", e.Type, suggest(e.Type, keys(c.s.IdentTypes))))
		}
		kind := ""
		if !c.t.IdentifiersOnly {
			kind = " AND " + c.col("k", "kind") + " = " + c.param(KeyringIdentifierKind)
		}
		return "EXISTS (SELECT 1 FROM " + c.d.Quote(c.t.Keyring) + " AS k WHERE " + c.col("k", "customer_id") + " = " + c.col("p", "customer_id") +
			kind + " AND " + c.col("k", "type") + " = " + c.param(e.Type) + ")"
	case *InSegment:
		if !c.s.Segments[e.Name] {
			panic(errorAt(e.At, "unknown segment %s%s", e.Name, suggest(e.Name, keys(c.s.Segments))))
		}
		if rule, ok := c.t.Rules[e.Name]; ok {
			if slices.Contains(c.inlining, e.Name) {
				panic(errorAt(e.At, "segments refer to each other in a cycle: %s", strings.Join(append(slices.Clone(c.inlining), e.Name), " → ")))
			}
			c.inlining = append(c.inlining, e.Name)
			sql := "(" + c.expr(rule) + ")"
			c.inlining = c.inlining[:len(c.inlining)-1]
			return sql
		}
		return "EXISTS (SELECT 1 FROM " + c.d.Quote(c.t.Members) + " AS m WHERE " + c.col("m", "customer_id") + " = " + c.col("p", "customer_id") +
			" AND " + c.col("m", "segment") + " = " + c.param(e.Name) + ")"
	case *FirstSeen:
		sql := c.window(c.col("p", "first_seen"), &e.Window)
		if e.WhileUnknown {
			sql += " AND (" + c.col("p", "first_known") + " IS NULL OR " + c.col("p", "first_known") + " > " + c.col("p", "first_seen") + ")"
		}
		return "COALESCE(" + sql + ", FALSE)"
	case *Did:
		return c.did(e)
	case *Compare:
		typ, ok := c.s.Fields[e.Field]
		if !ok {
			hint := suggest(e.Field, keys(c.s.Fields))
			if _, isProp := c.s.ActivityProps[e.Field]; isProp {
				hint = `: it is an activity property; inside did "..." where, separate conditions with commas (where store = "S1", total > 10)`
			}
			panic(errorAt(e.At, "unknown field %s%s", e.Field, hint))
		}
		return c.compare(c.col("p", e.Field), typ, e, "field")
	}
	panic(fmt.Sprintf("segment: unknown node %T", e))
}

func (c *compiler) did(e *Did) string {
	op := ">="
	if e.Count != nil {
		op = map[CountOp]string{AtLeast: ">=", AtMost: "<=", Exactly: "="}[e.Count.Op]
	}
	if col, ok := c.t.ActivityCounts[DidKey(e)]; ok {
		// The condition is checked as if compiled here, so an unknown
		// type or property is the same error at the same place.
		saved := c.args
		c.didCondition(e, "a")
		c.args = saved
		n := int64(1)
		if e.Count != nil {
			n = e.Count.N
		}
		return "COALESCE(" + c.col("p", col) + ", 0) " + op + " " + c.param(n)
	}
	from := " FROM " + c.d.Quote(c.t.Activities) + " AS a WHERE " + c.col("a", "customer_id") + " = " + c.col("p", "customer_id") +
		" AND " + c.didCondition(e, "a")
	if e.Count == nil {
		return "EXISTS (SELECT 1" + from + ")"
	}
	return "(SELECT count(*)" + from + ") " + op + " " + c.param(e.Count.N)
}

// didCondition is the condition an activity (aliased alias) meets to
// count for e: its type, property conditions, window and while.
func (c *compiler) didCondition(e *Did, alias string) string {
	if c.s.ActivityTypes != nil && !c.s.ActivityTypes[e.Type] {
		panic(errorAt(e.TypeAt, "unknown activity type %s%s", quote(e.Type), suggest(e.Type, keys(c.s.ActivityTypes))))
	}
	var b strings.Builder
	b.WriteString(c.col(alias, "type") + " = " + c.param(e.Type))
	for _, w := range e.Where {
		typ, ok := c.s.ActivityProps[w.Field]
		if !ok {
			panic(errorAt(w.At, "unknown activity property %s%s", w.Field, suggest(w.Field, keys(c.s.ActivityProps))))
		}
		b.WriteString(" AND " + c.compare(c.col(alias, w.Field), typ, w, "property"))
	}
	if e.Window != nil {
		b.WriteString(" AND " + c.window(c.col(alias, "ts"), e.Window))
	}
	switch e.While {
	case WhileKnown:
		b.WriteString(" AND COALESCE(" + c.col(alias, "known_at_time") + ", FALSE)")
	case WhileUnknown:
		b.WriteString(" AND NOT COALESCE(" + c.col(alias, "known_at_time") + ", FALSE)")
	}
	return b.String()
}

// window compares the time column col with w. A date bound covers the
// whole day: "before 2024-03-01" ends at its midnight, "after 2024-03-01"
// starts at the next one, "between" includes both days.
func (c *compiler) window(col string, w *Window) string {
	switch w.Kind {
	case InLast:
		return col + " >= " + c.param(w.Last.Before(c.now))
	case Before:
		return col + " < " + c.param(c.start(w.From))
	case After:
		if w.From.Kind == DateValue {
			return col + " >= " + c.param(c.end(w.From))
		}
		return col + " > " + c.param(c.start(w.From))
	}
	from, to := c.start(w.From), c.end(w.To)
	if !from.Before(to) {
		panic(errorAt(w.To.At, "the window is empty: %s is before %s; write the earlier time first", w.To, w.From))
	}
	upper := " <= "
	if w.To.Kind == DateValue {
		upper = " < "
	}
	return col + " >= " + c.param(from) + " AND " + col + upper + c.param(to)
}

// start is the first instant of a time value: a date's midnight or the
// instant "N units ago".
func (c *compiler) start(v Value) time.Time {
	if v.Kind == DateValue {
		return v.Date
	}
	return v.Ago.Before(c.now).UTC()
}

// end is the instant after a time value: the next midnight for a date.
func (c *compiler) end(v Value) time.Time {
	if v.Kind == DateValue {
		return v.Date.AddDate(0, 0, 1)
	}
	return c.start(v)
}

// operatorTypes lists the field types each operator works on.
var operatorTypes = map[Op][]FieldType{
	OpEq: {Text, Number, Bool, Time}, OpNe: {Text, Number, Bool, Time},
	OpLt: {Text, Number, Time}, OpLe: {Text, Number, Time}, OpGt: {Text, Number, Time}, OpGe: {Text, Number, Time},
	OpContains: {Text}, OpStartsWith: {Text}, OpEndsWith: {Text},
	OpIn: {Text, Number}, OpNotIn: {Text, Number},
	OpIsNull: {Text, Number, Bool, Time}, OpIsNotNull: {Text, Number, Bool, Time},
}

var sqlOps = map[Op]string{OpEq: "=", OpNe: "<>", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">="}

// compare compiles a comparison of col (of type typ) after checking that
// the operator fits the type and every value has the type. A comparison
// with a missing (NULL) value is false, never NULL, so "not" is always the
// exact complement of its condition.
func (c *compiler) compare(col string, typ FieldType, e *Compare, kind string) string {
	if !slices.Contains(operatorTypes[e.Op], typ) {
		panic(errorAt(e.OpAt, "%s does not work on %s %s, which is %s", e.Op, kind, e.Field, typ))
	}
	for _, v := range e.Values {
		c.checkValue(typ, v, e, kind)
	}
	switch e.Op {
	case OpIsNull:
		return col + " IS NULL"
	case OpIsNotNull:
		return col + " IS NOT NULL"
	case OpContains, OpStartsWith, OpEndsWith:
		pattern := escapeLike(e.Values[0].Str)
		switch e.Op {
		case OpContains:
			pattern = "%" + pattern + "%"
		case OpStartsWith:
			pattern += "%"
		default:
			pattern = "%" + pattern
		}
		return "COALESCE(" + col + " LIKE " + c.param(pattern) + ` ESCAPE '\', FALSE)`
	case OpIn, OpNotIn:
		marks := make([]string, len(e.Values))
		for i, v := range e.Values {
			marks[i] = c.param(c.value(v))
		}
		op := " IN ("
		if e.Op == OpNotIn {
			op = " NOT IN ("
		}
		return "COALESCE(" + col + op + strings.Join(marks, ", ") + "), FALSE)"
	}
	v := e.Values[0]
	if typ == Time && v.Kind == DateValue {
		// A date names a whole day of a time field.
		day, next := v.Date, v.Date.AddDate(0, 0, 1)
		switch e.Op {
		case OpEq:
			return "COALESCE(" + col + " >= " + c.param(day) + " AND " + col + " < " + c.param(next) + ", FALSE)"
		case OpNe:
			return "COALESCE(" + col + " < " + c.param(day) + " OR " + col + " >= " + c.param(next) + ", FALSE)"
		case OpLt:
			return "COALESCE(" + col + " < " + c.param(day) + ", FALSE)"
		case OpLe:
			return "COALESCE(" + col + " < " + c.param(next) + ", FALSE)"
		case OpGt:
			return "COALESCE(" + col + " >= " + c.param(next) + ", FALSE)"
		default:
			return "COALESCE(" + col + " >= " + c.param(day) + ", FALSE)"
		}
	}
	return "COALESCE(" + col + " " + sqlOps[e.Op] + " " + c.param(c.value(v)) + ", FALSE)"
}

func (c *compiler) checkValue(typ FieldType, v Value, e *Compare, kind string) {
	ok := false
	hint := ""
	switch typ {
	case Text:
		ok = v.Kind == StringValue
		hint = " (put text in double quotes: " + quote(v.String()) + ")"
	case Number:
		ok = v.Kind == IntValue || v.Kind == FloatValue
		if v.Kind == StringValue {
			hint = " (remove the quotes)"
		}
	case Bool:
		ok = v.Kind == BoolValue
		hint = " (use true or false)"
	case Time:
		ok = v.Kind == DateValue || v.Kind == AgoValue
		hint = " (use a date such as 2024-01-31 or a time ago such as 30 days ago)"
	}
	if !ok {
		panic(errorAt(v.At, "%s %s is %s, but %s is %s%s", kind, e.Field, typ, v, valueKindText[v.Kind], hint))
	}
}

var valueKindText = [...]string{
	StringValue: "text", IntValue: "a number", FloatValue: "a number", BoolValue: "true/false",
	DateValue: "a date", AgoValue: "a time ago",
}

// value is the Go value passed as a parameter for v.
func (c *compiler) value(v Value) any {
	switch v.Kind {
	case StringValue:
		return v.Str
	case IntValue:
		return v.Int
	case FloatValue:
		return v.Float
	case BoolValue:
		return v.Bool
	}
	return c.start(v)
}

// escapeLike escapes LIKE's wildcards so a value matches only itself.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
