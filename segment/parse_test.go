package segment

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/knit-cdp/knit"
)

// tree renders an expression fully parenthesised, without positions, so a
// test shows exactly how a rule was grouped.
func tree(e Expr) string {
	switch e := e.(type) {
	case *Or:
		return "(or " + tree(e.Left) + " " + tree(e.Right) + ")"
	case *And:
		return "(and " + tree(e.Left) + " " + tree(e.Right) + ")"
	case *Not:
		return "(not " + tree(e.X) + ")"
	case *Known:
		return e.String()
	case *Has:
		return "(has " + e.Type + ")"
	case *InSegment:
		return "(segment " + e.Name + ")"
	case *FirstSeen:
		s := "(first-seen " + e.Window.String()
		if e.WhileUnknown {
			s += " while-unknown"
		}
		return s + ")"
	case *Did:
		s := "(did " + quote(e.Type)
		for _, c := range e.Where {
			s += " (where " + tree(c) + ")"
		}
		if e.Count != nil {
			s += " (count " + e.Count.String() + ")"
		}
		if e.Window != nil {
			s += " (window " + e.Window.String() + ")"
		}
		if e.While != WhileAny {
			s += fmt.Sprintf(" (while %d)", e.While)
		}
		return s + ")"
	case *Compare:
		s := "(" + e.Op.String() + " " + e.Field
		for _, v := range e.Values {
			s += fmt.Sprintf(" %s:%d", v, v.Kind)
		}
		return s + ")"
	}
	return fmt.Sprintf("?%T", e)
}

func TestParseValid(t *testing.T) {
	tests := []struct{ src, tree string }{
		{`known`, `known`},
		{`UNKNOWN`, `unknown`},
		{`has loyalty_id`, `(has loyalty_id)`},
		{`has no loyalty_id`, `(not (has loyalty_id))`},
		{`in segment vip_customers`, `(segment vip_customers)`},
		{`did "Checkout"`, `(did "Checkout")`},
		{`never did "Checkout"`, `(not (did "Checkout"))`},
		{`did "say \"hi\" \\o/"`, `(did "say \"hi\" \\o/")`},
		{`did "Checkout" where store = "S1", amount >= 10.5 at least 2 times in the last 30 days while known`,
			`(did "Checkout" (where (= store "S1":0)) (where (>= amount 10.5:2)) (count at least 2 times) (window in the last 30 days) (while 1))`},
		// The parts after the activity type may come in any order.
		{`did "Checkout" in last 1 week exactly 1 time`,
			`(did "Checkout" (count exactly 1 time) (window in the last 1 week))`},
		{`did "Checkout" at most 3 times between 2024-01-01 and 2024-03-31`,
			`(did "Checkout" (count at most 3 times) (window between 2024-01-01 and 2024-03-31))`},
		{`did "Product view" before 2024-02-01 while unknown`,
			`(did "Product view" (window before 2024-02-01) (while 2))`},
		{`did "Checkout" after 6 months ago`, `(did "Checkout" (window after 6 months ago))`},
		{`first seen before 6 months ago`, `(first-seen before 6 months ago)`},
		{`first seen before 6 months ago while unknown`, `(first-seen before 6 months ago while-unknown)`},
		{`first seen between 1 year ago and 2024-06-30`, `(first-seen between 1 year ago and 2024-06-30)`},
		{`person.city = "Portland"`, `(= person.city "Portland":0)`},
		{`orders >= 3`, `(>= orders 3:1)`},
		{`orders <> -1`, `(!= orders -1:1)`},
		{`vip = TRUE`, `(= vip true:3)`},
		{`last_purchase < 2024-01-31`, `(< last_purchase 2024-01-31:4)`},
		{`last_purchase >= 30 days ago`, `(>= last_purchase 30 days ago:5)`},
		{`email is null`, `(is null email)`},
		{`email IS NOT NULL`, `(is not null email)`},
		{`person.first_name contains "an"`, `(contains person.first_name "an":0)`},
		{`person.first_name starts with "J"`, `(starts with person.first_name "J":0)`},
		{`person.first_name ends with "e"`, `(ends with person.first_name "e":0)`},
		{`person.city in ("Portland", "Salem")`, `(in person.city "Portland":0 "Salem":0)`},
		{`orders not in (1, 2)`, `(not in orders 1:1 2:1)`},
		// and binds tighter than or; both group to the left.
		{`known or unknown and has email`, `(or known (and unknown (has email)))`},
		{`known and unknown or has email`, `(or (and known unknown) (has email))`},
		{`known and unknown and has email`, `(and (and known unknown) (has email))`},
		{`known or (unknown or has email)`, `(or known (or unknown (has email)))`},
		// not applies to the one condition after it.
		{`not known and has email`, `(and (not known) (has email))`},
		{`not (known and has email)`, `(not (and known (has email)))`},
		{`not not known`, `(not (not known))`},
		{"known # a comment\n  and did \"Checkout\"", `(and known (did "Checkout"))`},
		// Unicode field names and strings.
		{`person.ville = "Zürich"`, `(= person.ville "Zürich":0)`},
		// The three questions of DESIGN.md.
		{`known and did "Product view" and never did "Checkout"`,
			`(and (and known (did "Product view")) (not (did "Checkout")))`},
		{`first seen before 6 months ago while unknown`, `(first-seen before 6 months ago while-unknown)`},
		{`has no loyalty_id and never did "Checkout"`, `(and (not (has loyalty_id)) (not (did "Checkout")))`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tree(e); got != tt.tree {
				t.Errorf("tree\n got %s\nwant %s", got, tt.tree)
			}
			assertReparses(t, e)
		})
	}
}

