package console

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/insights"
)

func TestSegmentsListPreviewAndCSV(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken) // a read session may list and download
	body := c.page("/console/segments")
	mustContain(t, "segments page", body,
		`<a href="/console/segments/no_loyalty_no_checkout">no_loyalty_no_checkout</a>`,
		`<code>has no loyalty_id and never did &#34;Checkout&#34;</code>`,
		`<code>known and did &#34;Product view&#34; and never did &#34;Checkout&#34;</code>`,
		`<svg class="spark"`, `href="/console/segments/no_loyalty_no_checkout/members.csv"`)

	want, err := insights.Members(context.Background(), f.srv.Engine(), "no_loyalty_no_checkout")
	if err != nil || len(want) < 2 {
		t.Fatalf("members %v, %v: the example should have a few", want, err)
	}
	page := c.page("/console/segments/no_loyalty_no_checkout")
	for _, m := range want {
		mustContain(t, "segment page", page, `<a href="/console/customers/`+m.CustomerID+`">`)
	}

	resp, raw := c.get("/console/segments/no_loyalty_no_checkout/members.csv")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="no_loyalty_no_checkout.csv"` {
		t.Fatalf("CSV: %d %v", resp.StatusCode, resp.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want)+1 || strings.Join(rows[0], ",") != "customer_id,known,entered_run,entered_at" {
		t.Fatalf("CSV rows %v, want a header and %d members", rows, len(want))
	}
	for i, m := range want {
		if rows[i+1][0] != m.CustomerID {
			t.Errorf("CSV row %d: %v, want %s", i+1, rows[i+1], m.CustomerID)
		}
	}
	for _, path := range []string{"/console/segments/nope", "/console/segments/nope/members.csv"} {
		if resp, _ := c.get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	// Without a session there is no download.
	if resp, _ := f.client().get("/console/segments/no_loyalty_no_checkout/members.csv"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("CSV without a session: %d, want a redirect to sign-in", resp.StatusCode)
	}
}
