package console

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHomePage(t *testing.T) {
	f := newFixture(t)
	body := f.signedIn(readToken).page("/console/")
	// 8 profiles: Jane (with Unknown1 and Auth234), Bob, Maria, Ana, Eve
	// (the hostile row), two e-commerce accounts of their own, and the
	// still-unknown visitor Unkonwn5.
	known, unknown, err := f.con.profileCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if unknown != 1 || known < 5 {
		t.Errorf("profile counts: known %d unknown %d, want ≥5 and 1", known, unknown)
	}
	mustContain(t, "home page", body,
		`<span class="n">`+fmtNum(known)+`</span> <span class="l">known profiles`,
		`<span class="n">1</span> <span class="l">unknown profiles`,
		`<td data-label="Source">loyalty</td>`, `<td data-label="Source">web</td>`,
		`<span class="status-succeeded">succeeded</span>`,
		`href="/console/customers?segment=browsed_not_bought"`, `<svg class="spark"`,
		`href="/console/unify"`, `href="/console/segments"`)
	if strings.Contains(body, "No run yet") {
		t.Error("home page says no run yet after a run")
	}
}

func TestDumpPages(t *testing.T) {
	dir := os.Getenv("CONSOLE_DUMP")
	if dir == "" {
		t.Skip("set CONSOLE_DUMP to a folder to write pages for a look")
	}
	f := newFixture(t)
	c := f.signedIn(adminToken)
	for name, path := range map[string]string{"home": "/console/", "runs": "/console/runs",
		"customers": "/console/customers", "profile": "/console/customers/anonymous_id:Unknown1", "unknown": "/console/customers?known=unknown"} {
		os.WriteFile(filepath.Join(dir, name+".html"), []byte(c.page(path)), 0o644)
	}
}

// A project that has never run: pages say so instead of failing.
func TestPagesBeforeTheFirstRun(t *testing.T) {
	f := newUnrunFixture(t)
	c := f.signedIn(adminToken)
	mustContain(t, "home page", c.page("/console/"), "The project has no results yet", "No run yet", "No segments in the last run")
	mustContain(t, "runs page", c.page("/console/runs"), "No run yet", "Start a run")
	resp, body := c.get("/console/customers")
	if resp.StatusCode != 404 {
		t.Errorf("customers before any run: %d, want 404", resp.StatusCode)
	}
	mustContain(t, "customers page", body, "run `knit run` first")
}
