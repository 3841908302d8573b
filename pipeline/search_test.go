package pipeline_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/standardize"
)

// TestSearchIndex checks the search tables a run writes against the same
// index spelt out in Go from the results they are built from: a name term
// for every token of every name field of every record of a profile, an id
// term for every identifier, each with its profile's position and the
// search_profiles columns a search filters and sorts by; and the
// positions, segments and names of search_profiles themselves. It does so on the coffee example (accents, anonymous visitors
// with profiles of their own) and on a generated project, after a full run
// and after `knit run --only search`, which reads the live results back.
func TestSearchIndex(t *testing.T) {
	coffee := copyProject(t, "../examples/coffee")
	editConfig(t, coffee, "include_all_records: [", "include_all_records: [web, ")
	for name, dir := range map[string]string{"coffee": coffee, "generated": generated(t, 300)} {
		t.Run(name, func(t *testing.T) {
			p, _ := mustRun(t, dir)
			full := checkSearchIndex(t, p)
			if _, err := pipeline.Run(context.Background(), p.proj, p.db, pipeline.Options{Only: []string{"search"}}); err != nil {
				t.Fatal(err)
			}
			if again := checkSearchIndex(t, p); !slices.Equal(again, full) {
				t.Errorf("--only search wrote %d terms, the full run %d, or other ones", len(again), len(full))
			}
		})
	}
}

// TestSearchIndexWithoutNamesOrIdentifiers: a project whose sources have
// neither name fields nor identifiers (DBLP-ACM: titles and authors) still
// gets its (empty) search index.
func TestSearchIndexWithoutNamesOrIdentifiers(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "knit.yaml", `sources:
  a: {file: a.csv, primary_key: id, attributes: {title: paper.title}}
  b: {file: b.csv, primary_key: id, attributes: {title: paper.title}}
unify:
  include_all_records: [a, b]
  rules:
    - name: same title
      conditions: [{field: paper.title}]
`)
	writeFile(t, dir, "a.csv", "id,title\n1,Entity resolution\n2,Record linkage\n")
	writeFile(t, dir, "b.csv", "id,title\n1,Entity resolution\n")
	p, _ := mustRun(t, dir)
	if n := p.count("SELECT count(*) FROM search_terms"); n != 0 {
		t.Errorf("%d search terms, want none", n)
	}
	if n := p.count("SELECT count(*) FROM search_profiles"); n != 2 {
		t.Errorf("%d search profiles, want 2", n)
	}
}

// checkSearchIndex compares search_terms with the terms computed in Go
// and returns them, sorted.
func checkSearchIndex(t *testing.T, p *project) []string {
	t.Helper()
	names := pipeline.NameFields(&p.proj.Config)
	if len(names) == 0 {
		t.Fatal("the project has no name fields")
	}
	phones := map[string]bool{}
	for typ, it := range p.proj.Config.Identifiers {
		phones[typ] = strings.EqualFold(it.Normalize, "phone")
	}
	// The profile columns every term carries (its profile's position and
	// what a search filters and sorts by), by customer.
	termCols := "pos, known, record_count, first_seen, last_seen, segments"
	profiles := map[string]string{}
	queryRows(t, p, "SELECT s.*, "+quoteAll("p.", names)+" FROM (SELECT customer_id, name, sort_name, "+termCols+" FROM search_profiles) s JOIN profiles p ON p.customer_id = s.customer_id",
		func(v []sql.NullString) {
			profiles[v[0].String] = rowText(v[3:9])
			v = append(v[:3:3], v[9:]...) // customer_id, name, sort_name, name fields
			// The display name: the name fields that have a value, in order.
			var parts []string
			for _, f := range v[3:] {
				if f.Valid {
					parts = append(parts, f.String)
				}
			}
			if want := strings.Join(parts, " "); v[1].String != want || v[2].String != strings.ToLower(want) || v[1].Valid != (want != "") {
				t.Errorf("customer %s: name %q, sort name %q; want %q", v[0].String, v[1].String, v[2].String, want)
			}
		})
	if n := p.count("SELECT count(*) FROM profiles"); len(profiles) != n || n == 0 {
		t.Fatalf("%d search profiles, %d profiles", len(profiles), n)
	}
	// Each profile's segments, "|a|b|" in name order, from the members.
	inSegments := map[string][]string{}
	queryRows(t, p, "SELECT customer_id, segment FROM segment_members", func(v []sql.NullString) {
		inSegments[v[0].String] = append(inSegments[v[0].String], v[1].String)
	})
	if len(inSegments) == 0 {
		t.Fatal("no segment members")
	}
	queryRows(t, p, "SELECT customer_id, segments FROM search_profiles", func(v []sql.NullString) {
		want := sql.NullString{}
		if segs := inSegments[v[0].String]; len(segs) > 0 {
			slices.Sort(segs)
			want = sql.NullString{String: "|" + strings.Join(segs, "|") + "|", Valid: true}
		}
		if v[1] != want {
			t.Errorf("customer %s: segments %q (valid %v), want %q", v[0].String, v[1].String, v[1].Valid, want.String)
		}
	})
	checkPositions(t, p)
	// One email and one phone per profile: the least of its values of an
	// email or a phone type.
	kinds := map[string]string{}
	for typ, it := range p.proj.Config.Identifiers {
		kinds[typ] = strings.ToLower(it.Normalize)
	}
	least := map[[2]string]string{}
	queryRows(t, p, "SELECT customer_id, type, value FROM identifiers WHERE customer_id IS NOT NULL", func(v []sql.NullString) {
		k := [2]string{v[0].String, kinds[v[1].String]}
		if old, ok := least[k]; !ok || v[2].String < old {
			least[k] = v[2].String
		}
	})
	queryRows(t, p, "SELECT customer_id, email, phone FROM search_profiles", func(v []sql.NullString) {
		for i, kind := range []string{"email", "phone"} {
			want, ok := least[[2]string{v[0].String, kind}]
			if got := v[1+i]; got.Valid != ok || got.String != want {
				t.Errorf("customer %s: %s %q, want %q", v[0].String, kind, got.String, want)
			}
		}
	})
	seen := map[string]bool{}
	var want []string
	add := func(term, kind, label string, value sql.NullString, customer string) {
		row := rowText([]sql.NullString{{String: term, Valid: true}, {String: kind, Valid: true}, {String: label, Valid: true}, value}) + "|" + profiles[customer]
		if !seen[row] {
			seen[row] = true
			want = append(want, row)
		}
	}
	queryRows(t, p, "SELECT customer_id, "+quoteAll("", names)+" FROM records WHERE customer_id IS NOT NULL", func(v []sql.NullString) {
		for i, f := range v[1:] {
			folded, ok := standardize.Text(f.String)
			if !f.Valid || !ok {
				continue
			}
			for _, tok := range strings.Fields(folded) {
				add(tok, "name", names[i], sql.NullString{}, v[0].String)
			}
		}
	})
	queryRows(t, p, "SELECT customer_id, type, value FROM identifiers WHERE customer_id IS NOT NULL", func(v []sql.NullString) {
		term := strings.ToLower(v[2].String)
		if phones[v[1].String] {
			term = strings.TrimLeft(v[2].String, "+")
		}
		add(term, "id", v[1].String, v[2], v[0].String)
	})
	var got []string
	queryRows(t, p, "SELECT term, kind, label, value, "+termCols+" FROM search_terms", func(v []sql.NullString) {
		got = append(got, rowText(v[:4])+"|"+rowText(v[4:]))
	})
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		for _, r := range got {
			if !seen[r] {
				t.Errorf("unexpected term %s", r)
			}
		}
		t.Fatalf("search_terms: %d rows, want %d", len(got), len(want))
	}
	if p.count("SELECT count(*) FROM search_terms WHERE kind = 'name'") == 0 || p.count("SELECT count(*) FROM search_terms WHERE kind = 'id'") == 0 {
		t.Fatal("no name or no id terms")
	}
	checkTermOrder(t, p)
	return got
}