// assertReparses checks that the canonical form of e parses to the same
// tree and is a fixed point of printing.
func assertReparses(t *testing.T, e Expr) {
	t.Helper()
	again, err := Parse(e.String())
	if err != nil {
		t.Fatalf("String() %q does not parse: %v", e.String(), err)
	}
	if tree(again) != tree(e) {
		t.Fatalf("String() %q reparses to\n%s\nwant\n%s", e.String(), tree(again), tree(e))
	}
	if again.String() != e.String() {
		t.Fatalf("String() is not stable: %q then %q", e.String(), again.String())
	}
}

func TestStringIsCanonical(t *testing.T) {
	tests := []struct{ src, want string }{
		{`KNOWN AND Did "Checkout" IN LAST 1 DAYS`, `known and did "Checkout" in the last 1 day`},
		{`not did "Checkout"`, `never did "Checkout"`},
		{`not has email`, `has no email`},
		{`known and (unknown and has email)`, `known and (unknown and has email)`},
		{`(known and unknown) and has email`, `known and unknown and has email`},
		{`(known or unknown) and has email`, `(known or unknown) and has email`},
		{`not (known or unknown)`, `not (known or unknown)`},
		{`orders = 2.50`, `orders = 2.5`},
		{`orders = 3.0`, `orders = 3.0`},
		{`orders <> 3`, `orders != 3`},
		{`did "X" exactly 1 times`, `did "X" exactly 1 time`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.src, err)
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg       string // a part of the message
	}{
		{"empty rule", ``, 1, 1, "expected a condition, found the end of the rule"},
		{"unterminated string", `did "Checkout`, 1, 5, "unterminated string"},
		{"string broken by a newline", "person.city = \"Port\nland\"", 1, 15, "unterminated string"},
		{"unknown escape", `did "a\nb"`, 1, 7, `only \" and \\`},
		{"activity type without quotes", `known and did Checkout`, 1, 15, `expected a quoted activity type after did, found Checkout (write did "Checkout")`},
		{"missing operand of and", `known and`, 1, 10, "expected a condition, found the end of the rule"},
		{"missing operand of or", `known or or unknown`, 1, 10, "expected a condition"},
		{"missing value", `orders >=`, 1, 10, "expected a value"},
		{"unquoted string value", `person.city = Portland`, 1, 15, `strings need double quotes: "Portland"`},
		{"null compared with =", `email = null`, 1, 9, "is null"},
		{"misspelt keyword", `knwn and did "Checkout"`, 1, 1, `unknown word knwn`},
		{"misspelt keyword suggestion", `knwn and did "Checkout"`, 1, 1, `did you mean "known"?`},
		{"verb instead of did", `known and viewed "Product view"`, 1, 11, `(for an activity write did "Product view")`},
		{"unknown character", `known & unknown`, 1, 7, `unexpected character '&'`},
		{"lone bang", `orders ! 3`, 1, 8, `!=`},
		{"unclosed parenthesis", `(known and unknown`, 1, 1, `unbalanced "("`},
		{"extra closing parenthesis", `known and unknown)`, 1, 18, `unbalanced ")"`},
		{"closing parenthesis expected", `(known unknown)`, 1, 8, `expected ")" to close the "(" at 1:1`},
		{"two conditions without and", `known unknown`, 1, 7, "expected and, or or the end of the rule, found unknown"},
		{"has without a type", `has`, 1, 4, "expected an identifier type"},
		{"in without segment", `in vip`, 1, 4, `expected segment after "in"`},
		{"first without seen", `first before 2024-01-01`, 1, 7, "expected seen"},
		{"first seen without window", `first seen known`, 1, 12, `expected "in the last", before, after or between`},
		{"never without did", `never has email`, 1, 7, "expected did after \"never\""},
		{"count without times", `did "X" at least 2`, 1, 19, "expected times"},
		{"count of zero", `did "X" at least 0 times`, 1, 18, "always true"},
		{"count not a number", `did "X" at least many times`, 1, 18, "expected a whole number"},
		{"at without least", `did "X" at many 2 times`, 1, 12, "expected least or most"},
		{"duration without unit", `did "X" in the last 30`, 1, 23, "expected a unit"},
		{"duration with bad unit", `did "X" in the last 30 fortnights`, 1, 24, "expected a unit"},
		{"ago missing", `first seen before 6 months`, 1, 27, "expected ago"},
		{"invalid date", `first seen before 2024-02-30`, 1, 19, "not a calendar date"},
		{"empty between", `did "X" between 2024-03-01 and 2024-01-01`, 1, 32, "the window is empty"},
		{"second window", `did "X" in the last 3 days before 2024-01-01`, 1, 28, "second time window"},
		{"second where", `did "X" where store = "a" where store = "b"`, 1, 27, "second where"},
		{"where without operator", `did "X" where store "S1"`, 1, 21, "expected an operator after property store"},
		{"while without state", `did "X" while tired`, 1, 15, "expected known or unknown"},
		{"in list without parenthesis", `orders in 1, 2`, 1, 11, `expected "("`},
		{"in list unclosed", `orders in (1, 2`, 1, 16, `expected "," or ")"`},
		{"number too large", `orders = 99999999999999999999`, 1, 10, "too large"},
		{"decimal point without digits", `orders = 3.`, 1, 11, "digits after the decimal point"},
		{"error on a later line", "known and\n  did Checkout", 2, 7, "expected a quoted activity type"},
		{"rune columns", `person.ville = "Zürich" and did Checkout`, 1, 33, "expected a quoted activity type"},
		{"too deep", strings.Repeat("(", 200) + "known" + strings.Repeat(")", 200), 1, 101, "nested more than"},
		{"invalid UTF-8", "known and \xff", 1, 11, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want an error", tt.src, e)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			if se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Parse(%q) error at %d:%d %q\nwant at %d:%d containing %q", tt.src, se.Line, se.Col, se.Msg, tt.line, tt.col, tt.msg)
			}
			if knit.ErrorCode(err) != knit.EINVALID {
				t.Errorf("error code %q, want %q", knit.ErrorCode(err), knit.EINVALID)
			}
		})
	}
}

