package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/knit-cdp/knit/postgres"
	"github.com/knit-cdp/knit/server"
)

var _ server.CollectedStore = (*postgres.DB)(nil)

// pgTestURL is the test server of scripts/postgres: skipped without one on
// a developer's machine, a failure in CI.
func pgTestURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("KNIT_TEST_POSTGRES")
	if url == "" {
		if b, err := os.ReadFile("/tmp/knit-pg/url"); err == nil {
			url = strings.TrimSpace(string(b))
		}
	}
	fail := t.Skipf
	if os.Getenv("CI") != "" {
		fail = t.Fatalf
	}
	if url == "" {
		fail("no PostgreSQL test server: run scripts/postgres start")
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		fail("PostgreSQL test server %s: %v", url, err)
	}
	conn.Close(context.Background())
	return url
}

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServeAt starts knit serve on addr (a PostgreSQL store writes no
// serve.lock to read it from) and waits until it is ready.
func startServeAt(t *testing.T, project, addr string) *serveProcess {
	t.Helper()
	cmd := exec.Command(knitBin, "serve", project, "--listen", addr)
	cmd.Env = serveEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, stderr: &stderr, url: "http://" + addr}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
	}
	t.Fatalf("knit serve did not become ready:\n%s", stderr.String())
	return nil
}

func (p *serveProcess) post(t *testing.T, path, body string, token string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", p.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.SetBasicAuth(serveWriteKey, "")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// knit serve on a PostgreSQL store runs beside knit run in other
// processes: no serve.lock refusal; the events it acknowledged reach the
// other process's run through the collected_events table, once each even
// when a client retries; and when that run finishes, the server swaps its
// results in without a restart.
func TestServeOnPostgresSharesTheStoreWithKnitRun(t *testing.T) {
	url := pgTestURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("e2e_serve_pg_%d", os.Getpid()) // two suites on one server do not collide
	drop := func() { conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") }
	drop()
	t.Cleanup(drop)

	project := copyShop(t)
	editConfig(t, project, "sources:\n", "store: "+url+"&schema="+schema+"\nsources:\n")
	editConfig(t, project, "    file: events/collected.ndjson\n    format: ndjson\n", "    table: collected_events\n    json: message\n")

	srv := startServeAt(t, project, freeAddr(t))
	if _, err := os.Stat(filepath.Join(project, serveLockFile)); err == nil {
		t.Fatal("knit serve on a PostgreSQL store wrote serve.lock")
	}
	// An anonymous visitor signs in as loyalty member 707; the same
	// message is sent twice (a client's retry).
	batch := `{"batch": [
		{"type": "page", "messageId": "pg-m1", "anonymousId": "visitor-1", "name": "Decaf beans", "timestamp": "2024-05-01T10:00:00Z"},
		{"type": "identify", "messageId": "pg-m2", "anonymousId": "visitor-1", "traits": {"loyaltyId": "707"}, "timestamp": "2024-05-01T10:05:00Z"},
		{"type": "track", "messageId": "pg-m3", "anonymousId": "visitor-1", "event": "Checkout", "timestamp": "2024-05-01T10:10:00Z"}]}`
	for range 2 {
		if code := srv.post(t, "/v1/batch", batch, ""); code != 200 {
			t.Fatalf("batch: %d\n%s", code, srv.stderr)
		}
	}
	// Live stitching, before any batch run: no batch profile yet.
	code, live := srv.get(t, "/v1/profiles/anonymous_id:visitor-1")
	if code != 200 || live["in_batch"] == true {
		t.Fatalf("live profile: %d %v", code, live)
	}
	count := func(q string) int {
		var n int
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor(t, "the server to mirror its events", func() bool {
		return count("SELECT count(*) FROM "+schema+".collected_events") == 3
	})

	// knit run in another process, while the server runs.
	rep := parseReport(t, mustKnit(t, "run", "--json", "-q", project))
	var collected int64 = -1
	for _, s := range rep.Sources {
		if s.Name == "collected" {
			collected = s.RowsRead
		}
	}
	if collected != 3 {
		t.Errorf("the run read %d collected events, want the 3 acknowledged (a retry is not stored twice)", collected)
	}
	var batchID string
	if err := conn.QueryRow(ctx, "SELECT customer_id FROM "+schema+".records WHERE record_key = 'loyalty/707'").Scan(&batchID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to swap in the other process's run", func() bool {
		_, p := srv.get(t, "/v1/profiles/anonymous_id:visitor-1")
		return p["in_batch"] == true && p["customer_id"] == batchID
	})
	_, p := srv.get(t, "/v1/profiles/anonymous_id:visitor-1")
	if fields, _ := p["fields"].(map[string]any); fields["person.first_name"] != "Jane" {
		t.Errorf("the swapped-in profile has fields %v, want Jane's from the batch run", p["fields"])
	}
	if !strings.Contains(srv.stderr.String(), "run finished elsewhere swapped in") {
		t.Errorf("the server did not log the swap:\n%s", srv.stderr)
	}

	// A new visitor after the run, then the server's own run: it mirrors
	// first, so its run reads every event acknowledged before it started.
	if code := srv.post(t, "/v1/track", `{"messageId": "pg-m4", "anonymousId": "visitor-2", "event": "Product view", "traits": {"loyaltyId": "808"}}`, ""); code != 200 {
		t.Fatalf("track: %d", code)
	}
	if code := srv.post(t, "/v1/admin/runs?wait=true", "", serveAdminToken); code != 200 {
		t.Fatalf("server run: %d\n%s", code, srv.stderr)
	}
	if n := count("SELECT count(*) FROM " + schema + ".src_collected"); n != 4 {
		t.Errorf("the server's run read %d collected events, want 4", n)
	}
	// A second server after a restart mirrors nothing twice.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
	srv2 := startServeAt(t, project, freeAddr(t))
	time.Sleep(time.Second)
	if n := count("SELECT count(*) FROM " + schema + ".collected_events"); n != 4 {
		t.Errorf("collected_events holds %d rows after a restart, want 4", n)
	}
	mustKnit(t, "run", "-q", project)
	waitFor(t, "the restarted server to swap in run 3", func() bool {
		_, p := srv2.get(t, "/v1/profiles/loyalty_id:808")
		return p["in_batch"] == true
	})
	// The table lost (restored from an old backup, say): the next start
	// mirrors the whole event log again, read back from disk.
	srv2.cmd.Process.Signal(syscall.SIGTERM)
	srv2.cmd.Wait()
	if _, err := conn.Exec(ctx, "TRUNCATE "+schema+".collected_events, "+schema+".collected_positions"); err != nil {
		t.Fatal(err)
	}
	startServeAt(t, project, freeAddr(t))
	waitFor(t, "the server to mirror its log again", func() bool {
		return count("SELECT count(*) FROM "+schema+".collected_events") == 4
	})
}
