package pipeline_test

import (
	"context"
	"math"
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