func TestSyntaxErrorShowsCaret(t *testing.T) {
	_, err := Parse("known and\n\tdid Checkout")
	want := "2:6: expected a quoted activity type after did, found Checkout (write did \"Checkout\")\n" +
		"\t\tdid Checkout\n" +
		"\t\t    ^"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// FuzzParse checks that Parse never panics, that every error points inside
// the rule, that every rule that parses prints to a rule that parses to the
// same tree, and that compiling it keeps every value out of the SQL text.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`known and did "Product view" and never did "Checkout"`,
		`first seen before 6 months ago while unknown`,
		`has no loyalty_id and not did "Checkout" where store in ("a", "b"), amount > -2.5 at least 3 times between 3 weeks ago and 2024-12-31`,
		`(person.city = "x' OR 1=1 --" or orders <= 3) and not in segment vip`,
		`email is not null or name starts with "\"" and last_purchase != 2024-02-29`,
		`did "x" in the last 2 hours while known exactly 0 times`,
		`known and`, `did Checkout`, `"unterminated`, `((known)`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			lines := strings.Split(src, "\n")
			if se.Line < 1 || se.Line > len(lines) || se.Col < 1 || se.Col > utf8.RuneCountInString(lines[se.Line-1])+1 {
				t.Fatalf("error position %d:%d is outside the rule %q", se.Line, se.Col, src)
			}
			return
		}
		assertReparses(t, e)
		// Whatever a rule says, its SQL has exactly one placeholder per
		// argument: no value, not even one holding "?", became SQL text.
		schema := *testSchema
		schema.ActivityTypes = nil
		query, args, err := Compile(e, &schema, testTables, duckLike{}, testNow)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile error %v is %T, want *SyntaxError", err, err)
			}
			return
		}
		if n := strings.Count(query, "?"); n != len(args) {
			t.Fatalf("rule %q compiled to %d placeholders for %d args:\n%s", src, n, len(args), query)
		}
	})
}
