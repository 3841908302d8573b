package segment

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDepth bounds nesting of parentheses and "not", so a hostile rule
// cannot exhaust the stack.
const maxDepth = 100

// conditionWords start a condition; a field with one of these names cannot
// be used at the start of a condition.
var conditionWords = []string{"not", "never", "known", "unknown", "has", "did", "in", "first", "and", "or"}

// Parse parses a segment rule. A mistake is reported as a *SyntaxError
// whose Line and Col point at it.
func Parse(src string) (e Expr, err error) {
	if !utf8.ValidString(src) {
		line, col := 1, 1
		for i, r := range src {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(src[i:]); n == 1 {
					break
				}
			}
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return nil, &SyntaxError{Line: line, Col: col, Msg: "the rule is not valid UTF-8 text", Source: src}
	}
	p := &parser{lex: newLexer(src)}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*SyntaxError)
			if !ok {
				panic(r)
			}
			se.Source = src
			e, err = nil, se
		}
	}()
	e = p.parseOr()
	if t := p.peek(0); t.kind != tokEOF {
		if t.kind == tokRParen {
			p.fail(t.pos, `unbalanced ")": no "(" is open here`)
		}
		p.fail(t.pos, "expected and, or or the end of the rule, found %s", t.describe())
	}
	return e, nil
}

type parser struct {
	lex   *lexer
	ahead []token
	depth int
}

// fail stops parsing with an error at p; Parse recovers it.
func (p *parser) fail(at Pos, format string, args ...any) {
	panic(errorAt(at, format, args...))
}

func (p *parser) peek(i int) token {
	for len(p.ahead) <= i {
		t, err := p.lex.next()
		if err != nil {
			panic(err)
		}
		p.ahead = append(p.ahead, t)
	}
	return p.ahead[i]
}

func (p *parser) next() token {
	t := p.peek(0)
	p.ahead = p.ahead[1:]
	return t
}

// accept consumes the keyword kw if it is next.
func (p *parser) accept(kw string) bool {
	if p.peek(0).is(kw) {
		p.next()
		return true
	}
	return false
}

// expect consumes the keyword kw or fails, saying what it was needed for.
func (p *parser) expect(kw, context string) token {
	t := p.peek(0)
	if !t.is(kw) {
		p.fail(t.pos, "expected %s %s, found %s", kw, context, t.describe())
	}
	return p.next()
}

func (p *parser) parseOr() Expr {
	left := p.parseAnd()
	for p.peek(0).is("or") {
		at := p.next().pos
		left = &Or{At: at, Left: left, Right: p.parseAnd()}
	}
	return left
}

func (p *parser) parseAnd() Expr {
	left := p.parseUnary()
	for p.peek(0).is("and") {
		at := p.next().pos
		left = &And{At: at, Left: left, Right: p.parseUnary()}
	}
	return left
}

func (p *parser) parseUnary() Expr {
	t := p.peek(0)
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		p.fail(t.pos, "the rule is nested more than %d levels deep", maxDepth)
	}
	switch {
	case t.is("not"):
		p.next()
		return &Not{At: t.pos, X: p.parseUnary()}
	case t.kind == tokLParen:
		p.next()
		e := p.parseOr()
		if c := p.peek(0); c.kind != tokRParen {
			if c.kind == tokEOF {
				p.fail(t.pos, `unbalanced "(": add the closing ")"`)
			}
			p.fail(c.pos, `expected ")" to close the "(" at %d:%d, found %s`, t.pos.Line, t.pos.Col, c.describe())
		}
		p.next()
		return e
	}
	return p.parseAtom()
}