// checkTermOrder checks that search_terms is stored sorted: each kind and
// label in one run of rows, its terms in order. The zone maps that let a
// search skip row groups depend on it.
func checkTermOrder(t *testing.T, p *project) {
	t.Helper()
	var prev []sql.NullString
	done := map[string]bool{}
	queryRows(t, p, "SELECT kind, label, term FROM search_terms ORDER BY rowid", func(v []sql.NullString) {
		scope := v[0].String + "/" + v[1].String
		switch {
		case prev == nil || prev[0] != v[0] || prev[1] != v[1]:
			if done[scope] {
				t.Errorf("search_terms: the terms of %s are not in one run of rows", scope)
			}
			done[scope] = true
		case v[2].String < prev[2].String:
			t.Errorf("search_terms: %s term %q stored after %q", scope, v[2].String, prev[2].String)
		}
		prev = slices.Clone(v) // queryRows reuses v
	})
}

// checkPositions checks pos and known_pos against the profiles numbered in
// Go: last seen, newest first (never-seen last), then by customer ID,
// among all profiles and among the known or the unknown.
func checkPositions(t *testing.T, p *project) {
	t.Helper()
	type prof struct {
		id, last      string
		seen, known   bool
		pos, knownPos string
	}
	var all []prof
	queryRows(t, p, "SELECT customer_id, CAST(known AS VARCHAR), CAST(last_seen AS VARCHAR), CAST(pos AS VARCHAR), CAST(known_pos AS VARCHAR) FROM search_profiles", func(v []sql.NullString) {
		all = append(all, prof{id: v[0].String, known: v[1].String == "true", last: v[2].String, seen: v[2].Valid, pos: v[3].String, knownPos: v[4].String})
	})
	// Timestamps as DuckDB prints them sort as text.
	slices.SortFunc(all, func(a, b prof) int {
		if a.seen != b.seen {
			if a.seen {
				return -1
			}
			return 1
		}
		if c := strings.Compare(b.last, a.last); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	n := map[bool]int{}
	for i, x := range all {
		n[x.known]++
		if want := fmt.Sprint(i + 1); x.pos != want {
			t.Errorf("customer %s: pos %s, want %s", x.id, x.pos, want)
		}
		if want := fmt.Sprint(n[x.known]); x.knownPos != want {
			t.Errorf("customer %s (known %v): known_pos %s, want %s", x.id, x.known, x.knownPos, want)
		}
	}
	if n[true] == 0 {
		t.Error("no known profiles")
	}
}

func quoteAll(prefix string, cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = prefix + `"` + c + `"`
	}
	return strings.Join(q, ", ")
}

// rowText renders values with NULL distinct from any string.
func rowText(v []sql.NullString) string {
	var b strings.Builder
	for _, s := range v {
		if s.Valid {
			fmt.Fprintf(&b, "%q,", s.String)
		} else {
			b.WriteString("NULL,")
		}
	}
	return b.String()
}

// queryRows scans every row of a query as strings.
func queryRows(t *testing.T, p *project, query string, each func([]sql.NullString)) {
	t.Helper()
	rows, err := p.db.SQL().Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	v := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range v {
		dest[i] = &v[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		each(v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
