package insights

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/segment"
)

// What a customer without matching activities gets: count, count_distinct
// and sum are 0; every other aggregate is NULL (there is no average, first
// value or day count of nothing), and so is a formula that divides by 0.
var zeroWhenEmpty = []string{"count", "count_distinct", "sum"}

// businessAggregates are the aggregates a business measure may use: its
// value column is a number.
var businessAggregates = []string{"count", "count_distinct", "sum", "avg", "min", "max"}

// activityColumns are the fixed activity columns a measure may aggregate.
var activityColumns = map[string]segment.FieldType{
	"activity_id": segment.Text, "source": segment.Text, "type": segment.Text, "title": segment.Text, "ts": segment.Time,
	"customer_id": segment.Text,
}

// fieldType maps an engine type to the segment language's.
func fieldType(t engine.Type) segment.FieldType {
	switch t {
	case engine.BigInt, engine.Double:
		return segment.Number
	case engine.Bool:
		return segment.Bool
	case engine.Timestamp, engine.Date:
		return segment.Time
	}
	return segment.Text
}

// Schema returns the names a segment rule of the project may use, with
// their types: unified fields and customer measures, identifier types,
// segments and activity properties.
func Schema(cfg *config.Config) *segment.Schema {
	s := &segment.Schema{
		Fields: map[string]segment.FieldType{}, IdentTypes: map[string]bool{},
		Segments: map[string]bool{}, ActivityProps: map[string]segment.FieldType{},
	}
	for _, f := range cfg.FieldOrder {
		s.Fields[f] = segment.Text
	}
	for _, p := range Properties(cfg) {
		s.ActivityProps[p.Name] = fieldType(p.Type)
	}
	for _, name := range cfg.MeasureOrder {
		if m := cfg.Measures[name]; m.Scope == "customer" {
			s.Fields[name] = measureType(m, s.ActivityProps)
		}
	}
	for _, t := range cfg.IdentOrder {
		s.IdentTypes[t] = true
	}
	for _, n := range cfg.SegmentOrder {
		s.Segments[n] = true
	}
	return s
}

func measureType(m *config.Measure, props map[string]segment.FieldType) segment.FieldType {
	switch m.Aggregate {
	case "min", "max", "first", "last", "argmax", "argmin":
		if t, ok := props[m.Of]; ok {
			return t
		}
		return activityColumns[m.Of]
	}
	return segment.Number
}

// measureSQL is a measure's compiled aggregate.
type measureSQL struct {
	name string
	expr string // aggregate over activities aliased a
}