func (p *parser) parseAtom() Expr {
	t := p.peek(0)
	switch {
	case t.is("known"), t.is("unknown"):
		p.next()
		return &Known{At: t.pos, Known: t.is("known")}
	case t.is("has"):
		p.next()
		negate := p.accept("no")
		name := p.word(`an identifier type after "has" (has loyalty_id, has no email)`)
		var e Expr = &Has{At: t.pos, Type: name.text}
		if negate {
			e = &Not{At: t.pos, X: e}
		}
		return e
	case t.is("never"):
		p.next()
		if !p.peek(0).is("did") {
			p.fail(p.peek(0).pos, `expected did after "never" (never did "Checkout"), found %s`, p.peek(0).describe())
		}
		return &Not{At: t.pos, X: p.parseDid()}
	case t.is("did"):
		return p.parseDid()
	case t.is("in"):
		p.next()
		p.expect("segment", `after "in" (in segment loyal_customers)`)
		name := p.word("a segment name after \"in segment\"")
		return &InSegment{At: t.pos, Name: name.text}
	case t.is("first"):
		p.next()
		p.expect("seen", `after "first" (first seen before 6 months ago)`)
		w := p.parseWindow(`after "first seen"`)
		if w == nil {
			n := p.peek(0)
			p.fail(n.pos, `expected "in the last", before, after or between after "first seen", found %s`, n.describe())
		}
		e := &FirstSeen{At: t.pos, Window: *w}
		if p.accept("while") {
			p.expect("unknown", `after "first seen ... while"`)
			e.WhileUnknown = true
		}
		return e
	case t.kind == tokWord && !isConditionWord(t.text):
		if isOperatorStart(p.peek(1)) {
			p.next()
			return p.parseCompare(t)
		}
		hint := suggest(t.text, []string{"known", "unknown", "has", "did", "never", "in", "first", "not"})
		if n := p.peek(1); n.kind == tokString && hint == "" {
			hint = " (for an activity write did " + quote(n.text) + ")"
		}
		p.fail(t.pos, "unknown word %s: expected known, unknown, has, did, never did, in segment, first seen, not, \"(\" or a field compared with a value%s",
			t.text, hint)
	case t.kind == tokEOF:
		p.fail(t.pos, "expected a condition, found the end of the rule")
	}
	p.fail(t.pos, "expected a condition (known, did \"...\", a field compared with a value, ...), found %s", t.describe())
	return nil
}

func isConditionWord(w string) bool {
	for _, k := range conditionWords {
		if strings.EqualFold(w, k) {
			return true
		}
	}
	return false
}

func isOperatorStart(t token) bool {
	return t.kind == tokOp || t.is("contains") || t.is("starts") || t.is("ends") || t.is("in") || t.is("not") || t.is("is")
}

// word consumes a name (an identifier type, a segment, a property).
func (p *parser) word(what string) token {
	t := p.peek(0)
	if t.kind != tokWord {
		p.fail(t.pos, "expected %s, found %s", what, t.describe())
	}
	return p.next()
}

// parseDid parses: did STRING [where cond {, cond}] and, in any order, at
// most one each of a count, a window and "while known|unknown".
func (p *parser) parseDid() Expr {
	at := p.next().pos // did
	t := p.peek(0)
	if t.kind != tokString {
		hint := ""
		if t.kind == tokWord {
			hint = " (write did " + quote(t.text) + ")"
		}
		p.fail(t.pos, "expected a quoted activity type after did, found %s%s", t.describe(), hint)
	}
	p.next()
	d := &Did{At: at, Type: t.text, TypeAt: t.pos}
	seen := map[string]Pos{}
	once := func(part string, at Pos) {
		if prev, ok := seen[part]; ok {
			p.fail(at, "did has a second %s; the first is at %d:%d", part, prev.Line, prev.Col)
		}
		seen[part] = at
	}
	for {
		n := p.peek(0)
		switch {
		case n.is("where"):
			once("where", n.pos)
			p.next()
			for {
				field := p.word(`a property name in "where" (where store = "S1")`)
				if !isOperatorStart(p.peek(0)) {
					o := p.peek(0)
					p.fail(o.pos, "expected an operator after property %s, found %s", field.text, o.describe())
				}
				d.Where = append(d.Where, p.parseCompare(field))
				if p.peek(0).kind != tokComma {
					break
				}
				p.next()
			}
		case n.is("at"), n.is("exactly"):
			once("count", n.pos)
			d.Count = p.parseCount()
		case n.is("while"):
			once(`"while"`, n.pos)
			p.next()
			switch w := p.next(); {
			case w.is("known"):
				d.While = WhileKnown
			case w.is("unknown"):
				d.While = WhileUnknown
			default:
				p.fail(w.pos, `expected known or unknown after "while", found %s`, w.describe())
			}
		default:
			if n.is("in") || n.is("before") || n.is("after") || n.is("between") {
				once("time window", n.pos)
			}
			w := p.parseWindow("after did")
			if w == nil {
				return d
			}
			d.Window = w
		}
	}
}

