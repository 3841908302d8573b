package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/lookup"
)

func init() {
	register(Page{Pattern: "GET /console/customers", Handle: (*Console).customers})
}

const (
	// maxOffset bounds paging: deep OFFSETs cost a scan of every skipped
	// row; past it, narrowing the search is the better tool.
	maxOffset = 10_000
)

// sortOptions are the orders the page offers, as lookup.Search names them.
var sortOptions = []struct{ Value, Label string }{
	{"", "Best match, then newest"},
	{"-last_seen", "Last seen, newest first"},
	{"last_seen", "Last seen, oldest first"},
	{"-first_seen", "First seen, newest first"},
	{"first_seen", "First seen, oldest first"},
	{"-records", "Most records first"},
	{"name", "Name"},
}

type customersView struct {
	Q        lookup.SearchQuery
	Result   *lookup.SearchResult
	Segments []string
	Sorts    []struct{ Value, Label string }
	// From and To number the hits shown (1-based); Prev and Next are the
	// offsets of the neighbouring pages (-1: none).
	From, To   int64
	Prev, Next int
}

func (c *Console) customers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	qs := r.URL.Query()
	q := lookup.SearchQuery{Text: strings.TrimSpace(qs.Get("q")), Known: qs.Get("known"), Segment: qs.Get("segment"),
		Sort: qs.Get("sort"), Limit: c.perPage}
	if o := qs.Get("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 || n > maxOffset {
			return knit.Errorf(knit.EINVALID, "offset %q: use a number from 0 to %d, or narrow the search", o, maxOffset)
		}
		q.Offset = n
	}
	v := customersView{Q: q, Sorts: sortOptions, Prev: -1, Next: -1}
	var err error
	if v.Segments, err = c.segmentNames(ctx); err != nil {
		return err
	}
	if v.Result, err = lookup.Search(ctx, c.eng, c.proj, q); err != nil {
		return err
	}
	if n := int64(len(v.Result.Hits)); n > 0 {
		v.From, v.To = int64(q.Offset)+1, int64(q.Offset)+n
	}
	if q.Offset > 0 {
		v.Prev = max(0, q.Offset-c.perPage)
	}
	if next := q.Offset + c.perPage; int64(next) < v.Result.Total && next <= maxOffset {
		v.Next = next
	}
	return c.render(w, r, "customers.html", View{Title: "Customers", Nav: "customers", Data: v})
}
