package console

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/insights"
)

func init() {
	register(Page{Pattern: "GET /console/segments", Handle: (*Console).segments})
	register(Page{Pattern: "GET /console/segments/{name}", Handle: (*Console).segment})
	register(Page{Pattern: "GET /console/segments/{name}/members.csv", Handle: (*Console).segmentCSV})
}

// memberPreview is how many members a segment's page lists.
const memberPreview = 50

// segmentRow is one segment: its size and trend over the last runs, and
// its rule as written in knit.yaml.
type segmentRow struct {
	segmentTrend
	Rule        string
	Description string
	Static      bool
	InConfig    bool // false: the last run had it, knit.yaml no longer does
}

type segmentsView struct {
	Segments []segmentRow
}

type segmentView struct {
	segmentRow
	List []insights.Member
}

// segmentRows reads every segment of the last run with its trend.
func (c *Console) segmentRows(ctx context.Context) ([]segmentRow, error) {
	runs, err := c.runHistory(ctx, trendRuns)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, run := range runs {
		if run.Status == "succeeded" {
			ids = append(ids, run.ID)
		}
	}
	slices.Reverse(ids)
	trends, err := c.segmentTrends(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]segmentRow, 0, len(trends))
	for _, t := range trends {
		row := segmentRow{segmentTrend: t}
		if s, ok := c.proj.Config.Segments[t.Name]; ok {
			row.Rule, row.Description, row.Static, row.InConfig = s.Rule, s.Description, s.Static, true
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *Console) segments(w http.ResponseWriter, r *http.Request) error {
	rows, err := c.segmentRows(r.Context())
	if err != nil {
		return err
	}
	return c.render(w, r, "segments.html", View{Title: "Segments", Nav: "segments", Data: segmentsView{Segments: rows}})
}

// findSegment returns the segment of the last run named in the path.
func (c *Console) findSegment(ctx context.Context, name string) (segmentRow, error) {
	rows, err := c.segmentRows(ctx)
	if err != nil {
		return segmentRow{}, err
	}
	for _, s := range rows {
		if s.Name == name {
			return s, nil
		}
	}
	return segmentRow{}, knit.Errorf(knit.ENOTFOUND, "no segment %q in the last run", name)
}

func (c *Console) segment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := c.findSegment(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	v := segmentView{segmentRow: s, List: []insights.Member{}}
	err = insights.EachMember(ctx, c.eng, s.Name, memberPreview, func(m insights.Member) error {
		v.List = append(v.List, m)
		return nil
	})
	if err != nil {
		return err
	}
	return c.render(w, r, "segment.html", View{Title: "Segment " + s.Name, Nav: "segments", Data: v})
}

// csvFlushRows is how many rows the download buffers before flushing.
const csvFlushRows = 1000

// segmentCSV streams a segment's members as CSV (any signed-in session):
// rows go out as they are read, so a segment of a million members costs
// no memory. The columns hold IDs, booleans and times only, never text a
// source supplied, so a spreadsheet cannot read a formula from them.
func (c *Console) segmentCSV(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := c.findSegment(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(s.Name)+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	rc := http.NewResponseController(w)
	if err := cw.Write([]string{"customer_id", "known", "entered_run", "entered_at"}); err != nil {
		return err
	}
	n := 0
	err = insights.EachMember(ctx, c.eng, s.Name, 0, func(m insights.Member) error {
		at := ""
		if !m.EnteredAt.IsZero() {
			at = m.EnteredAt.UTC().Format(time.RFC3339)
		}
		if err := cw.Write([]string{m.CustomerID, strconv.FormatBool(m.Known), strconv.FormatInt(m.EnteredRun, 10), at}); err != nil {
			return err
		}
		if n++; n%csvFlushRows == 0 {
			cw.Flush()
			// Out to the client, not only into the response's buffer:
			// knit serve's front holds an unflushed answer whole.
			rc.Flush()
		}
		return cw.Error()
	})
	cw.Flush()
	if err != nil {
		// The header is sent: the download ends short, and the log says why.
		c.log.Error("console segment download failed", "segment", s.Name, "rows", n, "error", err)
		return errHandled
	}
	return cw.Error()
}

// safeFileName keeps letters, digits, dash and underscore.
func safeFileName(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
