package pipeline_test

import (
	"context"
	"testing"

	"github.com/knit-cdp/knit/pipeline"
)

// A run that succeeds leaves no staged table behind, also a partial one
// whose working tables only a later stage would have dropped: `--only
// measures` stages the grouped pass over the activities for the segments
// stage, which does not run.
func TestRunLeavesNoStagedTables(t *testing.T) {
	p, _ := mustRun(t, copyProject(t, "../examples/coffee"))
	for _, only := range [][]string{nil, {"measures"}, {"activities", "measures"}} {
		if _, err := pipeline.Run(context.Background(), p.proj, p.db, pipeline.Options{Only: only}); err != nil {
			t.Fatalf("--only %v: %v", only, err)
		}
		if n := p.count(`SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '%\_\_staged' ESCAPE '\'`); n != 0 {
			t.Errorf("after a run with --only %v, %d staged tables are left", only, n)
		}
	}
}
