package pipeline_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/knit-cdp/knit/pipeline"
)

// The prior read from a sample of the blocked pairs (one in k, chosen by
// record index) is close to the prior read from all of them, and scoring
// counts every candidate pair even though it reads back only those kept.
func TestPriorFromSampledPairsAndPairCount(t *testing.T) {
	dir := modelProject(t)
	p := open(t, dir)
	_, full, err := pipeline.Train(context.Background(), p.proj, p.db, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if full.PriorSampleEvery != 1 {
		t.Fatalf("%d blocked pairs were sampled one in %d; want all read", full.BlockedPairs, full.PriorSampleEvery)
	}
	restore := pipeline.SetPriorSamplePairs(full.BlockedPairs / 4)
	_, sampled, err := pipeline.Train(context.Background(), p.proj, p.db, pipeline.Options{})
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if sampled.PriorSampleEvery < 4 {
		t.Errorf("sampled one in %d; want at least one in 4", sampled.PriorSampleEvery)
	}
	if rel := math.Abs(sampled.Prior-full.Prior) / full.Prior; rel > 0.3 {
		t.Errorf("prior from a quarter of the pairs %g, from all %g: %.0f%% apart, want within 30%%", sampled.Prior, full.Prior, 100*rel)
	}
	// The sampled model was saved last; scoring must still see every pair.
	p.close()
	_, run := mustRun(t, dir)
	if run.Model.Pairs != full.BlockedPairs {
		t.Errorf("run scored %d candidate pairs; training counted %d for the same blocking", run.Model.Pairs, full.BlockedPairs)
	}
	if run.Model.Kept > run.Model.Pairs || run.Model.Links > run.Model.Kept {
		t.Errorf("links %d ≤ kept %d ≤ pairs %d does not hold", run.Model.Links, run.Model.Kept, run.Model.Pairs)
	}
}

// A never-match override splits a profile the model linked: on the next
// run the two records are two customers, the anchor (the record that
// keeps the profile's other links) keeps the customer ID, and the refused
// link is recorded.
func TestNeverMatchSplitsAModelLink(t *testing.T) {
	dir := modelProject(t)
	p := open(t, dir)
	if _, _, err := pipeline.Train(context.Background(), p.proj, p.db, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	p.close()
	p, _ = mustRun(t, dir)
	id := p.customer("crm/1")
	if id == "" || p.customer("crm/2") != id {
		t.Fatalf("the model did not link crm/1 and its duplicate crm/2 (%q, %q)", id, p.customer("crm/2"))
	}
	p.close()

	if err := os.MkdirAll(filepath.Join(dir, "overrides"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "overrides/never_match.csv", "left,right\ncrm/1,crm/2\n")
	appendFile(t, dir, "knit.yaml", "overrides:\n  never_match: overrides/never_match.csv\n")
	p, rep := mustRun(t, dir)
	if got := p.customer("crm/1"); got != id {
		t.Errorf("after the split the anchor crm/1 → %s, want it to keep %s", got, id)
	}
	if got := p.customer("crm/2"); got == "" || got == id {
		t.Errorf("never-match did not split the model link: crm/2 → %q", got)
	}
	if rep.IDs.Split != 1 {
		t.Errorf("split = %d, want 1", rep.IDs.Split)
	}
	// The model link between the pair itself is refused and recorded (other
	// model links that would rejoin the two sides are refused too).
	if n := p.count(`SELECT count(*) FROM links WHERE rule = 'model' AND NOT accepted AND reason LIKE 'never-match%' AND a IN ('crm/1', 'crm/2') AND b IN ('crm/1', 'crm/2')`); n != 1 {
		t.Errorf("%d refused model links crm/1–crm/2 with the never-match reason, want 1", n)
	}
}
