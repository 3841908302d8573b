package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/internal/testproject"
)

// rowOf returns the timeline row (<tr>…</tr>) holding an activity ID.
func rowOf(t *testing.T, body, activity string) string {
	t.Helper()
	i := strings.Index(body, "<code>"+activity+"</code>")
	if i < 0 {
		t.Fatalf("no activity %s on the page", activity)
	}
	start := strings.LastIndex(body[:i], "<tr")
	end := strings.Index(body[i:], "</tr>")
	return body[start : i+end]
}

func TestProfilePage(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	body := c.page("/console/customers/" + url.PathEscape("anonymous_id:Unknown1"))
	mustContain(t, "Unknown1's profile", body,
		"<h1>Jane Doe</h1>", "anonymous_id:Unknown1 belongs to this customer",
		`<span class="tag known">known</span> since 2022-07-23 10:05:00 UTC`,
		// Unified fields: the winner and the alternative. The web shop
		// account is the most recent record (10:15), so it wins the names
		// (most_recent); the city comes from the loyalty record (the only
		// one with a city).
		`<td data-label="Won by"><code>ecommerce/A-1001</code><br><span class="hint">policy most_recent, updated 2022-07-23 10:15:00</span>`,
		`Jane <span class="hint">from <code>loyalty/707</code>, updated 2022-07-23 10:05:00</span>`,
		`<td data-label="Value">Portland</td>`,
		// The keyring grouped by source.
		"<h3>loyalty</h3>", "<h3>web</h3>", "<code>web/Unknown1</code>", "<code>anonymous_id:Unknown1</code>", "<code>loyalty_id:707</code>",
		// Measures and segments with their entry time.
		"<dt>revenue</dt><dd>4.50</dd>",
		`first_visit_while_unknown</a></td>`, `<td data-label="Entered">2023-02-01 00:00:00 <span class="hint">run 1</span></td>`, "still a member",
		`href="/console/customers/`+"")
	// The pre-sign-in product view is marked; the checkout after is not.
	if row := rowOf(t, body, "web/1"); !strings.Contains(row, `class="while-unknown"`) || !strings.Contains(row, "while unknown") || !strings.Contains(row, "Product view") {
		t.Errorf("the 10:00 product view is not marked as while unknown: %s", row)
	}
	for _, known := range []string{"web/3", "web/5", "pos/T-5001"} {
		if row := rowOf(t, body, known); strings.Contains(row, "while unknown") {
			t.Errorf("%s is marked while unknown: %s", known, row)
		}
	}
	if n := strings.Count(body, `class="while-unknown"`); n != 1 {
		t.Errorf("%d rows marked while unknown, want 1", n)
	}
	// Newest first.
	if strings.Index(body, "<code>pos/T-5001</code>") > strings.Index(body, "<code>web/1</code>") {
		t.Error("the timeline is not newest first")
	}
	// The why-merged link goes to the customer's ID.
	id := regexp.MustCompile(`<dt>Customer ID</dt><dd><code>([^<]+)</code>`).FindStringSubmatch(body)
	if id == nil {
		t.Fatal("no customer ID on the page")
	}
	mustContain(t, "profile", body, `href="/console/customers/`+id[1]+`/why"`)
	// The same page by customer ID and by record key.
	for _, key := range []string{id[1], "loyalty/707"} {
		mustContain(t, "profile by "+key, c.page("/console/customers/"+url.PathEscape(key)), "<h1>Jane Doe</h1>")
	}
}

