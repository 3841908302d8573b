package segment

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/knit-cdp/knit"
)

func mustParse(t *testing.T, src string) Expr {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return e
}

func TestDependencies(t *testing.T) {
	e := mustParse(t, `in segment b or (known and not in segment a) and in segment b`)
	if got, want := Dependencies(e), []string{"a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Dependencies = %v, want %v", got, want)
	}
	if got := Dependencies(mustParse(t, `known`)); len(got) != 0 {
		t.Errorf("Dependencies of a rule without segments = %v", got)
	}
}

func TestOrderPutsDependenciesFirst(t *testing.T) {
	defs := map[string]Expr{
		"loyal_browsers": mustParse(t, `in segment browsers and in segment loyal`),
		"browsers":       mustParse(t, `did "Product view"`),
		"loyal":          mustParse(t, `has loyalty_id`),
		"lapsed_loyal":   mustParse(t, `in segment loyal and not in segment loyal_browsers`),
		// A reference outside defs is Compile's to report, not Order's.
		"external": mustParse(t, `in segment defined_elsewhere`),
	}
	order, err := Order(defs)
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != len(defs) {
		t.Fatalf("Order = %v, want every one of %d segments once", order, len(defs))
	}
	at := map[string]int{}
	for i, name := range order {
		at[name] = i
	}
	for name, e := range defs {
		for _, dep := range Dependencies(e) {
			if _, ok := defs[dep]; ok && at[dep] > at[name] {
				t.Errorf("Order = %v: %s comes before its dependency %s", order, name, dep)
			}
		}
	}
	again, _ := Order(defs)
	if !reflect.DeepEqual(order, again) {
		t.Errorf("Order is not stable: %v then %v", order, again)
	}
}

func TestOrderReportsCycles(t *testing.T) {
	tests := []struct {
		defs  map[string]string
		cycle string
	}{
		{map[string]string{"a": `in segment a`}, "a → a"},
		{map[string]string{"a": `in segment b`, "b": `known and not in segment a`}, "a → b → a"},
		{map[string]string{"x": `in segment a`, "a": `in segment b`, "b": `in segment c`, "c": `in segment a or known`}, "a → b → c → a"},
	}
	for _, tt := range tests {
		defs := map[string]Expr{}
		for name, src := range tt.defs {
			defs[name] = mustParse(t, src)
		}
		_, err := Order(defs)
		if err == nil || !strings.Contains(err.Error(), tt.cycle) {
			t.Errorf("Order(%v) error %v, want the cycle %s", tt.defs, err, tt.cycle)
		}
		if knit.ErrorCode(err) != knit.EINVALID {
			t.Errorf("cycle error code %q, want %q", knit.ErrorCode(err), knit.EINVALID)
		}
	}
}

// TestDocsExamplesParse keeps docs/segments.md honest: every line of its
// plain code blocks, other than the grammar and the error sample, parses.
func TestDocsExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../docs/segments.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	blocks := strings.Split(string(doc), "```")
	checked := 0
	for i := 1; i < len(blocks); i += 2 {
		block := blocks[i]
		if !strings.HasPrefix(block, "\n") || strings.Contains(block, ":=") || strings.Contains(block, "^") {
			continue // a block with a language, the grammar, or the error sample
		}
		for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
			if _, err := Parse(line); err != nil {
				t.Errorf("docs example %q: %v", line, err)
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("checked only %d examples; did the docs' layout change?", checked)
	}
}