// CompileMeasures checks every measure of the project against its schema and
// returns the customer measures' aggregate expressions (over activities
// aliased a) with their parameters, in declaration order. Formulas are
// returned separately, as expressions over the base measures' columns.
func CompileMeasures(cfg *config.Config, d engine.Dialect, now time.Time) (aggs []measureSQL, formulas []measureSQL, args []any, err error) {
	schema := Schema(cfg)
	p := &params{d: d}
	for _, name := range cfg.MeasureOrder {
		m := cfg.Measures[name]
		if m.Scope != "customer" {
			continue
		}
		if m.Formula != "" {
			continue
		}
		expr, err := compileAggregate(m, schema, floatProperties(cfg), nil, "a", p, now)
		if err != nil {
			return nil, nil, nil, err
		}
		aggs = append(aggs, measureSQL{name: name, expr: expr})
	}
	for _, name := range cfg.MeasureOrder {
		m := cfg.Measures[name]
		if m.Scope != "customer" || m.Formula == "" {
			continue
		}
		expr, err := compileFormula(cfg, name, func(ref string) (string, bool) {
			r := cfg.Measures[ref]
			if r == nil || r.Scope != "customer" {
				return "", false
			}
			return "b." + d.Quote(ref), true
		}, d, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		formulas = append(formulas, measureSQL{name: name, expr: expr})
	}
	return aggs, formulas, p.list, nil
}

func measureError(m *config.Measure, key string, err error) error {
	return knit.Errorf(knit.EINVALID, "measures.%s.%s: %s", m.Name, key, strings.ReplaceAll(err.Error(), "\n", "\n\t"))
}

// floatProperties lists the activity properties held as floating point.
func floatProperties(cfg *config.Config) map[string]bool {
	out := map[string]bool{}
	for _, p := range Properties(cfg) {
		out[p.Name] = p.Type == engine.Double
	}
	return out
}

// exactSumDigits is the number of decimals a floating-point property is
// rounded to before it is summed or averaged: the sum is then exact (a
// decimal of 38 digits), so it does not depend on the order in which the
// engine's threads add the values up. Summed as doubles, a customer whose
// revenue is 500.00 could come out 499.99999999999994 in one run and
// 500.00000000000006 in the next, over the same activities, and enter and
// leave "revenue >= 500" from run to run (seen at 50M activities).
const exactSumDigits = 9

// codedAggregates are the aggregates that may read a text value as its
// position in a dictionary of its few distinct values (see
// compileAggregate).
var codedAggregates = []string{"count_distinct", "first", "last", "argmax", "argmin"}

// compileAggregate compiles one measure's aggregate with its filter.
// floats lists the properties that are floating point. dict (DuckDB only,
// may be nil) holds, for text columns of few distinct values, those values
// sorted: such a column's first, last, argmax or argmin is then the
// position of its value in that list (list_position; textCodes.read
// reads it back; first and last may pack it with the time, see
// textCodes), and its count_distinct the number of bits set in a mask of
// those positions. DuckDB keeps an integer in an aggregate's state far
// more cheaply than a string, and a 64-bit mask instead of a hash set per
// customer: the benchmark's 20 customer measures over 50M activities took
// 24.1 CPU seconds instead of 39.5.
func compileAggregate(m *config.Measure, s *segment.Schema, floats map[string]bool, dict *textCodes, alias string, p *params, now time.Time) (string, error) {
	col := func(name string) (string, segment.FieldType, error) {
		if t, ok := s.ActivityProps[name]; ok {
			return alias + "." + p.d.Quote(name), t, nil
		}
		switch name {
		case "customer_id":
			return alias + "." + p.d.Quote("customer_key"), segment.Text, nil
		case "activity_id":
			return "(" + ActivityID(p.d, alias) + ")", segment.Text, nil
		case "title":
			return ActivityTitle(p.d, alias), segment.Text, nil
		}
		if t, ok := activityColumns[name]; ok {
			return alias + "." + p.d.Quote(name), t, nil
		}
		names := append(sortedKeys(s.ActivityProps), sortedKeys(activityColumns)...)
		return "", 0, fmt.Errorf("%q is not an activity property; the project has: %s", name, strings.Join(names, ", "))
	}
	var of, by string
	var ofType segment.FieldType
	var err error
	if (m.Of == "customer_id" && m.Aggregate != "count_distinct") || m.By == "customer_id" {
		// Activities hold the customer's key, not its ID: counting
		// distinct keys counts distinct customers; nothing else of an ID
		// is a measure.
		key := "of"
		if m.By == "customer_id" {
			key = "by"
		}
		return "", measureError(m, key, fmt.Errorf("customer_id can only be counted (aggregate: count_distinct)"))
	}
	if m.Of != "" {
		if of, ofType, err = col(m.Of); err != nil {
			return "", measureError(m, "of", err)
		}
		numeric := m.Aggregate == "sum" || m.Aggregate == "avg"
		if numeric && ofType != segment.Number {
			return "", measureError(m, "of", fmt.Errorf("%s needs a number, but %s is %s (declare the column as int or float under the source's columns)", m.Aggregate, m.Of, ofType))
		}
	}
	if m.By != "" {
		if by, _, err = col(m.By); err != nil {
			return "", measureError(m, "by", err)
		}
	}
	// The filter: activity type, then where and window. Parameters are
	// added in the order they appear in the text.
	var conds []string
	extra := ""
	switch m.Aggregate {
	case "first", "last":
		extra = " AND " + of + " IS NOT NULL"
	case "argmax", "argmin":
		extra = " AND " + by + " IS NOT NULL"
	}
	days := strings.HasPrefix(m.Aggregate, "days_since")
	var nowParam, code string
	if days {
		// now comes first in the text: floor((epoch(now) - epoch(min(ts)))…
		nowParam = p.add(now.UTC())
	}
	packed := false
	if dict.coded(m) {
		// The dictionary (and the time base) come first in the text too,
		// inside the aggregate.
		if dict.packsBy(m) {
			code = dict.packedBy(m, by, of, p.add(dict.values[m.Of]))
		} else if packed = dict.packs(m); packed {
			base := p.add(dict.base)
			code = fmt.Sprintf("(epoch_us(%s) - %s) * %d + list_position(%s, %s) - 1", alias+"."+p.d.Quote("ts"), base, smallDictionary, p.add(dict.values[m.Of]), of)
		} else {
			code = "list_position(" + p.add(dict.values[m.Of]) + ", " + of + ")"
		}
	}
	if m.Activity != "" {
		conds = append(conds, alias+"."+p.d.Quote("type")+" = "+p.add(m.Activity))
	}
	if m.Where != "" || m.Window != "" {
		did, err := config.ParseActivityFilter(m.Where, m.Window)
		if err != nil {
			return "", fmt.Errorf("measures.%s.%w", m.Name, err)
		}
		cond, list, err := segment.CompileActivityFilter(did, s, alias, p.d, now, p.list)
		if err != nil {
			return "", measureError(m, "where", config.FilterError(m.Where, m.Window, err))
		}
		p.list = list
		conds = append(conds, cond)
	}
	filter := ""
	if len(conds) > 0 || extra != "" {
		c := strings.Join(conds, " AND ")
		if c == "" {
			c = "TRUE"
		}
		filter = " FILTER (WHERE " + c + extra + ")"
	}
	ts := alias + "." + p.d.Quote("ts")
	pg := p.d.Name() == "postgres"
	pick := func(val, order string, desc bool) string {
		if pg {
			dir := ""
			if desc {
				dir = " DESC"
			}
			return "(array_agg(" + val + " ORDER BY " + order + dir + ")" + filter + ")[1]"
		}
		fn := "arg_min"
		if desc {
			fn = "arg_max"
		}
		return fn + "(" + val + ", " + order + ")" + filter
	}
	val := of
	if code != "" {
		val = code
	}
	switch m.Aggregate {
	case "count":
		return "count(*)" + filter, nil
	case "count_distinct":
		if code != "" {
			return "CAST(bit_count(bit_or(CAST(1 AS UBIGINT) << (" + code + " - 1))" + filter + ") AS BIGINT)", nil
		}
		return "count(DISTINCT " + of + ")" + filter, nil
	case "sum", "avg":
		if floats[m.Of] {
			dec := fmt.Sprintf("DECIMAL(38, %d)", exactSumDigits)
			return "CAST(" + m.Aggregate + "(CAST(" + of + " AS " + dec + "))" + filter + " AS " + p.d.TypeName(engine.Double) + ")", nil
		}
		return m.Aggregate + "(" + of + ")" + filter, nil
	case "min", "max":
		return m.Aggregate + "(" + of + ")" + filter, nil
	case "first":
		if packed {
			return "min(" + code + ")" + filter, nil
		}
		return pick(val, ts, false), nil
	case "last":
		if packed {
			return "max(" + code + ")" + filter, nil
		}
		return pick(val, ts, true), nil
	case "argmax":
		if dict.packsBy(m) {
			return "max(" + code + ")" + filter, nil
		}
		return pick(val, by, true), nil
	case "argmin":
		if dict.packsBy(m) {
			return "min(" + code + ")" + filter, nil
		}
		return pick(val, by, false), nil
	case "days_since_first", "days_since_last":
		fn := "min"
		if m.Aggregate == "days_since_last" {
			fn = "max"
		}
		// Whole days of 24 hours between the activity and the run time.
		return "CAST(floor((" + epoch(p.d, "CAST("+nowParam+" AS "+p.d.TypeName(engine.Timestamp)+")") + " - " +
			epoch(p.d, fn+"("+ts+")"+filter) + ") / 86400) AS " + p.d.TypeName(engine.BigInt) + ")", nil
	}
	return "", measureError(m, "aggregate", fmt.Errorf("unknown aggregate %q", m.Aggregate))
}

// textCodes are the dictionaries of compileAggregate: the sorted values
// of the text columns of at most smallDictionary distinct values.
type textCodes struct {
	values map[string][]string
	// packed says the activities' times are close enough to base (the
	// earliest, in epoch microseconds: within 4,500 years of it) for
	// first and last of a coded column to pack time and position into
	// one BIGINT, (epoch_us(ts) - base) * smallDictionary + position - 1,
	// whose min or max orders by time, then by value: activities at the
	// same time give first their smallest value and last their largest,
	// the same on every run, and min and max of an integer cost less than
	// arg_min and arg_max.
	packed bool
	base   int64
	// byKey says, per customer measure name, how an argmax or argmin of
	// a coded column turns its by into an exact integer key ("float":
	// rounded to exactSumDigits decimals, as sums are; "time": the
	// activity time's microseconds after base, when packed allows), so
	// that max(key * smallDictionary + position) picks
	// the largest by and, among activities with the same by, the smallest
	// value, on every run (argmin: min(key * smallDictionary + position)).
	// arg_max and arg_min keep whichever tied row a thread met first.
	byKey map[string]string
}

// coded reports whether m's aggregate is compiled over positions in the
// dictionary of its column (see compileAggregate).
func (c *textCodes) coded(m *config.Measure) bool {
	return c != nil && c.values[m.Of] != nil && slices.Contains(codedAggregates, m.Aggregate)
}

// packs reports whether m (coded) packs time and position.
func (c *textCodes) packs(m *config.Measure) bool {
	return c.coded(m) && c.packed && (m.Aggregate == "first" || m.Aggregate == "last")
}

// packsBy reports whether m (coded, argmax or argmin) packs its by's key
// and position (see byKey).
func (c *textCodes) packsBy(m *config.Measure) bool {
	return c.coded(m) && c.byKey[m.Name] != ""
}

// packedBy is the SQL of m's packed by key and position (packsBy), with
// its dictionary as the parameter dict: for argmax the position counts
// down, so that the maximum takes the smallest value among equal keys.
func (c *textCodes) packedBy(m *config.Measure, by, of, dict string) string {
	key := fmt.Sprintf("(epoch_us(%s) - %d)", by, c.base)
	if c.byKey[m.Name] == "float" {
		key = fmt.Sprintf("CAST(%s * 1%s AS BIGINT)", by, strings.Repeat("0", exactSumDigits))
	}
	pos := fmt.Sprintf("list_position(%s, %s) - 1", dict, of)
	if m.Aggregate == "argmax" {
		pos = fmt.Sprintf("%d - list_position(%s, %s)", smallDictionary, dict, of)
	}
	return fmt.Sprintf("%s * %d + %s", key, smallDictionary, pos)
}

// read is the SQL of a coded customer measure's value from its aggregate
// column col, with the dictionary as a parameter of p.
func (c *textCodes) read(m *config.Measure, col string, p *params) string {
	pos := col
	switch {
	case c.packs(m):
		pos = fmt.Sprintf("%s %% %d + 1", col, smallDictionary)
	case c.packsBy(m):
		// The key may be negative: the remainder's sign follows it.
		rem := fmt.Sprintf("((%s %% %d) + %d) %% %d", col, smallDictionary, smallDictionary, smallDictionary)
		pos = "CAST(" + rem + " + 1 AS BIGINT)"
		if m.Aggregate == "argmax" {
			pos = fmt.Sprintf("CAST(%d - %s AS BIGINT)", smallDictionary, rem)
		}
	}
	return "(" + p.add(c.values[m.Of]) + ")[" + pos + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// compileFormula compiles arithmetic over other measures: names, numbers,
// + - * / and parentheses. A division by zero is NULL. A formula may use
// other formulas; they are expanded in place, and a cycle is an error.
// resolve returns the SQL of a base measure's value.
func compileFormula(cfg *config.Config, name string, resolve func(string) (string, bool), d engine.Dialect, path []string) (string, error) {
	m := cfg.Measures[name]
	if slices.Contains(path, name) {
		return "", knit.Errorf(knit.EINVALID, "measures.%s.formula: measures refer to each other in a cycle: %s", name, strings.Join(append(path, name), " → "))
	}
	path = append(path, name)
	toks, err := formulaTokens(m.Formula)
	if err != nil {
		return "", measureError(m, "formula", err)
	}
	fp := &formulaParser{toks: toks, d: d, operand: func(tok string) (string, error) {
		if r := cfg.Measures[tok]; r != nil && r.Formula != "" {
			inner, err := compileFormula(cfg, tok, resolve, d, path)
			if err != nil {
				return "", err
			}
			return "(" + inner + ")", nil
		}
		sql, ok := resolve(tok)
		if !ok {
			return "", measureError(m, "formula", fmt.Errorf("%q is not a measure of the same scope; the measures are: %s", tok, strings.Join(cfg.MeasureOrder, ", ")))
		}
		return sql, nil
	}}
	expr, err := fp.expr()
	if err == nil && fp.pos < len(fp.toks) {
		err = fmt.Errorf("unexpected %q at position %d", fp.toks[fp.pos].text, fp.toks[fp.pos].at)
	}
	if err != nil {
		var kerr *knit.Error
		if asKnit(err, &kerr) {
			return "", err
		}
		return "", measureError(m, "formula", err)
	}
	return expr, nil
}

func asKnit(err error, out **knit.Error) bool {
	k, ok := err.(*knit.Error)
	if ok {
		*out = k
	}
	return ok
}

type formulaToken struct {
	text string
	at   int // 1-based column
	num  bool
}

func formulaTokens(src string) ([]formulaToken, error) {
	var toks []formulaToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte("+-*/()", c) >= 0:
			toks = append(toks, formulaToken{text: string(c), at: i + 1})
			i++
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			if _, err := strconv.ParseFloat(src[i:j], 64); err != nil {
				return nil, fmt.Errorf("%q at position %d is not a number", src[i:j], i+1)
			}
			toks = append(toks, formulaToken{text: src[i:j], at: i + 1, num: true})
			i = j
		case c >= 'a' && c <= 'z' || c == '_':
			j := i
			for j < len(src) && (src[j] >= 'a' && src[j] <= 'z' || src[j] >= '0' && src[j] <= '9' || src[j] == '_') {
				j++
			}
			toks = append(toks, formulaToken{text: src[i:j], at: i + 1})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at position %d; a formula uses measure names, numbers, + - * / and parentheses", string(c), i+1)
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty formula")
	}
	return toks, nil
}

// formulaParser is a recursive-descent parser producing SQL directly.
type formulaParser struct {
	toks    []formulaToken
	pos     int
	d       engine.Dialect
	operand func(name string) (string, error)
}

func (p *formulaParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

func (p *formulaParser) expr() (string, error) {
	left, err := p.term()
	for err == nil && (p.peek() == "+" || p.peek() == "-") {
		op := p.toks[p.pos].text
		p.pos++
		var right string
		right, err = p.term()
		left = "(" + left + " " + op + " " + right + ")"
	}
	return left, err
}

func (p *formulaParser) term() (string, error) {
	left, err := p.factor()
	for err == nil && (p.peek() == "*" || p.peek() == "/") {
		op := p.toks[p.pos].text
		p.pos++
		var right string
		right, err = p.factor()
		dbl := p.d.TypeName(engine.Double)
		if op == "/" {
			left = "(CAST(" + left + " AS " + dbl + ") / NULLIF(CAST(" + right + " AS " + dbl + "), 0))"
		} else {
			left = "(" + left + " * " + right + ")"
		}
	}
	return left, err
}

func (p *formulaParser) factor() (string, error) {
	if p.pos >= len(p.toks) {
		return "", fmt.Errorf("the formula ends where a measure or number is expected")
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t.text == "(":
		e, err := p.expr()
		if err != nil {
			return "", err
		}
		if p.peek() != ")" {
			return "", fmt.Errorf("missing ) for the ( at position %d", t.at)
		}
		p.pos++
		return "(" + e + ")", nil
	case t.text == "-":
		f, err := p.factor()
		return "(-" + f + ")", err
	case t.num:
		// A literal number of the formula, checked by ParseFloat: digits
		// and one dot only, so it is safe as SQL text.
		return t.text, nil
	case strings.IndexByte("+*/)", t.text[0]) >= 0:
		return "", fmt.Errorf("unexpected %q at position %d; expected a measure or number", t.text, t.at)
	}
	return p.operand(t.text)
}

// MeasureStats counts what the measures stage wrote.
type MeasureStats struct {
	Customer int `json:"customer_measures"`
	Business int `json:"business_measures"`
	// BusinessRows is the number of rows of business_measures.
	BusinessRows int64 `json:"business_rows"`
}

// activityGroups is the staged table of the one grouped pass over the
// activities (customer_key and one column per distinct aggregate) that
// feeds the customer measures and the segments' did counts; the segments
// stage drops it.
const activityGroups = "activity_groups"

// groupedPass is the grouped scan of the activities by customer: every
// customer measure's aggregate and the count of every did condition of
// the project's segments, each distinct aggregate once (a count measure
// and a did with the same filter share a column), so the segments need
// not scan the activities again.
type groupedPass struct {
	aggs    []string          // aggregate AS column, in column order
	args    []any             // their parameters, in text order
	measure map[string]string // customer measure → column
	did     map[string]string // segment.DidKey → column
	now     time.Time         // the run time the windows are relative to
}

// compileGroupedPass compiles the grouped pass of a project's customer
// measures and segment dids at run time now; dict as for compileAggregate.
func compileGroupedPass(cfg *config.Config, d engine.Dialect, dict *textCodes, now time.Time) (*groupedPass, error) {
	schema := Schema(cfg)
	floats := floatProperties(cfg)
	g := &groupedPass{measure: map[string]string{}, did: map[string]string{}, now: now}
	p := &params{d: d}
	seen := map[string]string{}
	// add compiles an aggregate twice: alone, for a key that does not
	// depend on its place in the statement (PostgreSQL numbers its
	// placeholders), then in place when it is new.
	add := func(compile func(p *params) (string, error)) (string, error) {
		alone := &params{d: d}
		text, err := compile(alone)
		if err != nil {
			return "", err
		}
		key := text + fmt.Sprintf("\x00%#v", alone.list)
		if col, ok := seen[key]; ok {
			return col, nil
		}
		expr, err := compile(p)
		if err != nil {
			return "", err
		}
		col := fmt.Sprintf("agg#%d", len(g.aggs)+1)
		seen[key] = col
		g.aggs = append(g.aggs, expr+" AS "+d.Quote(col))
		return col, nil
	}
	for _, name := range cfg.MeasureOrder {
		m := cfg.Measures[name]
		if m.Scope != "customer" || m.Formula != "" {
			continue
		}
		col, err := add(func(p *params) (string, error) { return compileAggregate(m, schema, floats, dict, "a", p, now) })
		if err != nil {
			return nil, err
		}
		g.measure[name] = col
	}
	for _, name := range cfg.SegmentOrder {
		s := cfg.Segments[name]
		for _, did := range segment.Dids(s.Parsed) {
			key := segment.DidKey(did)
			if _, ok := g.did[key]; ok {
				continue
			}
			col, err := add(func(p *params) (string, error) {
				cond, list, err := segment.CompileDidCondition(did, schema, "a", d, now, p.list)
				p.list = list
				return "count(*) FILTER (WHERE " + cond + ")", err
			})
			if err != nil {
				return nil, segmentError(name, s.Rule, err)
			}
			g.did[key] = col
		}
	}
	g.args = p.list
	return g, nil
}

// smallDictionary is the most distinct values a text column may have to
// be aggregated as positions in their list (compileAggregate): a count of
// distinct positions is a 64-bit mask.
const smallDictionary = 64

// dictionaryProbe is the number of activities whose distinct values of a
// column are counted before all of them are: a column of millions of
// values (an ID) shows more than smallDictionary among the first rows and
// costs no scan of the activities.
const dictionaryProbe = 100_000

// smallDictionaries returns, on DuckDB, the sorted distinct values of
// each text column that a customer measure's first, last, argmax, argmin
// or count_distinct reads, for the columns with at most smallDictionary
// of them (dictionaryProbe first), and the argmax and argmin measures of
// those columns whose by packs into a key (chooseByKeys, then one scan
// for the ranges the keys need).
func (env *Env) smallDictionaries(ctx context.Context) (*textCodes, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	dict := &textCodes{values: map[string][]string{}, byKey: map[string]string{}}
	if d.Name() != "duckdb" {
		return dict, nil
	}
	schema := Schema(cfg)
	firstLast := false
	for _, name := range cfg.MeasureOrder {
		m := cfg.Measures[name]
		col := m.Of
		text := col == "type" || col == "source"
		if t, ok := schema.ActivityProps[col]; ok {
			text = t == segment.Text
		}
		if m.Scope != "customer" || m.Formula != "" || !slices.Contains(codedAggregates, m.Aggregate) || !text {
			continue
		}
		firstLast = firstLast || m.Aggregate == "first" || m.Aggregate == "last"
		if dict.values[col] != nil {
			continue
		}
		q := "a." + d.Quote(col)
		n, err := env.scanInt(ctx, fmt.Sprintf("SELECT count(DISTINCT %s) FROM (SELECT %s FROM %s a LIMIT %d) a",
			q, q, env.in(ActivitiesTable), dictionaryProbe))
		if err != nil {
			return nil, err
		}
		if n > smallDictionary {
			continue
		}
		// One value more than a dictionary holds says it is too many
		// (a column whose first rows repeat a few values but whose
		// later ones do not), without reading millions of values back.
		rows, err := env.Eng.Query(ctx, fmt.Sprintf("SELECT DISTINCT %s FROM %s a WHERE %s IS NOT NULL ORDER BY 1 LIMIT %d",
			q, env.in(ActivitiesTable), q, smallDictionary+1))
		if err != nil {
			return nil, err
		}
		var values []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, err
			}
			values = append(values, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(values) > 0 && len(values) <= smallDictionary {
			dict.values[col] = values
		}
	}
	floatBys := dict.chooseByKeys(cfg)
	if (!firstLast && len(dict.byKey) == 0) || len(dict.values) == 0 {
		return dict, nil
	}
	// One scan for every range a packed key needs: the activities' time
	// span, and whether each float by's values fit (NaN and infinities
	// do not).
	sel := "epoch_us(min(ts)), epoch_us(max(ts))"
	for _, col := range floatBys {
		sel += fmt.Sprintf(", coalesce(max(abs(a.%s)) <= %g, TRUE)", d.Quote(col), maxFloatBy)
	}
	rows, err := env.Eng.Query(ctx, "SELECT "+sel+" FROM "+env.in(ActivitiesTable)+" a")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lo, hi sql.NullInt64
	fits := make([]bool, len(floatBys))
	dest := []any{&lo, &hi}
	for i := range fits {
		dest = append(dest, &fits[i])
	}
	if rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
	}
	// (hi - lo) * 64 + 63 must not overflow: a span of 4,500 years.
	dict.packed = !lo.Valid || (hi.Int64-lo.Int64 >= 0 && hi.Int64-lo.Int64 < math.MaxInt64/smallDictionary-1)
	dict.base = lo.Int64
	for name, k := range dict.byKey {
		m := cfg.Measures[name]
		if (k == "time" && !dict.packed) || (k == "float" && !fits[slices.Index(floatBys, m.By)]) {
			delete(dict.byKey, name)
		}
	}
	return dict, rows.Err()
}

// maxFloatBy bounds a float by whose argmax or argmin packs a key: by ×
// 10^9 × 64 then fits a BIGINT, whose aggregates cost less than a
// HUGEINT's.
const maxFloatBy = 1e8

// chooseByKeys fills byKey for the coded argmax and argmin measures whose
// by is the activity time or a float property, and returns those float
// properties: smallDictionaries drops the keys whose range does not fit.
// Other measures keep arg_max and arg_min.
func (c *textCodes) chooseByKeys(cfg *config.Config) (floatBys []string) {
	floats := floatProperties(cfg)
	schema := Schema(cfg)
	for _, name := range cfg.MeasureOrder {
		m := cfg.Measures[name]
		if m.Scope != "customer" || (m.Aggregate != "argmax" && m.Aggregate != "argmin") || !c.coded(m) {
			continue
		}
		if _, prop := schema.ActivityProps[m.By]; prop && floats[m.By] {
			c.byKey[name] = "float"
			if !slices.Contains(floatBys, m.By) {
				floatBys = append(floatBys, m.By)
			}
		} else if m.By == "ts" {
			c.byKey[name] = "time"
		}
	}
	return floatBys
}

// BuildMeasures writes customer_measures (one row per profile, one column
// per customer measure) and business_measures (measure, dimensions,
// value). The grouped pass it runs for the customer measures also counts
// the segments' did conditions (activity_groups, read by BuildSegments
// in the same run).
func BuildMeasures(ctx context.Context, env *Env, now time.Time) (*MeasureStats, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	aggs, formulas, _, err := CompileMeasures(cfg, d, now)
	if err != nil {
		return nil, err
	}
	dict, err := env.smallDictionaries(ctx)
	if err != nil {
		return nil, err
	}
	g, err := compileGroupedPass(cfg, d, dict, now)
	if err != nil {
		return nil, err
	}
	if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(activityGroups)); err != nil {
		return nil, err
	}
	join := ""
	if len(g.aggs) > 0 {
		// Activities carry the customer's integer key (known_since):
		// grouping 50M rows by it is cheaper than by the customer ID.
		err := env.exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT a.customer_key, %s FROM %s a GROUP BY a.customer_key",
			env.out(activityGroups), strings.Join(g.aggs, ", "), env.in(ActivitiesTable)), g.args...)
		if err != nil {
			return nil, fmt.Errorf("customer measures: %w", err)
		}
		env.Tables.groups = g
		join = fmt.Sprintf(" LEFT JOIN %s ks ON ks.customer_id = p.customer_id LEFT JOIN %s a ON a.customer_key = ks.customer_key",
			env.in(KnownSinceTable), env.out(activityGroups))
	}
	var base, outer []string
	p := &params{d: d}
	for _, a := range aggs {
		m := cfg.Measures[a.name]
		v := "a." + d.Quote(g.measure[a.name])
		if slices.Contains(zeroWhenEmpty, m.Aggregate) {
			v = "COALESCE(" + v + ", 0)"
		} else if dict.coded(m) {
			v = dict.read(m, v, p)
		}
		base = append(base, v+" AS "+d.Quote(a.name))
		outer = append(outer, "b."+d.Quote(a.name))
	}
	for _, f := range formulas {
		outer = append(outer, f.expr+" AS "+d.Quote(f.name))
	}
	sel := func(list []string) string {
		if len(list) == 0 {
			return ""
		}
		return ", " + strings.Join(list, ", ")
	}
	if err := env.Eng.Exec(ctx, "DROP TABLE IF EXISTS "+env.out(CustomerMeasuresTable)); err != nil {
		return nil, err
	}
	stmt := fmt.Sprintf(`CREATE TABLE %s AS SELECT b.customer_id%s FROM (
  SELECT p.customer_id%s FROM %s p%s
) b`, env.out(CustomerMeasuresTable), sel(outer), sel(base), env.in("profiles"), join)
	if err := env.exec(ctx, stmt, p.list...); err != nil {
		return nil, fmt.Errorf("customer measures: %w", err)
	}
	st := &MeasureStats{Customer: len(aggs) + len(formulas)}
	n, err := env.buildBusinessMeasures(ctx, now)
	st.Business = n
	if err != nil {
		return nil, err
	}
	st.BusinessRows, err = env.scanInt(ctx, "SELECT count(*) FROM "+env.out(BusinessMeasuresTable))
	return st, err
}

