package lookup_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/lookup"
	"github.com/knit-cdp/knit/pipeline"
)

// coffee runs the coffee example, with web visitors included as unknown
// profiles, on a fresh DuckDB file.
func coffee(t *testing.T) (*config.Project, engine.Engine) {
	t.Helper()
	dir := testproject.Copy(t, "../examples/coffee")
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	proj.Config.Unify.IncludeAllRecords = append(proj.Config.Unify.IncludeAllRecords, "web")
	db, err := duckdb.Open(filepath.Join(dir, "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := pipeline.Run(context.Background(), proj, db, pipeline.Options{Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	return proj, db
}

func search(t *testing.T, proj *config.Project, eng engine.Engine, q lookup.SearchQuery) *lookup.SearchResult {
	t.Helper()
	res, err := lookup.Search(context.Background(), eng, proj, q)
	if err != nil {
		t.Fatalf("search %+v: %v", q, err)
	}
	return res
}

func resolve(t *testing.T, proj *config.Project, eng engine.Engine, key string) string {
	t.Helper()
	res, err := lookup.Resolve(context.Background(), eng, proj, key)
	if err != nil {
		t.Fatal(err)
	}
	return res.CustomerID
}

// TestSearch runs read-only searches on one run of the coffee example.
func TestSearch(t *testing.T) {
	proj, eng := coffee(t)
	t.Run("finds", func(t *testing.T) { testSearchFinds(t, proj, eng) })
	t.Run("filters, sorts and pages", func(t *testing.T) { testSearchFilters(t, proj, eng) })
	t.Run("rejects bad input", func(t *testing.T) { testSearchRejects(t, proj, eng) })
}

func testSearchFinds(t *testing.T, proj *config.Project, eng engine.Engine) {
	jane := resolve(t, proj, eng, "loyalty_id:707")
	maria := resolve(t, proj, eng, "loyalty_id:709")
	visitor := resolve(t, proj, eng, "anonymous_id:Unknown1")
	for _, c := range []struct {
		text, want, match, matched string
	}{
		{"jan", jane, "prefix", "email:jane.doe@example.com"},
		{"Jane", jane, "exact", "name:jane"},
		{"Jnae", jane, "typo", "name:jane"},                                   // two letters swapped
		{"jane.doe@exmaple.com", jane, "typo", "email:jane.doe@example.com"},  // the domain misspelt
		{"Jane.Doe@Example.COM", jane, "exact", "email:jane.doe@example.com"}, // case
		{"(503) 555-0100", jane, "exact", "phone:+15035550100"},               // another format
		{"+1 503 555 0100", jane, "exact", "phone:+15035550100"},              //
		{"503-555-010", jane, "prefix", "phone:+15035550100"},                 // typed so far, no country code
		{"email:jane.d", jane, "prefix", "email:jane.doe@example.com"},        // type:value prefix
		{"loyalty_id:707", jane, "exact", "loyalty_id:707"},                   // type:value
		{"unknown1", visitor, "exact", "anonymous_id:Unknown1"},               // an anonymous visitor
		{"loyalty/707", jane, "exact", "record:loyalty/707"},                  // record key
		{"jane doe", jane, "exact", "name:jane"},                              // words
		{"DOE  jan", jane, "prefix", "name:doe"},                              // any order, last word typed so far
		{"maría garcía", maria, "exact", "name:maria"},                        // accents fold
		{"Garica", maria, "typo", "name:garcia"},                              //
		{strings.ToUpper(jane), jane, "exact", "customer_id"},                 // customer ID
	} {
		res := search(t, proj, eng, lookup.SearchQuery{Text: c.text})
		if len(res.Hits) == 0 || res.Hits[0].CustomerID != c.want {
			t.Errorf("%q: first hit %+v, want customer %s", c.text, res.Hits, c.want)
			continue
		}
		h := res.Hits[0]
		if h.Match != c.match || h.Matched != c.matched {
			t.Errorf("%q: match %s %q, want %s %q", c.text, h.Match, h.Matched, c.match, c.matched)
		}
		if int64(len(res.Hits)) != res.Total {
			t.Errorf("%q: %d hits on one page, total %d", c.text, len(res.Hits), res.Total)
		}
	}
	h := search(t, proj, eng, lookup.SearchQuery{Text: "jane"}).Hits[0]
	if h.Name != "Jane Doe" || h.Email != "jane.doe@example.com" || h.Phone != "+15035550100" || !h.Known || h.Records < 3 {
		t.Errorf("Jane's hit: %+v", h)
	}
	for _, text := range []string{"jane smith", "zzzz", "Jn", "%", "_", "j%e", `\`, "jane'; DROP TABLE profiles; --"} {
		if res := search(t, proj, eng, lookup.SearchQuery{Text: text}); res.Total != 0 || len(res.Hits) != 0 {
			t.Errorf("%q found %d: %+v", text, res.Total, res.Hits)
		}
	}
	if ok, err := eng.TableExists(context.Background(), "profiles"); !ok || err != nil {
		t.Fatalf("profiles table after hostile search: %v %v", ok, err)
	}
}

// TestSearchKeysAndIndex changes the results: a previous ID, then the
// index dropped and rebuilt by the search stage alone.
func TestSearchKeysAndIndex(t *testing.T) {
	proj, eng := coffee(t)
	ctx := context.Background()
	// A previous ID: register a merged customer ID by hand as a merge
	// would, and search for it.
	jane := resolve(t, proj, eng, "loyalty_id:707")
	old := "00000000-0000-4000-8000-000000000001"
	if err := eng.Exec(ctx, engine.Rebind(eng.Dialect(),
		`INSERT INTO customer_ids VALUES (?, 1, 'loyalty/0', 'merged', ?, 2)`), old, jane); err != nil {
		t.Fatal(err)
	}
	res := search(t, proj, eng, lookup.SearchQuery{Text: old})
	if res.Total != 1 || res.Hits[0].CustomerID != jane || res.Hits[0].Matched != "previous_id:"+old {
		t.Fatalf("previous ID: %+v", res)
	}
	if err := eng.Exec(ctx, "DROP TABLE search_profiles"); err != nil {
		t.Fatal(err)
	}
	_, err := lookup.Search(ctx, eng, proj, lookup.SearchQuery{Text: "jane"})
	if err == nil || !strings.Contains(err.Error(), "knit run --only search") {
		t.Fatalf("search without the index: %v", err)
	}
	// The search stage alone rebuilds it from the last results.
	if _, err := pipeline.Run(ctx, proj, eng, pipeline.Options{Only: []string{"search"}}); err != nil {
		t.Fatal(err)
	}
	if res := search(t, proj, eng, lookup.SearchQuery{Text: "jane"}); res.Total != 1 {
		t.Fatalf("after knit run --only search: %+v", res)
	}
}

func testSearchFilters(t *testing.T, proj *config.Project, eng engine.Engine) {
	ctx := context.Background()
	count := func(q string) int64 {
		rows, err := eng.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		rows.Next()
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	all := search(t, proj, eng, lookup.SearchQuery{})
	if want := count("SELECT count(*) FROM profiles"); all.Total != want || int64(len(all.Hits)) != want {
		t.Fatalf("all: total %d, %d hits; %d profiles", all.Total, len(all.Hits), want)
	}
	known := search(t, proj, eng, lookup.SearchQuery{Known: "known"})
	unknown := search(t, proj, eng, lookup.SearchQuery{Known: "unknown"})
	if known.Total != count("SELECT count(*) FROM profiles WHERE known") || unknown.Total == 0 || known.Total+unknown.Total != all.Total {
		t.Fatalf("known %d + unknown %d != all %d", known.Total, unknown.Total, all.Total)
	}
	for _, h := range unknown.Hits {
		if h.Known {
			t.Errorf("unknown filter returned a known customer %+v", h)
		}
	}
	// The misspelt visitor of DESIGN.md is an unknown profile of its own.
	res := search(t, proj, eng, lookup.SearchQuery{Text: "Unkonwn5", Known: "unknown"})
	if res.Total != 1 || res.Hits[0].Known {
		t.Fatalf("Unkonwn5 among unknown: %+v", res)
	}
	if res := search(t, proj, eng, lookup.SearchQuery{Text: "Unkonwn5", Known: "known"}); res.Total != 0 {
		t.Fatalf("Unkonwn5 among known: %+v", res)
	}

	// Segment filter: the members, and text within them.
	seg := "no_loyalty_no_checkout"
	members := count("SELECT count(*) FROM segment_members WHERE segment = 'no_loyalty_no_checkout'")
	inSeg := search(t, proj, eng, lookup.SearchQuery{Segment: seg})
	if members == 0 || inSeg.Total != members {
		t.Fatalf("segment %s: total %d, %d members", seg, inSeg.Total, members)
	}
	if res := search(t, proj, eng, lookup.SearchQuery{Segment: seg, Text: "jane"}); res.Total != 0 {
		t.Errorf("Jane has a loyalty ID and is not in %s: %+v", seg, res)
	}
	if res := search(t, proj, eng, lookup.SearchQuery{Segment: seg, Text: "sam"}); res.Total != 1 {
		t.Errorf("Sam (e-commerce only) should be in %s: %+v", seg, res)
	}

	// Pages of two cover every customer once, each page with the total.
	seen := map[string]bool{}
	for off := 0; off < int(all.Total); off += 2 {
		page := search(t, proj, eng, lookup.SearchQuery{Sort: "name", Limit: 2, Offset: off})
		if page.Total != all.Total {
			t.Fatalf("page at %d: total %d, want %d", off, page.Total, all.Total)
		}
		for _, h := range page.Hits {
			if seen[h.CustomerID] {
				t.Fatalf("customer %s on two pages", h.CustomerID)
			}
			seen[h.CustomerID] = true
		}
	}
	if int64(len(seen)) != all.Total {
		t.Fatalf("pages held %d customers of %d", len(seen), all.Total)
	}
	// The default order, read by positions, is the order of the profiles
	// table sorted newest first, with or without the known filter.
	for known, where := range map[string]string{"": "", "known": " WHERE known", "unknown": " WHERE NOT known"} {
		rows, err := eng.Query(ctx, "SELECT customer_id FROM profiles"+where+" ORDER BY last_seen DESC NULLS LAST, customer_id")
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			want = append(want, id)
		}
		rows.Close()
		for off := 0; off < len(want)+2; off += 3 {
			for _, h := range search(t, proj, eng, lookup.SearchQuery{Known: known, Limit: 3, Offset: off}).Hits {
				got = append(got, h.CustomerID)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("default order, known %q:\n got  %v\n want %v", known, got, want)
		}
	}
	past := search(t, proj, eng, lookup.SearchQuery{Text: "503", Offset: 1000})
	first := search(t, proj, eng, lookup.SearchQuery{Text: "503", Limit: 1})
	if len(past.Hits) != 0 || past.Total != first.Total || first.Total < 4 || len(first.Hits) != 1 {
		t.Fatalf("past the last page: %+v; first page: %+v", past, first)
	}

	// Sorts: by name (nulls last), records descending.
	byName := search(t, proj, eng, lookup.SearchQuery{Sort: "name"})
	for i := 1; i < len(byName.Hits); i++ {
		a, b := byName.Hits[i-1].Name, byName.Hits[i].Name
		if b != "" && (a == "" || strings.ToLower(a) > strings.ToLower(b)) {
			t.Fatalf("sort by name: %q before %q", a, b)
		}
	}
	byRecords := search(t, proj, eng, lookup.SearchQuery{Sort: "-records"})
	for i := 1; i < len(byRecords.Hits); i++ {
		if byRecords.Hits[i-1].Records < byRecords.Hits[i].Records {
			t.Fatalf("sort by -records: %d before %d", byRecords.Hits[i-1].Records, byRecords.Hits[i].Records)
		}
	}
}

func testSearchRejects(t *testing.T, proj *config.Project, eng engine.Engine) {
	for _, c := range []struct {
		q    lookup.SearchQuery
		want string
	}{
		{lookup.SearchQuery{Text: strings.Repeat("a", 201)}, "201 characters long; at most 200"},
		{lookup.SearchQuery{Text: strings.Repeat("é", 201)}, "201 characters long"},
		{lookup.SearchQuery{Text: "a b c d e f g h i"}, "9 words; at most 8"},
		{lookup.SearchQuery{Text: "emial:jane@example.com"}, `unknown identifier type "emial"`},
		{lookup.SearchQuery{Text: "\xff\xfe"}, "not valid UTF-8"},
		{lookup.SearchQuery{Known: "maybe"}, `known filter "maybe"`},
		{lookup.SearchQuery{Segment: "vip"}, `unknown segment "vip"; the project has: browsed_not_bought`},
		{lookup.SearchQuery{Sort: "email"}, `sort "email"`},
		{lookup.SearchQuery{Limit: 201}, "page size 201"},
		{lookup.SearchQuery{Offset: -1}, "page offset -1"},
	} {
		_, err := lookup.Search(context.Background(), eng, proj, c.q)
		var kerr *knit.Error
		if err == nil || !errors.As(err, &kerr) || kerr.Code != knit.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want invalid input saying %q", c.q, err, c.want)
		}
	}
}
