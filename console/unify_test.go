package console

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/internal/testproject"
)

// badRows adds rows the web source rejects (timestamps that do not parse).
func badRows(t *testing.T, n int) func(dir string) {
	return func(dir string) {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%d,13-45-2022 99:00:%02d,Visitor%d,--,Product view\n", 100+i, i%60, i)
		}
		testproject.Append(t, dir, "data/web_events.csv", b.String())
	}
}

func TestUnifyPage(t *testing.T) {
	f := newFixture(t, badRows(t, 2))
	c := f.signedIn(readToken)
	body := c.page("/console/unify")
	mustContain(t, "unify page", body,
		`<td data-label="Source">web</td>`,
		`<a href="/console/unify/rejected?source=web" aria-label="2 rejected rows of web">2</a>`,
		`<td data-label="Rule">same last name and phone</td>`,
		`<td data-label="Guard">blocked value</td>`, `<td data-label="Guard">generic value</td>`,
		`<code>loyalty_id:9999</code>`, // the stores' shared walk-in card
		"has no probabilistic model")
	rej := c.page("/console/unify/rejected?source=web")
	mustContain(t, "rejected rows", rej, "2 rows rejected", `cannot parse &#34;13-45-2022 99:00:00&#34;`, "<code>data/web_events.csv</code>", "EventTimeStamp")
	if strings.Contains(rej, `rel="next"`) {
		t.Error("one page of rejected rows offers a next page")
	}
	for path, status := range map[string]int{
		"/console/unify/rejected?source=nope": http.StatusNotFound,
		"/console/unify/rejected?page=0":      http.StatusBadRequest,
		"/console/unify/rejected?page=x":      http.StatusBadRequest,
	} {
		if resp, _ := c.get(path); resp.StatusCode != status {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
	}
}

// Rejected rows are paged 50 at a time, the last page holding the rest.
func TestRejectedRowsPaginate(t *testing.T) {
	f := newFixture(t, badRows(t, 120))
	c := f.signedIn(readToken)
	first := c.page("/console/unify/rejected?source=web")
	mustContain(t, "page 1", first, "120 rows rejected", "page 1 of 3", `href="/console/unify/rejected?page=2&amp;source=web" rel="next"`)
	last := c.page("/console/unify/rejected?source=web&page=3")
	if n := strings.Count(last, `<td data-label="Source">web</td>`); n != 20 {
		t.Errorf("page 3 shows %d rows, want 20", n)
	}
	mustContain(t, "page 3", last, `rel="prev"`)
	if strings.Contains(last, `rel="next"`) {
		t.Error("the last page offers a next page")
	}
}
