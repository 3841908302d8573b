package console

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strings"

	"github.com/knit-cdp/knit/pipeline"
)

func init() {
	register(Page{Pattern: "GET /console/unify", Handle: (*Console).unify})
}

// unifyView is what the last full run did to the data: per source rows
// read, rejected and collapsed, links per rule, refusals per guard,
// generic values, and (with a model) the pairs scored near its threshold.
type unifyView struct {
	Run      *runRow
	Sources  []*pipeline.SourceReport
	Links    []*pipeline.LinkReport
	Refused  []guardCount
	Generic  []pipeline.GenericReport
	Model    *pipeline.ModelReport
	Review   *pairReview
	Stored   *storedNotice
	Profiles pipeline.ProfileCounts
	IDs      pipeline.IDCounts
}

type guardCount struct {
	Guard string
	Count int64
}

// pairReview lists model-scored pairs near the threshold, closest first.
type pairReview struct {
	Threshold, Near float64
	Pairs           []reviewPair
	Limit           int
}

type reviewPair struct {
	A, B                 string
	Probability, Weight  float64
	Linked               bool
	Explanation          []string
	CustomerA, CustomerB string
}

// reviewNear and reviewLimit bound the review list: pairs within 0.1 of
// the threshold (as knit pairs), at most 50.
const (
	reviewNear  = 0.1
	reviewLimit = 50
	// unifyRuns is how far back the page looks for the last full run.
	unifyRuns = 20
)

func (c *Console) unify(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	runs, err := c.runHistory(ctx, unifyRuns)
	if err != nil {
		return err
	}
	v := unifyView{Stored: storedFrom(r)}
	for i, run := range runs {
		if run.Status == "succeeded" && run.Report != nil && len(run.Report.Only) == 0 {
			v.Run = &runs[i]
			break
		}
	}
	if v.Run != nil {
		rep := v.Run.Report
		v.Sources, v.Links, v.Generic, v.Model, v.Profiles, v.IDs = rep.Sources, rep.Links, rep.Generic, rep.Model, rep.Profiles, rep.IDs
		for g, n := range rep.Refused {
			v.Refused = append(v.Refused, guardCount{g, n})
		}
		slices.SortFunc(v.Refused, func(a, b guardCount) int { return strings.Compare(a.Guard, b.Guard) })
	}
	if v.Review, err = c.reviewPairs(ctx); err != nil {
		return err
	}
	return c.render(w, r, "unify.html", View{Title: "Unify", Nav: "unify", Data: v})
}

// reviewPairs reads the pairs the model scored nearest its threshold from
// match_pairs (nil without a model or before its first run).
func (c *Console) reviewPairs(ctx context.Context) (*pairReview, error) {
	m := c.proj.Config.Unify.Model
	if m == nil {
		return nil, nil
	}
	if ok, err := c.hasTable(ctx, "match_pairs"); err != nil || !ok {
		return nil, err
	}
	rv := &pairReview{Threshold: m.Threshold, Near: reviewNear, Limit: reviewLimit, Pairs: []reviewPair{}}
	err := c.each(ctx, `SELECT a, b, probability, weight, linked, explanation, customer_a, customer_b FROM match_pairs
WHERE probability BETWEEN ? AND ? ORDER BY abs(probability - ?), a, b LIMIT ?`,
		[]any{m.Threshold - reviewNear, m.Threshold + reviewNear, m.Threshold, reviewLimit}, func(rows *sql.Rows) error {
			var p reviewPair
			var ex, ca, cb sql.NullString
			if err := rows.Scan(&p.A, &p.B, &p.Probability, &p.Weight, &p.Linked, &ex, &ca, &cb); err != nil {
				return err
			}
			if ex.String != "" {
				p.Explanation = strings.Split(ex.String, "; ")
			}
			p.CustomerA, p.CustomerB = ca.String, cb.String
			rv.Pairs = append(rv.Pairs, p)
			return nil
		})
	return rv, err
}
