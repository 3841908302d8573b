package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/server"
)

// Overrides from the console: the forms on the "why merged" and Unify
// pages post here. The pair is stored as configuration, in the overrides
// files knit.yaml names (pipeline.AddOverride), and the next run applies
// it; the console never changes results itself.

func init() {
	register(Page{Pattern: "POST /console/overrides", Handle: (*Console).addOverride, Admin: true})
}

// liveOverrides is knit serve (*server.Server): besides storing the pair
// (pipeline.AddOverride) it applies it to the live graph at once, so live
// lookups stop joining a never-match pair before the next run splits it.
type liveOverrides interface {
	AddOverride(ctx context.Context, kind pipeline.OverrideKind, a, b string) (added bool, err error)
}

// A change of knit serve's signature must not silently turn the live
// path off.
var _ liveOverrides = (*server.Server)(nil)

// maxFormBytes bounds a posted override form.
const maxFormBytes = 16 << 10

// storedNotice is what a page says after a steward added a pair.
type storedNotice struct {
	Kind  pipeline.OverrideKind
	A, B  string
	File  string
	Added bool // false: the pair was already stored
}

// Never says whether the pair is a never-match.
func (s storedNotice) Never() bool { return s.Kind == pipeline.NeverMatch }

// storedFrom reads the notice the redirect after a stored pair carries.
func storedFrom(r *http.Request) *storedNotice {
	q := r.URL.Query()
	kind := pipeline.OverrideKind(q.Get("stored"))
	if kind != pipeline.NeverMatch && kind != pipeline.AlwaysMatch {
		return nil
	}
	return &storedNotice{Kind: kind, A: q.Get("a"), B: q.Get("b"), File: q.Get("file"), Added: q.Get("added") == "true"}
}

// addOverride stores a never-match or always-match pair (admin only; the
// console checks the CSRF token before the handler runs) and sends the
// steward back to the page the form was on, which says the pair is stored
// and that the next run applies it.
func (c *Console) addOverride(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return knit.Wrap(knit.EINVALID, err, "reading the override form")
	}
	kind := pipeline.OverrideKind(r.PostForm.Get("kind"))
	if kind != pipeline.NeverMatch && kind != pipeline.AlwaysMatch {
		return knit.Errorf(knit.EINVALID, "choose never match or always match")
	}
	a, b := strings.TrimSpace(r.PostForm.Get("a")), strings.TrimSpace(r.PostForm.Get("b"))
	var added bool
	var err error
	if live, ok := c.opt.Runs.(liveOverrides); ok {
		added, err = live.AddOverride(r.Context(), kind, a, b)
	} else {
		added, _, err = pipeline.AddOverride(r.Context(), c.proj, c.eng, kind, a, b)
	}
	if err != nil {
		return err
	}
	file := c.proj.Config.Overrides.NeverMatch
	if kind == pipeline.AlwaysMatch {
		file = c.proj.Config.Overrides.AlwaysMatch
	}
	c.log.Info("console override stored", "kind", string(kind), "file", file, "added", added)
	q := url.Values{"stored": {string(kind)}, "a": {a}, "b": {b}, "file": {file}}
	if added {
		q.Set("added", "true")
	}
	back := safeNext(r.PostForm.Get("back"))
	if i := strings.IndexAny(back, "?#"); i >= 0 {
		back = back[:i]
	}
	http.Redirect(w, r, back+"?"+q.Encode()+"#stored", http.StatusSeeOther)
	return nil
}
