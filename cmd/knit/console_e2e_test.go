package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/internal/testproject"
)

const (
	consoleTestDir = "../../test/console"
	chromiumPath   = "/usr/bin/chromium"
)

// requireBrowser fails (in CI) or skips (elsewhere) when scripts/setup has
// not installed Chromium and playwright-core.
func requireBrowser(t *testing.T) {
	t.Helper()
	for _, p := range []string{chromiumPath, filepath.Join(consoleTestDir, "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing: scripts/setup installs Chromium and playwright-core", p)
			}
			t.Skipf("%s is missing: run scripts/setup", p)
		}
	}
}

// The web console in a real headless Chromium, through the story of
// DESIGN.md: sign in, search for Unknown1, open the merged profile and see
// the page view from before the sign-in marked as such, open "why merged",
// store a never-match override, start a run from the Runs page and see
// the split. test/console/e2e.js drives the browser; every page it visits
// is saved as a screenshot under artifacts/console-e2e/.
func TestConsoleInChromium(t *testing.T) {
	requireBrowser(t)
	project := copyExample(t)
	testproject.CoffeeSignIn(t, project)
	// Jane opens her web shop account after she joined the loyalty
	// programme, not three days before, so the page view Unknown1 made
	// before signing in happened while she was still unknown (as in the
	// console's own tests).
	testproject.Edit(t, project, "data/ecommerce.csv", "Jane,Doe,,2022-07-20 18:00:00", "Jane,Doe,,2022-07-23 10:15:00")
	testproject.Append(t, project, "knit.yaml", "\nserve:\n  read_tokens: [KNIT_TEST_READ_TOKEN]\n  admin_tokens: [KNIT_TEST_ADMIN_TOKEN]\n")
	mustKnit(t, "run", project)
	srv := startServe(t, project)

	artifacts, err := filepath.Abs(filepath.Join("..", "..", "artifacts", "console-e2e"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "e2e.js")
	cmd.Dir = consoleTestDir
	cmd.Env = append(os.Environ(), "KNIT_URL="+srv.url, "KNIT_ADMIN_TOKEN="+serveAdminToken, "ARTIFACTS="+artifacts, "CHROMIUM="+chromiumPath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("screenshots: %s\n%s", artifacts, out.String())
	if err != nil {
		t.Fatalf("the browser test failed (%v):\n%s\nknit serve said:\n%s", err, out.String(), srv.stderr.String())
	}

	// What the browser saw is what the project now holds: the override is
	// configuration, and the run split Unknown1 from Jane.
	b, err := os.ReadFile(filepath.Join(project, "overrides", "never_match.csv"))
	if err != nil || string(b) != "left,right\nloyalty/707,web/Unknown1\n" {
		t.Errorf("never_match.csv = %q, %v", b, err)
	}
	_, jane := srv.get(t, "/v1/profiles/loyalty_id:707")
	_, visitor := srv.get(t, "/v1/profiles/anonymous_id:Unknown1")
	if jane["customer_id"] == nil || jane["customer_id"] == visitor["customer_id"] {
		t.Errorf("after the run Unknown1 → %v, Jane → %v: they should be two customers", visitor["customer_id"], jane["customer_id"])
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) < 13 || !strings.Contains(out.String(), "ok: ") {
		t.Errorf("%d screenshots in %s, want one per page visited", len(shots), artifacts)
	}
}
