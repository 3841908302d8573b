package console

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/lookup"
)

func (f *fixture) customerOf(key string) string {
	f.t.Helper()
	res, err := lookup.Resolve(context.Background(), f.srv.Engine(), f.srv.Project(), key)
	if err != nil {
		return ""
	}
	return res.CustomerID
}

// The why-merged page of Jane's profile draws her records and the links
// that joined them, lists them in a table, and lets an admin store a
// never-match pair that the next run applies.
func TestWhyMergedAndNeverMatch(t *testing.T) {
	f := newFixture(t)
	jane := f.customerOf("loyalty/707")
	if jane == "" || f.customerOf("web/Unknown1") != jane {
		t.Fatal("Unknown1 signed in as 707 and should be on Jane's profile")
	}
	path := "/console/customers/" + jane + "/why"
	admin := f.signedIn(adminToken)
	body := admin.page(path)
	mustContain(t, "why page", body,
		`<svg class="why-graph"`, `role="img"`,
		">loyalty/707</text>", ">web/Unknown1</text>",
		"<code>anonymous_id:Unknown1 &#43; loyalty_id:707 (web event 5)</code>",
		"<code>email:jane.doe@example.com</code>",
		`aria-label="Never match loyalty/707 and web/Unknown1"`,
		"No stored override touches this profile")
	// Reached by any key of the profile too.
	mustContain(t, "why page by key", admin.page("/console/customers/anonymous_id:Unknown1/why"), "<code>"+jane+"</code>")

	form := url.Values{"kind": {"never_match"}, "a": {"loyalty/707"}, "b": {"web/Unknown1"}, "back": {path}}
	// A read-only session may look but not write; nobody writes without the CSRF token.
	reader := f.signedIn(readToken)
	readBody := reader.page(path)
	if strings.Contains(readBody, "/console/overrides") {
		t.Error("a read-only session is offered the override forms")
	}
	withCSRF := url.Values{"csrf": {reader.csrf(readBody)}}
	for k, v := range form {
		withCSRF[k] = v
	}
	if resp, _ := reader.post("/console/overrides", withCSRF); resp.StatusCode != http.StatusForbidden {
		t.Errorf("read session storing an override: %d, want 403", resp.StatusCode)
	}
	if resp, _ := admin.post("/console/overrides", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("override without CSRF token: %d, want 403", resp.StatusCode)
	}
	file := filepath.Join(f.dir, "overrides", "never_match.csv")
	if b, _ := os.ReadFile(file); strings.Contains(string(b), "Unknown1") {
		t.Fatalf("a refused request wrote the file: %q", b)
	}

	form.Set("csrf", admin.csrf(body))
	resp, _ := admin.post("/console/overrides", form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, path+"?") {
		t.Fatalf("storing an override: %d → %q", resp.StatusCode, loc)
	}
	if b, _ := os.ReadFile(file); string(b) != "left,right\nloyalty/707,web/Unknown1\n" {
		t.Errorf("never_match.csv = %q", b)
	}
	body = admin.page(loc)
	mustContain(t, "page after storing", body, "Override stored.", "The next run applies it", "applied by the next run")

	// A bad pair is refused with a reason, and nothing is written.
	bad := url.Values{"csrf": {admin.csrf(body)}, "kind": {"never_match"}, "a": {"loyalty/707"}, "b": {"loyalty/999"}}
	if resp, body := admin.post("/console/overrides", bad); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no record loyalty/999") {
		t.Errorf("unknown record: %d", resp.StatusCode)
	}

	// The next run applies it: Unknown1 leaves Jane's profile, which keeps its ID.
	if st := f.srv.Run(context.Background()); st.Status != "succeeded" {
		t.Fatalf("run: %s %s", st.Status, st.Error)
	}
	if f.customerOf("loyalty/707") != jane || f.customerOf("web/Unknown1") == jane {
		t.Fatal("the run did not split web/Unknown1 from Jane")
	}
	body = admin.page(path)
	if strings.Contains(body, ">web/Unknown1</text>") {
		t.Error("web/Unknown1 is still drawn on Jane's graph")
	}
	// The link the override refused is listed, on Jane's page, with its guard.
	mustContain(t, "page after the run", body, "in effect", `<td data-label="Guard">never-match override</td>`,
		"never-match override: web/Unknown1 and loyalty/707")
}

func TestWhyUnknownCustomer(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	if resp, _ := c.get("/console/customers/00000000-0000-4000-8000-000000000000/why"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown customer: %d, want 404", resp.StatusCode)
	}
}

// The page an override form returns to stays inside the console.
func TestOverrideReturnsInsideTheConsole(t *testing.T) {
	f := newFixture(t)
	admin := f.signedIn(adminToken)
	body := admin.page("/console/unify")
	for back, want := range map[string]string{
		"//evil.example/x":          "/console/?",
		"https://evil.example/":     "/console/?",
		"/console/unify?x=1#frag":   "/console/unify?",
		"/console/segments\r\nX: y": "/console/?",
	} {
		resp, _ := admin.post("/console/overrides", url.Values{"csrf": {admin.csrf(body)}, "kind": {"never_match"},
			"a": {"loyalty/708"}, "b": {"loyalty/711"}, "back": {back}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, want) {
			t.Errorf("back %q: %d → %q, want a redirect to %s…", back, resp.StatusCode, loc, want)
		}
	}
}
