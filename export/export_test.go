package export_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/export"
	"github.com/knit-cdp/knit/pipeline"
)

// copyShop copies testdata/shop into a temporary project folder.
func copyShop(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"knit.yaml", "members.csv", "events.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "shop", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// RunShop runs the project once at now with opt and returns the report.
func runShop(t *testing.T, dir string, now time.Time, opt pipeline.Options) *pipeline.Report {
	t.Helper()
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(filepath.Join(dir, "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	opt.Now = func() time.Time { return now }
	rep, err := pipeline.Run(context.Background(), proj, db, opt)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

func result(t *testing.T, rep *pipeline.Report, name string) *export.Result {
	t.Helper()
	for _, r := range rep.Insights.Exports {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no export %s in the report", name)
	return nil
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// receiver is a local webhook endpoint that answers 503 to the first
// failFirst requests, then 200, and keeps the batches it accepted.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	attempts  int
	secret    string
	badSig    int
	batches   []export.Batch
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if rc.secret != "" && r.Header.Get(export.SignatureHeader) != export.Sign([]byte(rc.secret), body) {
		rc.badSig++
	}
	if rc.attempts <= rc.failFirst {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var b export.Batch
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.batches = append(rc.batches, b)
}

var shopNow = time.Date(2024, 3, 10, 10, 0, 0, 0, time.UTC)

// One run of the shop exercises every target: files with hashing and
// renaming, a webhook that fails its first attempts, a webhook that always
// fails (dead-lettered), and a PostgreSQL export without a writer (failed
// with its reason). The failures do not stop the other exports.
func TestExportsOfOneRun(t *testing.T) {
	dir := copyShop(t)
	hook := &receiver{failFirst: 2, secret: "s3cret"}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	var brokenCalls int
	var bmu sync.Mutex
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bmu.Lock()
		brokenCalls++
		bmu.Unlock()
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer broken.Close()
	t.Setenv("KNIT_TEST_WEBHOOK", srv.URL)
	t.Setenv("KNIT_TEST_SECRET", "s3cret")
	t.Setenv("KNIT_TEST_BROKEN_WEBHOOK", broken.URL)
	rep := runShop(t, dir, shopNow, pipeline.Options{})

	// Files: a dated folder per run, nothing temporary left behind.
	folder := export.RunFolder(shopNow, rep.RunID)
	csvRes := result(t, rep, "buyers_csv")
	if csvRes.Status != "succeeded" || csvRes.Rows != 2 {
		t.Fatalf("buyers_csv = %+v, want 2 rows", csvRes)
	}
	wantPath := filepath.Join(dir, "exports", "buyers_csv", folder, "buyers_csv.csv")
	if csvRes.Location != wantPath {
		t.Errorf("location %s, want %s", csvRes.Location, wantPath)
	}
	f, err := os.Open(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], []string{"customer_id", "email_sha256", "phone_sha256", "revenue"}) {
		t.Errorf("header %v", recs[0])
	}
	// The standardised values are hashed: a@example.com, +15035550100.
	hashes := map[string][]string{}
	for _, r := range recs[1:] {
		hashes[r[1]] = r
	}
	if r := hashes[sha("a@example.com")]; r == nil || r[2] != sha("+15035550100") || r[3] != "40" {
		t.Errorf("m1's row %v; want sha256 of a@example.com and +15035550100, revenue 40 (rows %v)", r, recs)
	}
	if r := hashes[sha("b@example.com")]; r == nil || r[2] != "" || r[3] != "5" {
		t.Errorf("m2's row %v; want no phone, revenue 5", r)
	}
	entries, _ := os.ReadDir(filepath.Dir(wantPath))
	if len(entries) != 1 {
		t.Errorf("the run folder holds %d files, want only the export", len(entries))
	}
	nd := result(t, rep, "buyers_ndjson")
	lines := readLines(t, nd.Location)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"customer_id":`) {
		t.Errorf("ndjson lines %v", lines)
	}
	pq := result(t, rep, "buyers_parquet")
	if pq.Status != "succeeded" || pq.Rows != 2 {
		t.Errorf("parquet = %+v", pq)
	}
	if n := countParquet(t, pq.Location); n != 2 {
		t.Errorf("the parquet file holds %d rows, want 2", n)
	}
	if r := result(t, rep, "everyone"); r.Rows != 3 {
		t.Errorf("profiles export has %d rows, want all 3 customers", r.Rows)
	}

	// The webhook: two batches of one row, after two 503s; every request
	// signed.
	h := result(t, rep, "hook")
	if h.Status != "succeeded" || h.Rows != 2 || h.Entered != 2 {
		t.Errorf("hook = %+v, want 2 rows entered", h)
	}
	if hook.attempts != 4 || len(hook.batches) != 2 || hook.badSig != 0 {
		t.Errorf("receiver saw %d attempts, %d batches, %d bad signatures; want 4, 2, 0", hook.attempts, len(hook.batches), hook.badSig)
	}
	for i, b := range hook.batches {
		if b.Batch != i+1 || len(b.Rows) != 1 || b.Rows[0]["change"] != "entered" {
			t.Errorf("batch %d = %+v", i+1, b)
		}
	}

	// The broken webhook: one batch of both rows, tried 1 + 2 times, then
	// the dead letter.
	br := result(t, rep, "broken_hook")
	if br.Status != "failed" || !strings.Contains(br.Error, "1 of 1 batches failed after 3 attempts") {
		t.Errorf("broken_hook = %+v", br)
	}
	if brokenCalls != 3 {
		t.Errorf("broken receiver got %d calls, want 3", brokenCalls)
	}
	if dl := readLines(t, br.DeadLetter); len(dl) != 1 || !strings.Contains(dl[0], `"export":"broken_hook"`) {
		t.Errorf("dead letter holds %v, want the one batch", dl)
	}
	if tb := result(t, rep, "table"); tb.Status != "failed" || !strings.Contains(tb.Error, "without PostgreSQL") {
		t.Errorf("table without a writer = %+v, want failed with a reason", tb)
	}
	if rep.Status != "succeeded" {
		t.Errorf("run status %s; failed exports do not fail the run", rep.Status)
	}
}

// Changes: the second run sends only who entered and left since the last
// successful export.
func TestChangesSinceLastExport(t *testing.T) {
	dir := copyShop(t)
	hook := &receiver{secret: "k"}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	t.Setenv("KNIT_TEST_WEBHOOK", srv.URL)
	t.Setenv("KNIT_TEST_SECRET", "k")
	t.Setenv("KNIT_TEST_BROKEN_WEBHOOK", srv.URL)
	runShop(t, dir, shopNow, pipeline.Options{Only: nil})
	// m2's purchase disappears and m3 buys.
	events := "EventID,Member,TS,Type,Amount\ne1,m1,2024-01-01 10:00:00,Purchase,10\ne2,m1,2024-02-01 10:00:00,Purchase,30\ne9,m3,2024-03-09 10:00:00,Purchase,7\n"
	os.WriteFile(filepath.Join(dir, "events.csv"), []byte(events), 0o644)
	hook.batches = nil
	rep := runShop(t, dir, shopNow.Add(time.Hour), pipeline.Options{})
	h := result(t, rep, "hook")
	if h.Entered != 1 || h.Left != 1 || h.Rows != 2 {
		t.Fatalf("hook = %+v, want 1 entered and 1 left", h)
	}
	changes := map[string]int{}
	for _, b := range hook.batches {
		if b.Export != "hook" { // broken_hook posts here too in this test
			continue
		}
		for _, r := range b.Rows {
			change, _ := r["change"].(string)
			changes[change]++
		}
	}
	if changes["entered"] != 1 || changes["left"] != 1 {
		t.Errorf("received changes %v", changes)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func countParquet(t *testing.T, path string) int {
	t.Helper()
	db, err := duckdb.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM read_parquet(?)`, path).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
