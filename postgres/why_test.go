package postgres_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/internal/testproject"
	"github.com/knit-cdp/knit/lookup"
	"github.com/knit-cdp/knit/pipeline"
)

// The "why merged" graph and a console override read the same on both
// engines: the same nodes, edges and refusals for Jane (Unknown1 signed
// in) and for the test account with junk values; a never-match stored
// through either engine splits Unknown1 on the next run of both.
func TestWhyAndOverrideParity(t *testing.T) {
	dir := testproject.Copy(t, "../examples/coffee")
	testproject.CoffeeSignIn(t, dir)
	// A schema of this process's own: engineers on one machine share the
	// test server, and two runs of the suite must not share a schema.
	e := newEngines(t, fmt.Sprintf("knit_why_parity_%d", os.Getpid()))
	now := time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC)
	e.run(dir, now, nil)
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	why := func(eng engine.Engine, key string) *lookup.WhyGraph {
		res, err := lookup.Resolve(ctx, eng, proj, key)
		if err != nil {
			t.Fatalf("%s: %v", eng.Dialect().Name(), err)
		}
		g, err := lookup.Why(ctx, eng, res.CustomerID)
		if err != nil {
			t.Fatalf("%s: %v", eng.Dialect().Name(), err)
		}
		return g
	}
	for _, key := range []string{"anonymous_id:Unknown1", "loyalty/708", "ecommerce/A-1004"} {
		d, p := why(e.duck, key), why(e.pg, key)
		if !reflect.DeepEqual(d, p) {
			t.Errorf("%s: DuckDB %+v\nPostgreSQL %+v", key, d, p)
		}
	}
	if g := why(e.pg, "anonymous_id:Unknown1"); len(g.Nodes) != 5 || len(g.Edges) != 4 {
		t.Errorf("PostgreSQL: Jane's graph has %d nodes and %d edges, want 5 and 4", len(g.Nodes), len(g.Edges))
	}
	// Stored once, through PostgreSQL (the records check runs there); the
	// same file serves both engines' next run.
	if added, _, err := pipeline.AddOverride(ctx, proj, e.pg, pipeline.NeverMatch, "loyalty/707", "web/Unknown1"); err != nil || !added {
		t.Fatalf("added %v, err %v", added, err)
	}
	if _, _, err := pipeline.AddOverride(ctx, proj, e.pg, pipeline.NeverMatch, "loyalty/707", "web/Nobody"); err == nil {
		t.Error("PostgreSQL: a record that does not exist was accepted")
	}
	e.run(dir, now, nil)
	for _, eng := range []engine.Engine{e.duck, e.pg} {
		jane, err := lookup.Resolve(ctx, eng, proj, "loyalty/707")
		if err != nil {
			t.Fatal(err)
		}
		visitor, err := lookup.Resolve(ctx, eng, proj, "web/Unknown1")
		if err != nil {
			t.Fatal(err)
		}
		if jane.CustomerID == visitor.CustomerID {
			t.Errorf("%s: the never-match did not split web/Unknown1 from Jane", eng.Dialect().Name())
		}
	}
	e.compare()
}
