package console

import (
	"net/http"
	"slices"
	"time"

	"github.com/knit-cdp/knit/pipeline"
)

func init() {
	register(Page{Pattern: "GET /console/{$}", Handle: (*Console).home})
}

// homeView is the overview: profile counts, sources as the last full run
// read them, the last runs and segment sizes with their trend.
type homeView struct {
	Known, Unknown int64
	NoResults      bool
	Sources        []*pipeline.SourceReport
	SourcesRun     int64
	SourcesAt      *time.Time
	Runs           []runRow
	Segments       []segmentTrend
}

// homeRuns is how many runs the home page lists; trendRuns how many
// points a segment's trend shows.
const (
	homeRuns  = 5
	trendRuns = 20
)

func (c *Console) home(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v := homeView{}
	var err error
	if v.Known, v.Unknown, err = c.profileCounts(ctx); err != nil {
		return err
	}
	v.NoResults = v.Known+v.Unknown == 0
	runs, err := c.runHistory(ctx, trendRuns)
	if err != nil {
		return err
	}
	v.Runs = runs[:min(len(runs), homeRuns)]
	// Sources come from the newest full run that succeeded: a partial run
	// (--only) reads none.
	var trend []int64
	for _, run := range runs {
		if run.Status != "succeeded" || run.Report == nil {
			continue
		}
		trend = append(trend, run.ID)
		if v.Sources == nil && len(run.Report.Only) == 0 {
			v.Sources, v.SourcesRun, v.SourcesAt = run.Report.Sources, run.ID, run.Finished
		}
	}
	slices.Reverse(trend)
	if v.Segments, err = c.segmentTrends(ctx, trend); err != nil {
		return err
	}
	return c.render(w, r, "home.html", View{Title: "Home", Nav: "home", Data: v})
}
