package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/pipeline"
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

// modelPeople replaces the project with people records, a third of them
// duplicated with a typo and a third near-duplicated (another first name
// ending, another birth year), and trains a probabilistic model on them,
// so some pairs score near the threshold.
func modelPeople(t *testing.T) func(dir string) {
	return func(dir string) {
		firsts := []string{"anna", "mark", "lena", "omar", "ivan", "sara", "paul", "nina", "otto", "rosa", "karl", "emma"}
		lasts := []string{"berg", "cole", "diaz", "ekor", "fahl", "gunn", "hale", "ibsen", "jost", "kuhn", "lund", "moss"}
		var b strings.Builder
		b.WriteString("id,first,last,dob\n")
		id := 0
		for n := range 240 {
			f, l := firsts[n%12], lasts[(n/12)%12]+strings.Repeat("x", n/144)
			dob := func(y int) string { return fmt.Sprintf("19%d%d-%02d-%02d", 5+y%4, n%10, 1+n%12, 10+n%17) }
			id++
			fmt.Fprintf(&b, "%d,%s,%s,%s\n", id, f, l, dob(n))
			switch n % 3 {
			case 0:
				id++
				fmt.Fprintf(&b, "%d,%s,%s,%s\n", id, f, l[:len(l)-1]+"q", dob(n))
			case 1:
				id++
				fmt.Fprintf(&b, "%d,%s,%s,%s\n", id, f[:len(f)-1]+"e", l, dob(n+1))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		err := os.WriteFile(filepath.Join(dir, "knit.yaml"), []byte(`sources:
  crm:
    file: people.csv
    primary_key: id
    attributes: {first: person.first_name, last: person.last_name, dob: person.dob}
unify:
  include_all_records: [crm]
  model:
    link: dedupe_only
    comparisons:
      - {field: person.first_name, preset: name}
      - {field: person.last_name, preset: name}
      - {field: person.dob, preset: date_of_birth}
    blocking: [[person.dob], [person.first_name]]
    training: {sample_pairs: 5000}
overrides:
  always_match: overrides/always_match.csv
`), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		proj, err := config.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		db, err := duckdb.Open(filepath.Join(dir, proj.Config.Store))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, _, err := pipeline.Train(context.Background(), proj, db, pipeline.Options{}); err != nil {
			t.Fatal(err)
		}
	}
}

// With a model, the Unify page lists the pairs scored within 0.1 of the
// threshold, closest first, and an admin can confirm one as always-match.
func TestUnifyReviewsPairsNearTheThreshold(t *testing.T) {
	f := newFixture(t, modelPeople(t))
	var want []string
	rows, err := f.srv.Engine().Query(context.Background(),
		`SELECT a, b FROM match_pairs WHERE probability BETWEEN 0.8 AND 1.0 ORDER BY abs(probability - 0.9), a, b LIMIT 50`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b string
		rows.Scan(&a, &b)
		want = append(want, "Always match "+a+" and "+b)
	}
	rows.Close()
	if len(want) == 0 {
		t.Fatal("the model scored no pair near its threshold: the test data should give some")
	}
	admin := f.signedIn(adminToken)
	body := admin.page("/console/unify")
	var got []string
	for _, m := range regexp.MustCompile(`aria-label="(Always match [^"]+)"`).FindAllStringSubmatch(body, -1) {
		got = append(got, m[1])
	}
	if !slices.Equal(got, want) {
		t.Errorf("review list\n  %v\nwant\n  %v", got, want)
	}
	mustContain(t, "review", body, "within 0.1 of the threshold 0.9", "prior λ")
	pair := strings.Fields(strings.TrimPrefix(want[0], "Always match "))
	resp, _ := admin.post("/console/overrides", url.Values{"csrf": {admin.csrf(body)}, "kind": {"always_match"},
		"a": {pair[0]}, "b": {pair[2]}, "back": {"/console/unify"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/unify?") {
		t.Fatalf("storing from the review list: %d → %q", resp.StatusCode, loc)
	} else {
		mustContain(t, "unify after storing", admin.page(loc), "Override stored.", "“always match”")
	}
	// A read session sees the list without the buttons.
	if body := f.signedIn(readToken).page("/console/unify"); strings.Contains(body, "/console/overrides") {
		t.Error("a read-only session is offered override buttons")
	}
}
