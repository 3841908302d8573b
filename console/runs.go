package console

import (
	"net/http"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/server"
)

func init() {
	register(Page{Pattern: "GET /console/runs", Handle: (*Console).runs})
	register(Page{Pattern: "POST /console/runs", Handle: (*Console).startRun, Admin: true})
}

// runsShown bounds the history on the page.
const runsShown = 50

type runsView struct {
	Runs []runRow
	// Live is the run this server started last (nil before the first);
	// CanStart says whether the button is shown (admin, and a runner).
	Live     *server.RunStatus
	CanStart bool
	Busy     bool // the last start was refused: a run was in progress
}

func (c *Console) runs(w http.ResponseWriter, r *http.Request) error {
	hist, err := c.runHistory(r.Context(), runsShown)
	if err != nil {
		return err
	}
	v := runsView{Runs: hist, CanStart: c.opt.Runs != nil && isAdmin(r), Busy: r.URL.Query().Has("busy")}
	view := View{Title: "Runs", Nav: "runs", Data: &v}
	if c.opt.Runs != nil {
		v.Live = c.opt.Runs.LastRun()
		if v.Live != nil && v.Live.Status == "running" {
			view.Refresh = 3 // no script needed to watch a run finish
		}
	}
	return c.render(w, r, "runs.html", view)
}

// startRun starts a batch run and sends the browser back to the history,
// which shows the run's status (POST, redirect, GET: a reload does not
// start another run).
func (c *Console) startRun(w http.ResponseWriter, r *http.Request) error {
	if c.opt.Runs == nil {
		return knit.Errorf(knit.ENOTFOUND, "this console cannot start runs")
	}
	_, err := c.opt.Runs.StartRun(r.Context())
	if knit.ErrorCode(err) == knit.ECONFLICT {
		http.Redirect(w, r, "/console/runs?busy=1", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	s := sessionOf(r)
	c.log.Info("console started a run", "token", s.token)
	http.Redirect(w, r, "/console/runs", http.StatusSeeOther)
	return nil
}
