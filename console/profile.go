package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/insights"
	"github.com/knit-cdp/knit/lookup"
)

func init() {
	register(Page{Pattern: "GET /console/customers/{id}", Handle: (*Console).profile})
}

// timelineShown bounds the activities on the page; filters narrow it.
const timelineShown = 200

// profileView is the 360° view of one customer.
type profileView struct {
	Key        string // what was asked for: a customer ID, type:value or source/pk
	Profile    *lookup.Profile
	Fields     []fieldView
	Keyring    []keyringSource
	Segments   []membership
	KnownSince *time.Time
	Timeline   timelineView
}

// fieldView is a unified field with the record that won it and the other
// records' values.
type fieldView struct {
	lookup.Field
	Winner       *fieldValue
	Alternatives []fieldValue
}

type timelineView struct {
	Activities []insights.Activity
	Types      []activityType
	// The filter as asked: Type ("" = all), From and To (YYYY-MM-DD, To
	// inclusive).
	Type, From, To string
	Truncated      bool
	NoActivities   bool // the project has no activities stage
}

func (c *Console) profile(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	key := r.PathValue("id")
	res, err := lookup.Resolve(ctx, c.eng, c.proj, key)
	if err != nil {
		return err
	}
	p, err := lookup.Get(ctx, c.eng, res)
	if err != nil {
		return err
	}
	v := profileView{Key: key, Profile: p}
	id := p.CustomerID
	values, err := c.fieldValues(ctx, id)
	if err != nil {
		return err
	}
	for _, f := range p.Fields {
		fv := fieldView{Field: f}
		for _, val := range values[f.Name] {
			if val.Record == f.Record && fv.Winner == nil {
				fv.Winner = &val
			} else {
				fv.Alternatives = append(fv.Alternatives, val)
			}
		}
		v.Fields = append(v.Fields, fv)
	}
	if v.Keyring, err = c.keyring(ctx, id); err != nil {
		return err
	}
	if v.Segments, err = c.memberships(ctx, id); err != nil {
		return err
	}
	if v.KnownSince, err = c.knownSince(ctx, id); err != nil {
		return err
	}
	if v.Timeline, err = c.timeline(r, id); err != nil {
		return err
	}
	title := "Customer " + id
	if n := displayName(p); n != "" {
		title = n
	}
	return c.render(w, r, "profile.html", View{Title: title, Nav: "customers", Data: v})
}

// timeline reads the activities the page's filter asks for, newest first.
func (c *Console) timeline(r *http.Request, id string) (timelineView, error) {
	qs := r.URL.Query()
	tv := timelineView{Type: qs.Get("type"), From: qs.Get("from"), To: qs.Get("to")}
	types, err := c.activityTypes(r.Context(), id)
	if err != nil {
		return tv, err
	}
	ok, err := c.hasTable(r.Context(), insights.ActivitiesTable)
	if err != nil || !ok {
		tv.NoActivities = true
		return tv, err
	}
	tv.Types = types
	f := insights.TimelineFilter{Limit: timelineShown + 1}
	for _, p := range insights.Properties(&c.proj.Config) {
		f.Properties = append(f.Properties, p.Name)
	}
	if tv.Type != "" {
		f.Types = []string{tv.Type}
	}
	if f.From, err = parseDay("from", tv.From); err != nil {
		return tv, err
	}
	if f.To, err = parseDay("to", tv.To); err != nil {
		return tv, err
	}
	if !f.To.IsZero() {
		f.To = f.To.AddDate(0, 0, 1) // the filter's To is inclusive
	}
	acts, err := insights.Timeline(r.Context(), c.eng, id, f)
	if err != nil {
		return tv, err
	}
	if len(acts) > timelineShown {
		acts, tv.Truncated = acts[:timelineShown], true
	}
	tv.Activities = acts
	return tv, nil
}

// parseDay reads a date input (YYYY-MM-DD) as midnight UTC.
func parseDay(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, knit.Errorf(knit.EINVALID, "%s date %q: use YYYY-MM-DD, such as 2022-07-23", name, s)
	}
	return t, nil
}

// displayName is a profile's name from its person.first_name and
// person.last_name fields, when it has them.
func displayName(p *lookup.Profile) string {
	var first, last string
	for _, f := range p.Fields {
		switch f.Name {
		case "person.first_name":
			first = f.Value
		case "person.last_name":
			last = f.Value
		}
	}
	switch {
	case first != "" && last != "":
		return first + " " + last
	case first != "" || last != "":
		return first + last
	}
	return ""
}

// fmtValue shows a measure or property value: floats to two places,
// times to the second, nothing for nil.
func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return fmt.Sprintf("%.2f", x)
	case float32:
		return fmt.Sprintf("%.2f", x)
	case time.Time:
		return fmtTime(x)
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}