func TestProfileTimelineFilter(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	base := "/console/customers/" + url.PathEscape("loyalty_id:707")
	body := c.page(base + "?type=Checkout")
	mustContain(t, "type filter", body, "<code>web/3</code>", `<option value="Checkout" selected>Checkout (1)</option>`)
	if strings.Contains(body, "<code>web/1</code>") || strings.Contains(body, "<code>pos/T-5001</code>") {
		t.Error("the type filter shows other types")
	}
	body = c.page(base + "?from=2022-07-24")
	mustContain(t, "from filter", body, "<code>pos/T-5001</code>", `value="2022-07-24"`)
	if strings.Contains(body, "<code>web/1</code>") {
		t.Error("the from filter shows older activities")
	}
	// To is inclusive: the whole of July 23.
	body = c.page(base + "?to=2022-07-23")
	mustContain(t, "to filter", body, "<code>web/1</code>", "<code>web/5</code>")
	if strings.Contains(body, "<code>pos/T-5001</code>") {
		t.Error("the to filter shows later activities")
	}
	body = c.page(base + "?from=2021-01-01&to=2021-12-31")
	mustContain(t, "empty filter", body, "No activities match the filter")
	for _, bad := range []string{"?from=23/07/2022", "?to=yesterday"} {
		if resp, _ := c.get(base + bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", bad, resp.StatusCode)
		}
	}
	for key, want := range map[string]int{"loyalty_id:99999": 404, "no_such_type:1": 400} {
		if resp, _ := c.get("/console/customers/" + url.PathEscape(key)); resp.StatusCode != want {
			t.Errorf("GET profile %s: %d, want %d", key, resp.StatusCode, want)
		}
	}
}

func TestProfilePreviousIDs(t *testing.T) {
	// First run: Unknown1 has not signed in yet, and is a profile of its own.
	signIn := "5,07-23-2022 10:30:00,Unknown1,707,Loyalty sign-in\n"
	f := newFixture(t, func(dir string) { testproject.Edit(t, dir, "data/web_events.csv", signIn, "") })
	c := f.signedIn(readToken)
	body := c.page("/console/customers/" + url.PathEscape("anonymous_id:Unknown1"))
	mustContain(t, "Unknown1 before signing in", body, `<span class="tag unknown">unknown</span>`)
	m := regexp.MustCompile(`<dt>Customer ID</dt><dd><code>([^<]+)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no customer ID on the page")
	}
	anonID := m[1]
	// Then the sign-in arrives and a run merges Unknown1 into Jane.
	testproject.Append(t, f.dir, "data/web_events.csv", signIn)
	if st := f.srv.Run(context.Background()); st.Status != "succeeded" {
		t.Fatalf("second run: %s %s", st.Status, st.Error)
	}
	body = c.page("/console/customers/" + url.PathEscape("anonymous_id:Unknown1"))
	mustContain(t, "Jane after the merge", body, "<h1>Jane Doe</h1>", "<h3>Previous customer IDs</h3>",
		"<code>"+anonID+"</code> <span class=\"hint\">merged in run 2</span>")
	// Home's trend follows the change: Unknown1 had no loyalty ID and no
	// checkout; merged into Jane it leaves no_loyalty_no_checkout.
	mustContain(t, "home after two runs", c.page("/console/"), `aria-label="3 members after run 1, 2 after run 2"`)
	// The old ID still opens the profile, and says where it went.
	body = c.page("/console/customers/" + anonID)
	mustContain(t, "the old ID", body, "<h1>Jane Doe</h1>", "Customer ID "+anonID+" was merged into this customer.")
}

func TestHostileValuesAreEscaped(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	escaped := `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`
	pages := map[string]string{
		"customers": c.page("/console/customers"),
		"profile":   c.page("/console/customers/" + url.PathEscape("loyalty_id:712")),
		// The search text comes back in the search box.
		"search": c.page("/console/customers?q=" + url.QueryEscape(`"><script>alert(1)</script>`)),
	}
	for name, body := range pages {
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s page holds unescaped markup from the data", name)
		}
	}
	mustContain(t, "customers page", pages["customers"], escaped)
	mustContain(t, "profile page", pages["profile"], "<h1>"+escaped+" Evil</h1>", "&lt;img src=x onerror=alert(2)&gt;")
	mustContain(t, "search page", pages["search"], `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`)
}
