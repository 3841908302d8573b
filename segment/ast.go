// Package segment is knit's segment rule language: a small, English-like
// language in which a marketer describes a group of customers, a parser with
// errors that point at the column of the mistake, and a compiler to
// parameterised SQL in which no value and no unchecked name ever becomes SQL
// text. The language reference is docs/segments.md.
package segment

import (
	"strconv"
	"strings"
	"time"
)

// Pos is a 1-based line and rune column in a rule's source.
type Pos struct {
	Line, Col int
}

// Expr is a node of a parsed rule. String renders the rule in its canonical
// form, which parses back to the same tree.
type Expr interface {
	Position() Pos
	String() string
	isExpr()
}

// Or holds when either side holds.
type Or struct {
	At          Pos // position of the "or"
	Left, Right Expr
}

// And holds when both sides hold.
type And struct {
	At          Pos // position of the "and"
	Left, Right Expr
}

// Not holds when X does not hold. "never did ..." and "has no ..." parse to
// a Not around a Did or a Has.
type Not struct {
	At Pos
	X  Expr
}

// Known is the profile's known/unknown state: "known" (Known true) or
// "unknown" (Known false).
type Known struct {
	At    Pos
	Known bool
}

// Has is a keyring fact: the profile holds at least one identifier of Type.
type Has struct {
	At   Pos
	Type string
}

// InSegment holds for current members of another segment.
type InSegment struct {
	At   Pos
	Name string
}

// FirstSeen compares the time the customer was first seen with a window;
// WhileUnknown additionally asks that the customer was still unknown then.
type FirstSeen struct {
	At           Pos
	Window       Window
	WhileUnknown bool
}

// Did holds when the customer has activities of Type that meet every Where
// condition, fall in Window (if any), were recorded while the customer was
// known or unknown (While), and number at least one, or as Count says.
type Did struct {
	At     Pos
	Type   string
	TypeAt Pos
	Where  []*Compare // all must hold; Field names an activity property
	Count  *Count
	Window *Window
	While  While
}

// Compare compares a field (a unified field or measure, or an activity
// property inside "where") with a value.
type Compare struct {
	At     Pos // position of the field name
	Field  string
	Op     Op
	OpAt   Pos
	Values []Value // one value; several for in / not in; none for is null
}

// Op is a comparison operator.
type Op int

// Comparison operators.
const (
	OpEq Op = iota
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpContains
	OpStartsWith
	OpEndsWith
	OpIn
	OpNotIn
	OpIsNull
	OpIsNotNull
)

var opText = [...]string{
	OpEq: "=", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
	OpContains: "contains", OpStartsWith: "starts with", OpEndsWith: "ends with",
	OpIn: "in", OpNotIn: "not in", OpIsNull: "is null", OpIsNotNull: "is not null",
}

func (o Op) String() string { return opText[o] }

// While restricts activities to those recorded while the customer was known
// or unknown.
type While int

// While values.
const (
	WhileAny While = iota
	WhileKnown
	WhileUnknown
)

// CountOp is how a Did counts activities.
type CountOp int

// Count operators.
const (
	AtLeast CountOp = iota
	AtMost
	Exactly
)

var countText = [...]string{AtLeast: "at least", AtMost: "at most", Exactly: "exactly"}

// Count is "at least N times", "at most N times" or "exactly N times".
type Count struct {
	At Pos
	Op CountOp
	N  int64
}

// WindowKind says which form a Window has.
type WindowKind int

// Window forms.
const (
	InLast  WindowKind = iota // in the last Last
	Before                    // before From
	After                     // after From
	Between                   // between From and To
)

// Window is a span of time: "in the last 30 days", "before 2024-01-01",
// "after 6 months ago", "between 2024-01-01 and 2024-03-31".
type Window struct {
	At   Pos
	Kind WindowKind
	Last Duration // InLast
	From Value    // Before, After, Between: a Date or an Ago value
	To   Value    // Between
}

// Unit is a unit of a Duration.
type Unit int

// Duration units.
const (
	Hours Unit = iota
	Days
	Weeks
	Months
	Years
)

var unitText = [...]string{Hours: "hour", Days: "day", Weeks: "week", Months: "month", Years: "year"}

// Duration is a whole number of calendar units: 30 days, 6 months.
type Duration struct {
	N    int64
	Unit Unit
}

func (d Duration) String() string {
	s := strconv.FormatInt(d.N, 10) + " " + unitText[d.Unit]
	if d.N != 1 {
		s += "s"
	}
	return s
}

// Before returns the instant d before now, in calendar terms (6 months
// before 31 August is 2 March, as time.AddDate counts).
func (d Duration) Before(now time.Time) time.Time {
	n := int(d.N)
	switch d.Unit {
	case Hours:
		return now.Add(-time.Duration(d.N) * time.Hour)
	case Days:
		return now.AddDate(0, 0, -n)
	case Weeks:
		return now.AddDate(0, 0, -7*n)
	case Months:
		return now.AddDate(0, -n, 0)
	default:
		return now.AddDate(-n, 0, 0)
	}
}