func (p *parser) parseCount() *Count {
	t := p.next()
	c := &Count{At: t.pos, Op: Exactly}
	if t.is("at") {
		switch w := p.next(); {
		case w.is("least"):
			c.Op = AtLeast
		case w.is("most"):
			c.Op = AtMost
		default:
			p.fail(w.pos, `expected least or most after "at", found %s`, w.describe())
		}
	}
	n := p.peek(0)
	v, err := strconv.ParseInt(n.text, 10, 64)
	if n.kind != tokNumber || err != nil || v < 0 {
		p.fail(n.pos, "expected a whole number of times (at least 2 times), found %s", n.describe())
	}
	if c.Op == AtLeast && v == 0 {
		p.fail(n.pos, "at least 0 times is always true: use at least 1 time, or leave the count out")
	}
	p.next()
	c.N = v
	if u := p.peek(0); !u.is("times") && !u.is("time") {
		p.fail(u.pos, "expected times after the count %d, found %s", v, u.describe())
	}
	p.next()
	return c
}

// parseWindow parses a time window if one starts here, else returns nil.
func (p *parser) parseWindow(context string) *Window {
	t := p.peek(0)
	w := &Window{At: t.pos}
	switch {
	case t.is("in"):
		p.next()
		p.accept("the")
		p.expect("last", context+` (in the last 30 days)`)
		w.Kind = InLast
		d, _ := p.parseDuration(true)
		w.Last = d
	case t.is("before"), t.is("after"):
		p.next()
		w.Kind = Before
		if t.is("after") {
			w.Kind = After
		}
		w.From = p.parseTimePoint(t.text)
	case t.is("between"):
		p.next()
		w.Kind = Between
		w.From = p.parseTimePoint("between")
		p.expect("and", `between the two times of "between" (between 2024-01-01 and 2024-03-31)`)
		w.To = p.parseTimePoint(`"between ... and"`)
		if w.From.Kind == DateValue && w.To.Kind == DateValue && w.To.Date.Before(w.From.Date) {
			p.fail(w.To.At, "the window is empty: %s is before %s", w.To, w.From)
		}
	default:
		return nil
	}
	return w
}

// parseTimePoint parses a date or "N units ago".
func (p *parser) parseTimePoint(after string) Value {
	t := p.peek(0)
	if t.kind == tokDate {
		return p.parseValue()
	}
	if t.kind == tokNumber {
		d, at := p.parseDuration(false)
		p.expect("ago", "after the duration "+d.String())
		return Value{At: at, Kind: AgoValue, Ago: d}
	}
	p.fail(t.pos, "expected a date (2024-01-31) or a time ago (6 months ago) after %s, found %s", after, t.describe())
	return Value{}
}

// parseDuration parses "N unit". standalone says it follows "in the last".
func (p *parser) parseDuration(standalone bool) (Duration, Pos) {
	n := p.peek(0)
	v, err := strconv.ParseInt(n.text, 10, 64)
	if n.kind != tokNumber || err != nil || v < 1 || v > 100000 {
		what := "a duration"
		if standalone {
			what = `a duration after "in the last"`
		}
		p.fail(n.pos, "expected %s: a whole number from 1 to 100000 and a unit (30 days, 6 months), found %s", what, n.describe())
	}
	p.next()
	u := p.peek(0)
	unit, ok := units[strings.ToLower(u.text)]
	if u.kind != tokWord || !ok {
		p.fail(u.pos, "expected a unit after %d (hours, days, weeks, months or years), found %s", v, u.describe())
	}
	p.next()
	return Duration{N: v, Unit: unit}, n.pos
}