// buildBusinessMeasures writes one row per business measure and combination
// of its dimensions. dimensions reads "store=S1; month=2022-07" (empty
// without dimensions).
func (env *Env) buildBusinessMeasures(ctx context.Context, now time.Time) (int, error) {
	cfg := &env.Proj.Config
	d := env.Eng.Dialect()
	table := engine.StagedName(BusinessMeasuresTable)
	if err := env.Eng.CreateTable(ctx, table, []engine.Column{
		{Name: "measure", Type: engine.Text}, {Name: "dimensions", Type: engine.Text}, {Name: "value", Type: engine.Double},
	}); err != nil {
		return 0, err
	}
	schema := Schema(cfg)
	text := d.TypeName(engine.Text)
	n := 0
	for _, name := range cfg.MeasureOrder {
		m := cfg.Measures[name]
		if m.Scope != "business" || m.Formula != "" {
			continue
		}
		n++
		if !slices.Contains(businessAggregates, m.Aggregate) {
			return n, measureError(m, "aggregate", fmt.Errorf("a business measure is a number: use one of %s", strings.Join(businessAggregates, ", ")))
		}
		p := env.params()
		nameParam := p.add(name)
		var dims, groups []string
		for _, dim := range m.Dimensions {
			var expr string
			switch {
			case slices.Contains([]string{"day", "month", "year"}, dim):
				// Layouts are constants of this code, so they are SQL text;
				// parameters would be needed again in GROUP BY.
				layout := map[string][2]string{"day": {"%Y-%m-%d", "YYYY-MM-DD"}, "month": {"%Y-%m", "YYYY-MM"}, "year": {"%Y", "YYYY"}}[dim]
				if d.Name() == "postgres" {
					expr = "to_char(a.ts, '" + layout[1] + "')"
				} else {
					expr = "strftime(a.ts, '" + layout[0] + "')"
				}
			case hasKey(schema.ActivityProps, dim) || dim == "source" || dim == "type":
				expr = "CAST(a." + d.Quote(dim) + " AS " + text + ")"
			default:
				return n, measureError(m, "dimensions", fmt.Errorf("%q is not an activity property, source, type, day, month or year", dim))
			}
			dims = append(dims, p.add(dim+"=")+" || COALESCE("+expr+", '')")
			groups = append(groups, expr)
		}
		// An unused parameter is an error on PostgreSQL (its type cannot
		// be inferred), so the empty dimensions are a parameter only when
		// there are no dimensions.
		var dimExpr string
		if len(dims) > 0 {
			dimExpr = strings.Join(dims, " || '; ' || ")
		} else {
			dimExpr = p.add("")
		}
		// The aggregate's parameters follow the dimension's in the text.
		agg, err := compileAggregate(m, schema, floatProperties(cfg), nil, "a", p, now)
		if err != nil {
			return n, err
		}
		group := ""
		if len(groups) > 0 {
			group = " GROUP BY " + strings.Join(groups, ", ")
		}
		stmt := fmt.Sprintf("INSERT INTO %s SELECT %s, %s, CAST(%s AS %s) FROM %s a%s",
			env.q(table), nameParam, dimExpr, agg, d.TypeName(engine.Double), env.in(ActivitiesTable), group)
		if err := env.exec(ctx, stmt, p.list...); err != nil {
			return n, fmt.Errorf("business measure %s: %w", name, err)
		}
	}
	// Formulas over business measures without dimensions.
	for _, name := range cfg.MeasureOrder {
		m := cfg.Measures[name]
		if m.Scope != "business" || m.Formula == "" {
			continue
		}
		n++
		p := env.params()
		nameParam, dimParam := p.add(name), p.add("")
		expr, err := compileFormula(cfg, name, func(ref string) (string, bool) {
			r := cfg.Measures[ref]
			if r == nil || r.Scope != "business" || len(r.Dimensions) > 0 {
				return "", false
			}
			return "(SELECT value FROM " + env.q(table) + " WHERE measure = " + p.add(ref) + " AND dimensions = " + p.add("") + ")", true
		}, d, nil)
		if err != nil {
			return n, err
		}
		if err := env.exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s, %s, CAST(%s AS %s)", env.q(table), nameParam, dimParam, expr, d.TypeName(engine.Double)), p.list...); err != nil {
			return n, fmt.Errorf("business measure %s: %w", name, err)
		}
	}
	return n, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