// ValueKind says which kind of literal a Value is.
type ValueKind int

// Value kinds.
const (
	StringValue ValueKind = iota
	IntValue
	FloatValue
	BoolValue
	DateValue // a calendar day, 2024-01-31
	AgoValue  // an instant relative to the run time, 6 months ago
)

// Value is a literal of a rule. It only ever reaches SQL as a parameter.
type Value struct {
	At    Pos
	Kind  ValueKind
	Str   string
	Int   int64
	Float float64
	Bool  bool
	Date  time.Time // midnight UTC
	Ago   Duration
}

func (v Value) String() string {
	switch v.Kind {
	case StringValue:
		return quote(v.Str)
	case IntValue:
		return strconv.FormatInt(v.Int, 10)
	case FloatValue:
		s := strconv.FormatFloat(v.Float, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0" // keep it a float when reparsed
		}
		return s
	case BoolValue:
		return strconv.FormatBool(v.Bool)
	case DateValue:
		return v.Date.Format(time.DateOnly)
	default:
		return v.Ago.String() + " ago"
	}
}

// quote renders s as a rule string literal: double quotes, with \" and \\
// the only escapes.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (e *Or) Position() Pos        { return e.At }
func (e *And) Position() Pos       { return e.At }
func (e *Not) Position() Pos       { return e.At }
func (e *Known) Position() Pos     { return e.At }
func (e *Has) Position() Pos       { return e.At }
func (e *InSegment) Position() Pos { return e.At }
func (e *FirstSeen) Position() Pos { return e.At }
func (e *Did) Position() Pos       { return e.At }
func (e *Compare) Position() Pos   { return e.At }

func (*Or) isExpr()        {}
func (*And) isExpr()       {}
func (*Not) isExpr()       {}
func (*Known) isExpr()     {}
func (*Has) isExpr()       {}
func (*InSegment) isExpr() {}
func (*FirstSeen) isExpr() {}
func (*Did) isExpr()       {}
func (*Compare) isExpr()   {}

// precedence orders the binary forms for printing: or binds loosest.
func precedence(e Expr) int {
	switch e.(type) {
	case *Or:
		return 1
	case *And:
		return 2
	default:
		return 3
	}
}

// wrap parenthesises e when its precedence is at most max, so the printed
// rule parses back to the same tree.
func wrap(e Expr, max int) string {
	if precedence(e) <= max {
		return "(" + e.String() + ")"
	}
	return e.String()
}

// Both operators associate to the left, so a right operand of the same
// operator needs parentheses to keep its shape.
func (e *Or) String() string  { return wrap(e.Left, 0) + " or " + wrap(e.Right, 1) }
func (e *And) String() string { return wrap(e.Left, 1) + " and " + wrap(e.Right, 2) }

func (e *Not) String() string {
	switch x := e.X.(type) {
	case *Did:
		return "never " + x.String()
	case *Has:
		return "has no " + x.Type
	}
	return "not " + wrap(e.X, 2)
}

func (e *Known) String() string {
	if e.Known {
		return "known"
	}
	return "unknown"
}

func (e *Has) String() string       { return "has " + e.Type }
func (e *InSegment) String() string { return "in segment " + e.Name }

func (e *FirstSeen) String() string {
	s := "first seen " + e.Window.String()
	if e.WhileUnknown {
		s += " while unknown"
	}
	return s
}

func (e *Did) String() string {
	var b strings.Builder
	b.WriteString("did " + quote(e.Type))
	for i, c := range e.Where {
		if i == 0 {
			b.WriteString(" where ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(c.String())
	}
	if e.Count != nil {
		b.WriteString(" " + e.Count.String())
	}
	if e.Window != nil {
		b.WriteString(" " + e.Window.String())
	}
	switch e.While {
	case WhileKnown:
		b.WriteString(" while known")
	case WhileUnknown:
		b.WriteString(" while unknown")
	}
	return b.String()
}

func (c *Count) String() string {
	s := countText[c.Op] + " " + strconv.FormatInt(c.N, 10) + " time"
	if c.N != 1 {
		s += "s"
	}
	return s
}

func (w *Window) String() string {
	switch w.Kind {
	case InLast:
		return "in the last " + w.Last.String()
	case Before:
		return "before " + w.From.String()
	case After:
		return "after " + w.From.String()
	default:
		return "between " + w.From.String() + " and " + w.To.String()
	}
}

func (e *Compare) String() string {
	s := e.Field + " " + e.Op.String()
	switch e.Op {
	case OpIsNull, OpIsNotNull:
	case OpIn, OpNotIn:
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = v.String()
		}
		s += " (" + strings.Join(vals, ", ") + ")"
	default:
		s += " " + e.Values[0].String()
	}
	return s
}