var units = map[string]Unit{
	"hour": Hours, "hours": Hours, "day": Days, "days": Days, "week": Weeks, "weeks": Weeks,
	"month": Months, "months": Months, "year": Years, "years": Years,
}

func isUnit(w string) bool {
	_, ok := units[strings.ToLower(w)]
	return ok
}

// parseCompare parses the operator and value(s) after field.
func (p *parser) parseCompare(field token) *Compare {
	c := &Compare{At: field.pos, Field: field.text, OpAt: p.peek(0).pos}
	t := p.next()
	switch {
	case t.kind == tokOp:
		c.Op = map[string]Op{"=": OpEq, "!=": OpNe, "<>": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe}[t.text]
	case t.is("contains"):
		c.Op = OpContains
	case t.is("starts"), t.is("ends"):
		p.expect("with", "after "+strings.ToLower(t.text))
		c.Op = OpStartsWith
		if t.is("ends") {
			c.Op = OpEndsWith
		}
	case t.is("in"):
		c.Op = OpIn
	case t.is("not"):
		p.expect("in", `after "not" in a comparison (city not in ("a", "b"))`)
		c.Op = OpNotIn
	case t.is("is"):
		c.Op = OpIsNull
		if p.accept("not") {
			c.Op = OpIsNotNull
		}
		p.expect("null", `after "is" (is null, is not null)`)
		return c
	}
	if c.Op == OpIn || c.Op == OpNotIn {
		open := p.peek(0)
		if open.kind != tokLParen {
			p.fail(open.pos, `expected "(" and a list of values after %s (in ("a", "b")), found %s`, c.Op, open.describe())
		}
		p.next()
		for {
			c.Values = append(c.Values, p.parseValue())
			sep := p.next()
			if sep.kind == tokRParen {
				return c
			}
			if sep.kind != tokComma {
				p.fail(sep.pos, `expected "," or ")" in the list of values, found %s`, sep.describe())
			}
		}
	}
	c.Values = []Value{p.parseValue()}
	return c
}

// parseValue parses a literal: a string, a number, true, false, a date or
// "N units ago".
func (p *parser) parseValue() Value {
	t := p.peek(0)
	v := Value{At: t.pos}
	switch {
	case t.kind == tokString:
		v.Kind, v.Str = StringValue, t.text
	case t.kind == tokDate:
		d, err := time.Parse(time.DateOnly, t.text)
		if err != nil {
			p.fail(t.pos, "%s is not a calendar date (expected YYYY-MM-DD)", t.text)
		}
		v.Kind, v.Date = DateValue, d
	case t.kind == tokNumber:
		if u := p.peek(1); u.kind == tokWord && isUnit(u.text) {
			d, at := p.parseDuration(false)
			p.expect("ago", "after the duration "+d.String()+" (6 months ago)")
			return Value{At: at, Kind: AgoValue, Ago: d}
		}
		if !strings.Contains(t.text, ".") {
			n, err := strconv.ParseInt(t.text, 10, 64)
			if err != nil {
				p.fail(t.pos, "the number %s is too large", t.text)
			}
			v.Kind, v.Int = IntValue, n
		} else {
			f, err := strconv.ParseFloat(t.text, 64)
			if err != nil {
				p.fail(t.pos, "the number %s is too large", t.text)
			}
			v.Kind, v.Float = FloatValue, f
		}
	case t.is("true"), t.is("false"):
		v.Kind, v.Bool = BoolValue, t.is("true")
	case t.is("null"):
		p.fail(t.pos, "compare with null using is null or is not null")
	default:
		hint := ""
		if t.kind == tokWord {
			hint = " (strings need double quotes: " + quote(t.text) + ")"
		}
		p.fail(t.pos, "expected a value (a quoted string, a number, true, false, a date or a time ago), found %s%s", t.describe(), hint)
	}
	p.next()
	return v
}
