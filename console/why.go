package console

import (
	"net/http"

	"github.com/knit-cdp/knit/lookup"
	"github.com/knit-cdp/knit/pipeline"
)

func init() {
	register(Page{Pattern: "GET /console/customers/{id}/why", Handle: (*Console).why})
}

// whyView is the "why merged" page: the graph, its links in a table, the
// refused links, and the overrides stored for the profile's records.
type whyView struct {
	CustomerID string
	Graph      *lookup.WhyGraph
	Layout     graphLayout
	Records    []string        // the drawn records' keys, for the override form
	InProfile  map[string]bool // the same, as a set
	Overrides  []overrideRow
	Stored     *storedNotice
}

// overrideRow is a stored pair touching the profile, and whether the last
// run already reflects it (otherwise the next run applies it).
type overrideRow struct {
	pipeline.Override
	Pending bool
}

func (c *Console) why(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	res, err := lookup.Resolve(ctx, c.eng, c.proj, r.PathValue("id"))
	if err != nil {
		return err
	}
	g, err := lookup.Why(ctx, c.eng, res.CustomerID)
	if err != nil {
		return err
	}
	v := whyView{CustomerID: res.CustomerID, Graph: g, Layout: layoutWhy(g)}
	inProfile := map[string]bool{}
	v.InProfile = inProfile
	for _, n := range g.Nodes {
		if n.Record {
			v.Records = append(v.Records, n.ID)
			inProfile[n.ID] = true
		}
	}
	stored, err := pipeline.ReadOverrides(c.proj)
	if err != nil {
		return err
	}
	for _, ov := range stored {
		if !inProfile[ov.A] && !inProfile[ov.B] {
			continue
		}
		together := inProfile[ov.A] && inProfile[ov.B]
		v.Overrides = append(v.Overrides, overrideRow{Override: ov, Pending: together == ov.Never})
	}
	v.Stored = storedFrom(r)
	return c.render(w, r, "why.html", View{Title: "Why merged", Nav: "customers", Data: v})
}
