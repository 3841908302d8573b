package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/pipeline"
)

// A steward marks Unknown1's visitor record and Jane's loyalty record
// "never match" (as the console does): the pair is stored in the
// never-match file, stored once however often it is added, and the next
// run splits the profile; Jane keeps her customer ID.
func TestAddedNeverMatchSplitsOnTheNextRun(t *testing.T) {
	dir := copyProject(t, coffee)
	testproject.CoffeeSignIn(t, dir)
	p, _ := mustRun(t, dir)
	jane := p.customer("loyalty/707")
	if jane == "" || p.customer("web/Unknown1") != jane {
		t.Fatalf("Unknown1 signed in as 707 and should share Jane's profile %q, has %q", jane, p.customer("web/Unknown1"))
	}
	ctx := context.Background()
	for i, pair := range [][2]string{{"loyalty/707", "web/Unknown1"}, {"loyalty/707", "web/Unknown1"}, {"web/Unknown1", "loyalty/707"}} {
		added, path, err := pipeline.AddOverride(ctx, p.proj, p.db, pipeline.NeverMatch, pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if added != (i == 0) || path != "overrides/never_match.csv" {
			t.Errorf("add %d: added %v path %q; only the first adds", i, added, path)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "overrides/never_match.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "left,right\nloyalty/707,web/Unknown1\n" {
		t.Errorf("never_match.csv = %q", b)
	}
	list, err := pipeline.ReadOverrides(p.proj)
	if err != nil || len(list) != 1 || list[0] != (pipeline.Override{Never: true, A: "loyalty/707", B: "web/Unknown1", File: "overrides/never_match.csv", Line: 2}) {
		t.Errorf("ReadOverrides = %+v, %v", list, err)
	}
	p.close()

	p, rep := mustRun(t, dir)
	if got := p.customer("loyalty/707"); got != jane {
		t.Errorf("Jane's loyalty record → %s, want her ID %s kept", got, jane)
	}
	if got := p.customer("web/Unknown1"); got == jane {
		t.Errorf("the never-match override did not split web/Unknown1 from Jane")
	}
	if rep.Refused["never-match override"] != 1 {
		t.Errorf("refused by never-match = %d, want 1 (%v)", rep.Refused["never-match override"], rep.Refused)
	}
}

// An always-match pair added the same way joins two customers the rules
// keep apart.
func TestAddedAlwaysMatchJoinsOnTheNextRun(t *testing.T) {
	dir := copyProject(t, coffee)
	p, _ := mustRun(t, dir)
	if p.customer("loyalty/711") == p.customer("ecommerce/A-1003") {
		t.Fatal("Ana and Sam start as two customers")
	}
	// The file does not exist yet: it is created with its header.
	if err := os.Remove(filepath.Join(dir, "overrides/always_match.csv")); err != nil {
		t.Fatal(err)
	}
	if added, _, err := pipeline.AddOverride(context.Background(), p.proj, p.db, pipeline.AlwaysMatch, "loyalty/711", "ecommerce/A-1003"); err != nil || !added {
		t.Fatalf("added %v, err %v", added, err)
	}
	p.close()
	p, _ = mustRun(t, dir)
	if a := p.customer("loyalty/711"); a == "" || a != p.customer("ecommerce/A-1003") {
		t.Errorf("always-match did not join loyalty/711 and ecommerce/A-1003")
	}
}

// Bad pairs are refused with a reason and leave the file untouched.
func TestAddOverrideRefusesBadPairs(t *testing.T) {
	dir := copyProject(t, coffee)
	p, _ := mustRun(t, dir)
	ctx := context.Background()
	if _, _, err := pipeline.AddOverride(ctx, p.proj, p.db, pipeline.AlwaysMatch, "loyalty/708", "pos/708"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "overrides/never_match.csv"))
	for _, c := range []struct{ a, b, code, msg string }{
		{"loyalty/707", "loyalty/999", knit.ENOTFOUND, "no record loyalty/999"},
		{"loyalty/707", "crm/1", knit.EINVALID, `no source "crm"`},
		{"loyalty/707", "loyalty/707", knit.EINVALID, "two different records"},
		{"loyalty/707", "loyalty_id:708", knit.EINVALID, "not a record key"},
		{"loyalty/707", "=HYPERLINK(\"x\")/1", knit.EINVALID, "no source"},
		{"loyalty/707", "loyalty/708\nloyalty/709", knit.EINVALID, "control characters"},
		{"loyalty/707", " loyalty/708", knit.EINVALID, "spaces"},
		{"pos/708", "loyalty/708", knit.ECONFLICT, "always_match.csv:2 already says the opposite"},
	} {
		_, _, err := pipeline.AddOverride(ctx, p.proj, p.db, pipeline.NeverMatch, c.a, c.b)
		if knit.ErrorCode(err) != c.code || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q, %q: error %v (%s), want %s containing %q", c.a, c.b, err, knit.ErrorCode(err), c.code, c.msg)
		}
	}
	after, _ := os.ReadFile(filepath.Join(dir, "overrides/never_match.csv"))
	if string(after) != string(before) {
		t.Errorf("a refused pair changed the file: %q → %q", before, after)
	}
	p.proj.Config.Overrides.NeverMatch = ""
	if _, _, err := pipeline.AddOverride(ctx, p.proj, p.db, pipeline.NeverMatch, "loyalty/707", "loyalty/708"); err == nil || !strings.Contains(err.Error(), "sets no overrides.never_match") {
		t.Errorf("without a configured file: %v", err)
	}
}
