package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestReadRoleCannotStartARun(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(readToken)
	body := c.page("/console/runs")
	if strings.Contains(body, `action="/console/runs"`) {
		t.Error("a read-only session sees the start button")
	}
	mustContain(t, "runs page", body, "Starting runs needs an admin session", `<span class="status-succeeded">succeeded</span>`)
	resp, body := c.post("/console/runs", url.Values{"csrf": {c.csrf(body)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("read session POST /console/runs: %d, want 403", resp.StatusCode)
	}
	mustContain(t, "403 page", body, "admin session")
	if f.srv.LastRun() != nil {
		t.Error("a read session started a run")
	}
}

func TestAdminStartsARun(t *testing.T) {
	f := newFixture(t)
	c := f.signedIn(adminToken)
	body := c.page("/console/runs")
	mustContain(t, "runs page", body, `<form method="post" action="/console/runs"`, "Start a run")
	resp, _ := c.post("/console/runs", url.Values{"csrf": {c.csrf(body)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/runs" {
		t.Fatalf("admin POST /console/runs: %d → %q, want 303 → /console/runs", resp.StatusCode, resp.Header.Get("Location"))
	}
	if f.srv.LastRun() == nil {
		t.Fatal("no run started")
	}
	deadline := time.Now().Add(time.Minute)
	for f.srv.LastRun().Status == "running" {
		if time.Now().After(deadline) {
			t.Fatal("the run did not finish in a minute")
		}
		// While it runs the page says so and reloads itself.
		if page := c.page("/console/runs"); strings.Contains(page, `http-equiv="refresh"`) {
			mustContain(t, "runs page during a run", page, `<span class="status-running">running</span>`)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := f.srv.LastRun(); st.Status != "succeeded" {
		t.Fatalf("run: %s %s", st.Status, st.Error)
	}
	body = c.page("/console/runs")
	mustContain(t, "runs page after the run", body, "Run started from this server", `<td data-label="Run">2</td>`, `<td data-label="Run">1</td>`,
		"<td>load</td>", "<td>segments</td>")
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("the page still reloads after the run ended")
	}
}
