package lookup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/lookup"
	"github.com/knit-cdp/knit/pipeline"
)

// runCoffee runs the coffee example (with Unknown1 signing in) on a real
// DuckDB file and returns the project and its engine.
func runCoffee(t *testing.T) (*config.Project, *duckdb.DB) {
	t.Helper()
	dir := testproject.Copy(t, "../examples/coffee")
	testproject.CoffeeSignIn(t, dir)
	return runProject(t, dir)
}

// runProject runs a project folder on a real DuckDB file.
func runProject(t *testing.T, dir string) (*config.Project, *duckdb.DB) {
	t.Helper()
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(filepath.Join(dir, proj.Config.Store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := pipeline.Run(context.Background(), proj, db, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	return proj, db
}

func why(t *testing.T, proj *config.Project, db *duckdb.DB, key string) *lookup.WhyGraph {
	t.Helper()
	res, err := lookup.Resolve(context.Background(), db, proj, key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := lookup.Why(context.Background(), db, res.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// edgeLabels renders each edge as "a — b: label; label" for comparison.
func edgeLabels(g *lookup.WhyGraph) []string {
	var out []string
	for _, e := range g.Edges {
		var ls []string
		for _, ev := range e.Evidence {
			ls = append(ls, ev.Label())
		}
		out = append(out, e.A+" — "+e.B+": "+strings.Join(ls, "; "))
	}
	return out
}

func TestWhyJaneAfterSignIn(t *testing.T) {
	proj, db := runCoffee(t)
	g := why(t, proj, db, "anonymous_id:Unknown1")
	var nodes []string
	for _, n := range g.Nodes {
		nodes = append(nodes, n.ID)
	}
	if want := []string{"loyalty/707", "ecommerce/A-1001", "pos/707", "web/Auth234", "web/Unknown1"}; !slices.Equal(nodes, want) {
		t.Errorf("nodes %v, want %v (anchor first, then by source order)", nodes, want)
	}
	if !g.Nodes[0].Anchor || g.Records != 5 || g.Truncated {
		t.Errorf("anchor %v, records %d, truncated %v", g.Nodes[0].Anchor, g.Records, g.Truncated)
	}
	want := []string{
		"loyalty/707 — ecommerce/A-1001: shared: email:jane.doe@example.com",
		"loyalty/707 — pos/707: shared: loyalty_id:707",
		"loyalty/707 — web/Auth234: co-occurrence: anonymous_id:Auth234 + loyalty_id:707 (web event 2)",
		"loyalty/707 — web/Unknown1: co-occurrence: anonymous_id:Unknown1 + loyalty_id:707 (web event 5)",
	}
	if got := edgeLabels(g); !slices.Equal(got, want) {
		t.Errorf("edges\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if len(g.Refused) != 0 {
		t.Errorf("refused %v, want none on Jane's profile", g.Refused)
	}
}

// Bob enrolled twice: the dedupe rule and the match rule join his two
// loyalty records, with the rule's compared values; the shared email and
// phone are evidence of the same edge.
func TestWhyRuleAndDedupeEvidence(t *testing.T) {
	proj, db := runCoffee(t)
	g := why(t, proj, db, "loyalty/708")
	got := edgeLabels(g)
	want := "loyalty/708 — loyalty/710: shared: email:bob.smith@example.com; shared: phone:+15035550142; dedupe loyalty: same email: bob.smith@example.com; same last name and phone: smith + +15035550142"
	if !slices.Contains(got, want) {
		t.Errorf("edges\n  %s\nlack\n  %s", strings.Join(got, "\n  "), want)
	}
}

// The test account's junk email and phone are refused by the blocked
// values guard and shown on the profile with the guard's name.
func TestWhyRefusedByGuard(t *testing.T) {
	proj, db := runCoffee(t)
	g := why(t, proj, db, "ecommerce/A-1004")
	var refused []string
	for _, r := range g.Refused {
		refused = append(refused, r.Guard+" | "+r.A+" | "+r.B)
	}
	want := []string{"blocked value | ecommerce/A-1004 | email:test@test.com", "blocked value | ecommerce/A-1004 | phone:0000000000"}
	if !slices.Equal(refused, want) {
		t.Errorf("refused %v, want %v", refused, want)
	}
	if n := g.Nodes[0]; len(n.Refused) != 0 || len(n.Keys) != 1 || n.Keys[0].Value != "A-1004" {
		t.Errorf("A-1004 keys %v refused %v", n.Keys, n.Refused)
	}
	if _, err := lookup.Why(context.Background(), db, "00000000-0000-0000-0000-000000000000"); err == nil {
		t.Error("an unknown customer must be an error")
	}
}

// A profile larger than WhyLimit is drawn truncated: the first records,
// the anchor first, and the count of all.
func TestWhyTruncatesLargeProfiles(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,email\n")
	for i := range 250 {
		fmt.Fprintf(&b, "%d,shared@example.com\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "knit.yaml"), []byte("sources:\n  crm:\n    file: people.csv\n    primary_key: id\n    identifiers: {email: email}\nidentifiers:\n  email: {normalize: email}\nunify:\n  include_all_records: [crm]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proj, db := runProject(t, dir)
	g := why(t, proj, db, "email:shared@example.com")
	if g.Records != 250 || !g.Truncated || len(g.Nodes) != lookup.WhyLimit || !g.Nodes[0].Anchor {
		t.Fatalf("records %d truncated %v nodes %d anchor first %v", g.Records, g.Truncated, len(g.Nodes), g.Nodes[0].Anchor)
	}
	// The shared email joins every drawn record to the first: a star.
	if len(g.Edges) != lookup.WhyLimit-1 {
		t.Errorf("%d edges, want %d", len(g.Edges), lookup.WhyLimit-1)
	}
	for _, e := range g.Edges {
		if e.A != g.Nodes[0].ID {
			t.Fatalf("edge %s — %s does not start at the anchor %s", e.A, e.B, g.Nodes[0].ID)
		}
	}
}
