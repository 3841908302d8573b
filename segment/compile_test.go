package segment

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/engine"
)

// duckLike is a DuckDB-like dialect: ? placeholders, double-quoted
// identifiers.
type duckLike struct{}

func (duckLike) Name() string                { return "ducklike" }
func (duckLike) Quote(name string) string    { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
func (duckLike) Param(int) string            { return "?" }
func (duckLike) TypeName(engine.Type) string { return "VARCHAR" }
func (duckLike) Similarity(metric, a, b string) string {
	return "jaro_winkler_similarity(" + a + ", " + b + ")"
}

// pgLike numbers its placeholders, as PostgreSQL does.
type pgLike struct{ duckLike }

func (pgLike) Param(n int) string { return fmt.Sprintf("$%d", n) }

var (
	testNow    = time.Date(2025, 7, 15, 10, 0, 0, 0, time.UTC)
	testTables = Tables{Profiles: "profiles", Keyring: "keyring", Activities: "activities", Members: "segment_members"}
	testSchema = &Schema{
		Fields: map[string]FieldType{
			"person.city": Text, "person.first_name": Text, "email": Text,
			"orders": Number, "total_spent": Number, "vip": Bool, "last_purchase": Time,
		},
		IdentTypes:    map[string]bool{"loyalty_id": true, "email": true, "user_id": true, "anonymous_id": true},
		Segments:      map[string]bool{"browsed_not_bought": true, "vip_customers": true},
		ActivityProps: map[string]FieldType{"store": Text, "amount": Number, "product": Text},
		ActivityTypes: map[string]bool{"Product view": true, "Checkout": true, "Loyalty sign-in": true},
	}
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

const (
	selectProfiles = `SELECT p."customer_id" FROM "profiles" AS p WHERE `
	activityOf     = `FROM "activities" AS a WHERE a."customer_id" = p."customer_id" AND a."type" = ?`
	hasIdentifier  = `EXISTS (SELECT 1 FROM "keyring" AS k WHERE k."customer_id" = p."customer_id" AND k."kind" = ? AND k."type" = ?)`
	isKnown        = `COALESCE(p."known", FALSE)`
)

func TestCompile(t *testing.T) {
	tests := []struct {
		src   string
		where string
		args  []any
	}{
		{`known`, isKnown, nil},
		{`unknown`, `NOT ` + isKnown, nil},
		{`has loyalty_id`, hasIdentifier, []any{"identifier", "loyalty_id"}},
		{`has no loyalty_id`, `NOT (` + hasIdentifier + `)`, []any{"identifier", "loyalty_id"}},
		{`in segment vip_customers`,
			`EXISTS (SELECT 1 FROM "segment_members" AS m WHERE m."customer_id" = p."customer_id" AND m."segment" = ?)`,
			[]any{"vip_customers"}},
		{`did "Checkout"`, `EXISTS (SELECT 1 ` + activityOf + `)`, []any{"Checkout"}},
		{`did "Checkout" where store = "S1", amount > 10 at least 2 times in the last 30 days while known`,
			`(SELECT count(*) ` + activityOf + ` AND COALESCE(a."store" = ?, FALSE) AND COALESCE(a."amount" > ?, FALSE)` +
				` AND a."ts" >= ? AND COALESCE(a."known_at_time", FALSE)) >= ?`,
			[]any{"Checkout", "S1", int64(10), testNow.AddDate(0, 0, -30), int64(2)}},
		{`did "Product view" while unknown at most 1 time`,
			`(SELECT count(*) ` + activityOf + ` AND NOT COALESCE(a."known_at_time", FALSE)) <= ?`,
			[]any{"Product view", int64(1)}},
		// A date window covers whole days: "between" includes its last day.
		{`did "Checkout" between 2024-01-01 and 2024-01-31`,
			`EXISTS (SELECT 1 ` + activityOf + ` AND a."ts" >= ? AND a."ts" < ?)`,
			[]any{"Checkout", day(2024, 1, 1), day(2024, 2, 1)}},
		{`did "Checkout" after 2024-01-31`, `EXISTS (SELECT 1 ` + activityOf + ` AND a."ts" >= ?)`,
			[]any{"Checkout", day(2024, 2, 1)}},
		{`did "Checkout" before 2 weeks ago`, `EXISTS (SELECT 1 ` + activityOf + ` AND a."ts" < ?)`,
			[]any{"Checkout", testNow.AddDate(0, 0, -14)}},
		{`did "Checkout" between 1 year ago and 24 hours ago`,
			`EXISTS (SELECT 1 ` + activityOf + ` AND a."ts" >= ? AND a."ts" <= ?)`,
			[]any{"Checkout", testNow.AddDate(-1, 0, 0), testNow.Add(-24 * time.Hour)}},
		{`first seen after 2024-12-31`, `COALESCE(p."first_seen" >= ?, FALSE)`, []any{day(2025, 1, 1)}},
		{`person.city = "Portland"`, `COALESCE(p."person.city" = ?, FALSE)`, []any{"Portland"}},
		{`orders >= 3`, `COALESCE(p."orders" >= ?, FALSE)`, []any{int64(3)}},
		{`total_spent < 99.5`, `COALESCE(p."total_spent" < ?, FALSE)`, []any{99.5}},
		{`vip != true`, `COALESCE(p."vip" <> ?, FALSE)`, []any{true}},
		{`email is null`, `p."email" IS NULL`, nil},
		{`email is not null`, `p."email" IS NOT NULL`, nil},
		// LIKE wildcards in a value match only themselves.
		{`email contains "50%_off\\"`, `COALESCE(p."email" LIKE ? ESCAPE '\', FALSE)`, []any{`%50\%\_off\\%`}},
		{`person.first_name starts with "Jo"`, `COALESCE(p."person.first_name" LIKE ? ESCAPE '\', FALSE)`, []any{`Jo%`}},
		{`person.first_name ends with "ne"`, `COALESCE(p."person.first_name" LIKE ? ESCAPE '\', FALSE)`, []any{`%ne`}},
		{`person.city in ("Portland", "Salem")`, `COALESCE(p."person.city" IN (?, ?), FALSE)`, []any{"Portland", "Salem"}},
		{`orders not in (0, 1)`, `COALESCE(p."orders" NOT IN (?, ?), FALSE)`, []any{int64(0), int64(1)}},
		// A date compared with a time field names the whole day.
		{`last_purchase = 2024-03-10`, `COALESCE(p."last_purchase" >= ? AND p."last_purchase" < ?, FALSE)`,
			[]any{day(2024, 3, 10), day(2024, 3, 11)}},
		{`last_purchase != 2024-03-10`, `COALESCE(p."last_purchase" < ? OR p."last_purchase" >= ?, FALSE)`,
			[]any{day(2024, 3, 10), day(2024, 3, 11)}},
		{`last_purchase <= 2024-03-10`, `COALESCE(p."last_purchase" < ?, FALSE)`, []any{day(2024, 3, 11)}},
		{`last_purchase > 2024-03-10`, `COALESCE(p."last_purchase" >= ?, FALSE)`, []any{day(2024, 3, 11)}},
		{`last_purchase < 30 days ago`, `COALESCE(p."last_purchase" < ?, FALSE)`, []any{testNow.AddDate(0, 0, -30)}},
		{`known or unknown and not has email`,
			`(` + isKnown + ` OR (NOT ` + isKnown + ` AND NOT (` + hasIdentifier + `)))`, []any{"identifier", "email"}},
		// The three questions of DESIGN.md.
		{`known and did "Product view" and never did "Checkout"`,
			`((` + isKnown + ` AND EXISTS (SELECT 1 ` + activityOf + `)) AND NOT (EXISTS (SELECT 1 ` + activityOf + `)))`,
			[]any{"Product view", "Checkout"}},
		{`first seen before 6 months ago while unknown`,
			`COALESCE(p."first_seen" < ? AND (p."first_known" IS NULL OR p."first_known" > p."first_seen"), FALSE)`,
			[]any{time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)}},
		{`has no loyalty_id and never did "Checkout"`,
			`(NOT (` + hasIdentifier + `) AND NOT (EXISTS (SELECT 1 ` + activityOf + `)))`,
			[]any{"identifier", "loyalty_id", "Checkout"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			query, args, err := CompileRule(tt.src, testSchema, testTables, duckLike{}, testNow)
			if err != nil {
				t.Fatalf("CompileRule: %v", err)
			}
			if want := selectProfiles + tt.where; query != want {
				t.Errorf("SQL\n got %s\nwant %s", query, want)
			}
			if !reflect.DeepEqual(args, tt.args) {
				t.Errorf("args\n got %#v\nwant %#v", args, tt.args)
			}
			if n := strings.Count(query, "?"); n != len(args) {
				t.Errorf("%d placeholders for %d args", n, len(args))
			}
		})
	}
}

func TestCompileNumbersPlaceholdersInOrder(t *testing.T) {
	query, args, err := CompileRule(`has email and did "Checkout" where store = "S1" at least 2 times`,
		testSchema, testTables, pgLike{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := `(EXISTS (SELECT 1 FROM "keyring" AS k WHERE k."customer_id" = p."customer_id" AND k."kind" = $1 AND k."type" = $2) AND ` +
		`(SELECT count(*) FROM "activities" AS a WHERE a."customer_id" = p."customer_id" AND a."type" = $3 AND COALESCE(a."store" = $4, FALSE)) >= $5)`
	if query != selectProfiles+want {
		t.Errorf("SQL\n got %s\nwant %s", query, selectProfiles+want)
	}
	if wantArgs := []any{"identifier", "email", "Checkout", "S1", int64(2)}; !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args %#v, want %#v", args, wantArgs)
	}
}

// TestInjectionStaysAValue checks that hostile text in values reaches the
// engine only as parameters, never as SQL text.
func TestInjectionStaysAValue(t *testing.T) {
	attacks := []string{
		`x' OR 1=1 --`,
		`x"; DROP TABLE profiles; --`,
		`') OR ('1'='1`,
	}
	for _, attack := range attacks {
		for _, rule := range []string{
			`person.city = ` + quote(attack),
			`person.city in ("a", ` + quote(attack) + `)`,
			`did ` + quote(attack),
			`did "Checkout" where store = ` + quote(attack),
		} {
			schema := *testSchema
			schema.ActivityTypes = nil // so the attack is accepted as an activity type
			query, args, err := CompileRule(rule, &schema, testTables, duckLike{}, testNow)
			if err != nil {
				t.Fatalf("CompileRule(%q): %v", rule, err)
			}
			if strings.Contains(query, attack) || strings.Contains(query, "OR 1=1") || strings.Contains(query, "DROP") || strings.Contains(query, "'1'") {
				t.Errorf("SQL of %q carries the attack:\n%s", rule, query)
			}
			if !containsArg(args, attack) {
				t.Errorf("args %#v of %q lack the attack as one whole value", args, rule)
			}
		}
	}
}

func containsArg(args []any, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{`person.cty = "Portland"`, 1, 1, `unknown field person.cty (did you mean "person.city"?)`},
		{`known and store = "S1"`, 1, 11, `store: it is an activity property`},
		{`has loyality_id`, 1, 1, `unknown identifier type loyality_id (did you mean "loyalty_id"?)`},
		{`in segment vip_customer`, 1, 1, `unknown segment vip_customer (did you mean "vip_customers"?)`},
		{`did "Chekout"`, 1, 5, `unknown activity type "Chekout" (did you mean "Checkout"?)`},
		{`did "Checkout" where stor = "S1"`, 1, 22, `unknown activity property stor (did you mean "store"?)`},
		{`orders contains "3"`, 1, 8, `contains does not work on field orders, which is a number`},
		{`orders = "3"`, 1, 10, `field orders is a number, but "3" is text (remove the quotes)`},
		{`person.city = 3`, 1, 15, `field person.city is text, but 3 is a number (put text in double quotes: "3")`},
		{`vip > true`, 1, 5, `> does not work on field vip, which is true/false`},
		{`vip = "yes"`, 1, 7, `use true or false`},
		{`last_purchase in (2024-01-01)`, 1, 15, `in does not work on field last_purchase`},
		{`last_purchase > 3`, 1, 17, `use a date such as 2024-01-31`},
		{`did "Checkout" where amount starts with "1"`, 1, 29, `starts with does not work on property amount, which is a number`},
		{`first seen between 6 months ago and 1 year ago`, 1, 37, `the window is empty`},
		{"known and\n  orders = \"3\"", 2, 12, `remove the quotes`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, _, err := CompileRule(tt.src, testSchema, testTables, duckLike{}, testNow)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a *SyntaxError", err)
			}
			if se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("error at %d:%d %q\nwant at %d:%d containing %q", se.Line, se.Col, se.Msg, tt.line, tt.col, tt.msg)
			}
			if !strings.Contains(err.Error(), "^") {
				t.Errorf("error %q has no caret under the source line", err)
			}
		})
	}
}

