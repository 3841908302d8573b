package postgres_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/lookup"
)

// Customer search answers the same on both engines: the same hits in the
// same order, the same totals and the same match labels, for every kind of
// query the console sends (lookup/search_test.go checks the answers
// themselves on DuckDB).
func TestParitySearch(t *testing.T) {
	dir := copyProject(t, filepath.Join("..", "examples", "coffee"))
	// Unknown1 signs in as Jane later, so her customer ID has history;
	// web visitors are included so unknown profiles exist.
	appendTo(t, dir, "data/web_events.csv", "20,07-25-2022 09:00:00,Unknown1,707,Loyalty sign-in\n")
	e := newEngines(t, "parity_search")
	withVisitors := func(p *config.Project) {
		p.Config.Unify.IncludeAllRecords = append(p.Config.Unify.IncludeAllRecords, "web")
	}
	e.run(dir, time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), withVisitors)
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	withVisitors(proj)
	queries := []lookup.SearchQuery{
		{}, {Known: "known"}, {Known: "unknown"}, {Segment: "no_loyalty_no_checkout"},
		{Sort: "name"}, {Sort: "-name"}, {Sort: "records"}, {Sort: "-records"}, {Sort: "first_seen"}, {Sort: "-last_seen"},
		{Limit: 2, Offset: 2}, {Limit: 2, Offset: 100},
		{Text: "jan"}, {Text: "Jane"}, {Text: "Jnae"}, {Text: "jane.doe@exmaple.com"}, {Text: "Jane.Doe@Example.COM"},
		{Text: "(503) 555-0100"}, {Text: "+1 503 555 0100"}, {Text: "503-555"}, {Text: "503", Limit: 2, Offset: 2},
		{Text: "email:jane.d"}, {Text: "loyalty_id:707"}, {Text: "phone:5035550142"}, {Text: "unknown1"}, {Text: "Unkonwn5", Known: "unknown"},
		{Text: "loyalty/707"}, {Text: "jane doe"}, {Text: "DOE  jan"}, {Text: "maría garcía"}, {Text: "Garica"},
		{Text: "smith", Sort: "-records"}, {Text: "sam", Segment: "no_loyalty_no_checkout"},
		{Text: "a", Sort: "name"}, {Text: "503", Sort: "-name"}, {Text: "a", Sort: "first_seen", Limit: 2, Offset: 1}, {Text: "unk", Sort: "last_seen"},
		{Text: "%"}, {Text: "_"}, {Text: `\`}, {Text: "jane'; DROP TABLE profiles; --"},
	}
	ctx := context.Background()
	jane, err := lookup.Resolve(ctx, e.pg, proj, "loyalty_id:707")
	if err != nil {
		t.Fatal(err)
	}
	queries = append(queries, lookup.SearchQuery{Text: jane.CustomerID})
	for _, q := range queries {
		var answers [2]string
		for i, eng := range []engine.Engine{e.duck, e.pg} {
			res, err := lookup.Search(ctx, eng, proj, q)
			if err != nil {
				t.Fatalf("%s: search %+v: %v", eng.Dialect().Name(), q, err)
			}
			b, _ := json.Marshal(res)
			answers[i] = string(b)
		}
		if answers[0] != answers[1] {
			t.Errorf("search %+v:\n  duckdb   %s\n  postgres %s", q, answers[0], answers[1])
		}
	}
	// The engines agree, and PostgreSQL finds what it should.
	res, err := lookup.Search(ctx, e.pg, proj, lookup.SearchQuery{Text: "Jnae"})
	if err != nil || res.Total != 1 || res.Hits[0].CustomerID != jane.CustomerID || res.Hits[0].Match != "typo" {
		t.Fatalf("Jnae on PostgreSQL: %+v %v", res, err)
	}
}
