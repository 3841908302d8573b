package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/knit-cdp/knit/collect"
	"github.com/knit-cdp/knit/eventlog"
)

const (
	serveWriteKey   = "e2e-write-key"
	serveReadToken  = "e2e-read-token"
	serveAdminToken = "e2e-admin-token"
	shopDir         = "../../server/testdata/shop"
	clientsDir      = "../../test/clients"
)

func serveEnv() []string {
	return append(os.Environ(), "KNIT_TEST_WRITE_KEY="+serveWriteKey, "KNIT_TEST_READ_TOKEN="+serveReadToken, "KNIT_TEST_ADMIN_TOKEN="+serveAdminToken)
}

func copyShop(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(shopDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(shopDir, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// serveProcess is a running `knit serve` binary.
type serveProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
}

// startServe starts knit serve on a free loopback port and waits until it
// is ready; the address comes from the serve.lock file it writes.
func startServe(t *testing.T, project string) *serveProcess {
	t.Helper()
	os.Remove(filepath.Join(project, serveLockFile))
	cmd := exec.Command(knitBin, "serve", project, "--listen", "127.0.0.1:0")
	cmd.Env = serveEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, stderr: &stderr}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var l serveLock
		if data, err := os.ReadFile(filepath.Join(project, serveLockFile)); err == nil && json.Unmarshal(data, &l) == nil && l.PID == cmd.Process.Pid {
			p.url = "http://" + l.Listen
			if resp, err := http.Get(p.url + "/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return p
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("knit serve did not become ready:\n%s", stderr.String())
	return nil
}

func (p *serveProcess) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+serveReadToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// requireClients fails (in CI) or skips (elsewhere) when scripts/setup has
// not installed the client libraries.
func requireClients(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(clientsDir, path)); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: scripts/setup installs the client libraries", path)
		}
		t.Skipf("%s is missing: run scripts/setup", path)
	}
}

// Real client libraries from the registries send to a running knit serve,
// and every message arrives intact and stitched.
func TestServeClientLibraries(t *testing.T) {
	project := copyShop(t)
	srv := startServe(t, project)
	python, _ := filepath.Abs(filepath.Join(clientsDir, ".venv", "bin", "python"))
	for _, c := range []struct {
		name, need string
		cmd        []string
	}{
		{"segment-node", "node_modules/@segment/analytics-node", []string{"node", "send-segment-node.js", srv.url}},
		{"rudder-node", "node_modules/@rudderstack/rudder-sdk-node", []string{"node", "send-rudder-node.js", srv.url}},
		{"segment-python", ".venv/bin/python", []string{python, "send_segment_python.py", srv.url}},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireClients(t, c.need)
			prefix := c.name
			cmd := exec.Command(c.cmd[0], append(c.cmd[1:], serveWriteKey, prefix)...)
			cmd.Dir = clientsDir
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "sent") {
				t.Fatalf("%s: %v\n%s\nserver log:\n%s", c.name, err, out, srv.stderr)
			}
			code, p := srv.get(t, "/v1/profiles/anonymous_id:"+prefix+"-anon")
			if code != 200 {
				t.Fatalf("profile: %d %v", code, p)
			}
			var ring []string
			for _, k := range p["keyring"].([]any) {
				m := k.(map[string]any)
				ring = append(ring, m["type"].(string)+":"+m["value"].(string))
			}
			want := []string{"anonymous_id:" + prefix + "-anon", "email:" + prefix + "@example.com", "loyalty_id:" + prefix + "-L", "user_id:" + prefix + "-user"}
			if !slices.Equal(ring, want) {
				t.Errorf("keyring %v, want %v", ring, want)
			}
			if !slices.Contains(toStrings(p["records"]), "collected/"+prefix+"-old") {
				t.Errorf("the alias did not link %s-old: records %v", prefix, p["records"])
			}
			_, acts := srv.get(t, "/v1/profiles/user_id:"+prefix+"-user/activities")
			var got []string
			for _, a := range acts["activities"].([]any) {
				m := a.(map[string]any)
				got = append(got, m["id"].(string)+" "+m["type"].(string))
			}
			slices.Sort(got)
			wantActs := []string{prefix + "-1 page", prefix + "-2 track", prefix + "-3 identify", prefix + "-4 screen", prefix + "-5 group", prefix + "-6 alias"}
			if !slices.Equal(got, wantActs) {
				t.Errorf("activities %v, want %v", got, wantActs)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// kill -9 during a stream of batches: every acknowledged messageId is in
// the log after restart, exactly once.
func TestServeKillKeepsAcknowledgedEvents(t *testing.T) {
	project := copyShop(t)
	srv := startServe(t, project)
	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ctx.Err() == nil; b++ {
				var ids []string
				var body strings.Builder
				body.WriteString(`{"batch":[`)
				for i := range 100 {
					id := fmt.Sprintf("w%d-b%d-e%d", w, b, i)
					ids = append(ids, id)
					if i > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"type":"track","anonymousId":"v%d","event":"Tick","messageId":%q}`, (b*100+i)%500, id)
				}
				body.WriteString(`]}`)
				req, _ := http.NewRequestWithContext(ctx, "POST", srv.url+"/v1/batch", strings.NewReader(body.String()))
				req.SetBasicAuth(serveWriteKey, "")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	cancel()
	wg.Wait()
	if len(acked) < 1000 {
		t.Fatalf("only %d events acknowledged before the kill; the test needs a stream", len(acked))
	}
	count := map[string]int{}
	l, err := eventlog.Open(filepath.Join(project, "events", "log"), eventlog.Options{}, func(_ uint64, p []byte) error {
		ev, err := collect.Decode(p)
		if err != nil {
			return err
		}
		count[ev.MessageID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	for _, id := range acked {
		if count[id] != 1 {
			t.Fatalf("acknowledged %s is stored %d times after kill -9 (acknowledged %d, stored %d)", id, count[id], len(acked), len(count))
		}
	}
	// The restarted server serves what was acknowledged.
	srv2 := startServe(t, project)
	if code, p := srv2.get(t, "/v1/profiles/anonymous_id:v1"); code != 200 {
		t.Fatalf("after restart: %d %v", code, p)
	}
	t.Logf("acknowledged %d events before SIGKILL; all stored once (%d stored in all)", len(acked), len(count))
}

// While knit serve holds a project, other commands say where it is; the
// server refuses a public address without keys.
func TestServeCLIAndListenGuard(t *testing.T) {
	project := copyShop(t)
	srv := startServe(t, project)
	res := runKnit(t, "profile", project, "loyalty_id:707")
	wantFailure(t, res, exitConflict, "knit serve (pid", srv.url+"/v1/profiles/<key>", "/v1/admin/runs")

	open := copyShop(t)
	editConfig(t, open, "  write_keys: [KNIT_TEST_WRITE_KEY]\n  read_tokens: [KNIT_TEST_READ_TOKEN]\n  admin_tokens: [KNIT_TEST_ADMIN_TOKEN]\n", "")
	res = runKnit(t, "serve", open, "--listen", "0.0.0.0:0")
	wantFailure(t, res, exitInvalid, "refusing to listen on 0.0.0.0:0 without keys")
}
