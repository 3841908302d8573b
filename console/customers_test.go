package console

import (
	"net/http"
	"strings"
	"testing"
)

func TestCustomersPage(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	body := c.page("/console/customers")
	mustContain(t, "customers page", body, "Showing 1–7 of 7 customers", ">Jane Doe</a>", `<span class="tag unknown">unknown</span>`,
		`<label for="q">Search</label>`, `<option value="first_visit_while_unknown">`)

	// Search calls lookup.Search: Unknown1 finds Jane's merged profile.
	body = c.page("/console/customers?q=Unknown1")
	mustContain(t, "search for Unknown1", body, "Showing 1–1 of 1 customers", ">Jane Doe</a>", `value="Unknown1"`)

	body = c.page("/console/customers?known=unknown")
	mustContain(t, "unknown filter", body, "Showing 1–1 of 1 customers", `<option value="unknown" selected>`)
	if strings.Contains(body, "Jane Doe") {
		t.Error("the unknown filter lists Jane")
	}
	body = c.page("/console/customers?segment=first_visit_while_unknown")
	// Jane (first seen browsing as Unknown1) and Unkonwn5.
	mustContain(t, "segment filter", body, "Showing 1–2 of 2 customers", ">Jane Doe</a>", `<option value="first_visit_while_unknown" selected>`)

	// Pages of 3: links keep the filters, counts stay the total.
	f.con.perPage = 3
	body = c.page("/console/customers?known=known&sort=-records")
	mustContain(t, "first page", body, "Showing 1–3 of 6 customers", `rel="next" href="/console/customers?known=known&amp;offset=3&amp;sort=-records"`)
	if strings.Contains(body, `rel="prev"`) {
		t.Error("the first page links to a previous one")
	}
	body = c.page("/console/customers?known=known&sort=-records&offset=3")
	mustContain(t, "last page", body, "Showing 4–6 of 6 customers", `rel="prev" href="/console/customers?known=known&amp;sort=-records"`)
	if strings.Contains(body, `rel="next"`) {
		t.Error("the last page links to a next one")
	}

	for _, bad := range []string{"?offset=-1", "?offset=x", "?offset=10000000", "?known=maybe"} {
		if resp, _ := c.get("/console/customers" + bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /console/customers%s: %d, want 400", bad, resp.StatusCode)
		}
	}
}