func TestNilSchemaKnowsNoNames(t *testing.T) {
	e, err := Parse(`person.city = "x"`)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Compile(e, nil, testTables, duckLike{}, testNow); err == nil {
		t.Error("a field compiled against a nil schema")
	}
}

// With ActivityCounts a did reads its count column, with its count (or
// 1) as the only parameter; the condition is still checked, so a misspelt
// type or property is the same error.
func TestCompileWithActivityCounts(t *testing.T) {
	did := func(src string) *Did {
		e, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		return Dids(e)[0]
	}
	tables := testTables
	tables.ActivityCounts = map[string]string{
		DidKey(did(`did "Checkout" where store = "S1"`)): "did#1",
		DidKey(did(`did "Chekout"`)):                     "did#2",
	}
	query, args, err := CompileRule(`known and did "Checkout" where store = "S1" at least 3 times and never did "Checkout" where store = "S1"`,
		testSchema, tables, duckLike{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := selectProfiles + `((` + isKnown + ` AND COALESCE(p."did#1", 0) >= ?) AND NOT (COALESCE(p."did#1", 0) >= ?))`
	if query != want || !reflect.DeepEqual(args, []any{int64(3), int64(1)}) {
		t.Errorf("got %s %v\nwant %s [3 1]", query, args, want)
	}
	_, _, err = CompileRule(`did "Chekout"`, testSchema, tables, duckLike{}, testNow)
	if err == nil || !strings.Contains(err.Error(), `unknown activity type "Chekout"`) {
		t.Errorf("error %v, want the unknown activity type", err)
	}
	cond, args, err := CompileDidCondition(did(`did "Checkout" where store = "S1" in the last 30 days`), testSchema, "a", pgLike{}, testNow, []any{"x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `a."type" = $2 AND COALESCE(a."store" = $3, FALSE) AND a."ts" >= $4`; cond != want || len(args) != 4 {
		t.Errorf("condition %s %v, want %s after the 1 earlier parameter", cond, args, want)
	}
}
