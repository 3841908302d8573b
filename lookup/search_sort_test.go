package lookup_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/lookup"
)

// A text search finds its hits in search_terms, pages them there and reads
// the columns it only shows from search_profiles by position: every sort,
// with and without a filter, walked one hit per page (so each page reads
// one position), gives the hits in the order and with the columns that
// search_profiles spells out for the same customers.
func TestSearchTextSortsAndColumns(t *testing.T) {
	proj, eng := coffee(t)
	t.Run("sorts and columns", func(t *testing.T) { testTextSorts(t, proj, eng) })
}

// shownProfile is a search_profiles row as a hit shows and sorts it.
type shownProfile struct {
	hit                           lookup.SearchHit
	sortName, firstSeen, lastSeen sql.NullString
}

func testTextSorts(t *testing.T, proj *config.Project, eng engine.Engine) {
	ctx := context.Background()
	profiles := map[string]shownProfile{}
	rows, err := eng.Query(ctx, `SELECT customer_id, known, name, email, phone, record_count, sources, sort_name,
  CAST(first_seen AS VARCHAR), CAST(last_seen AS VARCHAR) FROM search_profiles`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p shownProfile
		var name, email, phone sql.NullString
		if err := rows.Scan(&p.hit.CustomerID, &p.hit.Known, &name, &email, &phone, &p.hit.Records, &p.hit.Sources,
			&p.sortName, &p.firstSeen, &p.lastSeen); err != nil {
			t.Fatal(err)
		}
		p.hit.Name, p.hit.Email, p.hit.Phone, p.hit.LastSeen = name.String, email.String, phone.String, p.lastSeen.String
		profiles[p.hit.CustomerID] = p
	}
	rows.Close()
	// Text compares as SQL sorts these columns: timestamps print in a
	// sortable form, record counts are padded.
	key := map[string]func(p shownProfile) sql.NullString{
		"last_seen":  func(p shownProfile) sql.NullString { return p.lastSeen },
		"first_seen": func(p shownProfile) sql.NullString { return p.firstSeen },
		"records": func(p shownProfile) sql.NullString {
			return sql.NullString{String: fmt.Sprintf("%020d", p.hit.Records), Valid: true}
		},
		"name": func(p shownProfile) sql.NullString { return p.sortName },
	}
	scores := map[string]int{"exact": 3, "prefix": 2, "typo": 1}
	for _, text := range []string{"503", "unk", "a", "s"} {
		for _, known := range []string{"", "known", "unknown"} {
			all := search(t, proj, eng, lookup.SearchQuery{Text: text, Known: known, Limit: lookup.MaxSearchLimit})
			if known == "" && all.Total < 2 {
				t.Fatalf("%q finds %d customers; the test needs several", text, all.Total)
			}
			score := map[string]int{}
			for _, h := range all.Hits {
				score[h.CustomerID] = scores[h.Match]
			}
			for _, sort := range []string{"", "last_seen", "-last_seen", "first_seen", "-first_seen", "records", "-records", "name", "-name"} {
				want := slices.Clone(all.Hits)
				slices.SortStableFunc(want, func(a, b lookup.SearchHit) int {
					pa, pb := profiles[a.CustomerID], profiles[b.CustomerID]
					if sort == "" {
						if c := cmp.Compare(score[b.CustomerID], score[a.CustomerID]); c != 0 {
							return c
						}
					}
					col := strings.TrimPrefix(sort, "-")
					if col == "" {
						col = "last_seen"
					}
					ka, kb := key[col](pa), key[col](pb)
					switch {
					case ka.Valid != kb.Valid && ka.Valid:
						return -1
					case ka.Valid != kb.Valid:
						return 1
					}
					c := strings.Compare(ka.String, kb.String)
					if sort == "" || strings.HasPrefix(sort, "-") {
						c = -c
					}
					if c != 0 {
						return c
					}
					return strings.Compare(a.CustomerID, b.CustomerID)
				})
				var got []lookup.SearchHit
				for off := 0; off < int(all.Total)+1; off++ {
					page := search(t, proj, eng, lookup.SearchQuery{Text: text, Known: known, Sort: sort, Limit: 1, Offset: off})
					if page.Total != all.Total {
						t.Fatalf("%q %s sort %q at %d: total %d, want %d", text, known, sort, off, page.Total, all.Total)
					}
					got = append(got, page.Hits...)
				}
				if len(got) != len(want) {
					t.Fatalf("%q %s sort %q: %d hits in pages of one, %d in one page", text, known, sort, len(got), len(want))
				}
				for i, h := range got {
					p := profiles[want[i].CustomerID].hit
					p.Matched, p.Match = want[i].Matched, want[i].Match
					if h != p {
						t.Errorf("%q %s sort %q, hit %d:\n got  %+v\n want %+v", text, known, sort, i, h, p)
					}
				}
			}
		}
	}
}
