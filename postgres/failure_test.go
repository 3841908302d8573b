package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/lookup"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/postgres"
)

// openApp opens the schema of openSchema with an application name, so a
// test can find (and kill) exactly this engine's sessions; both get
// processName's suffix.
func openApp(t *testing.T, schema, app string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testURL(t)+"&application_name="+processName(app), processName(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func loadCoffee(t *testing.T, dir string) *config.Project {
	t.Helper()
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return proj
}

func servedCustomer(t *testing.T, db *postgres.DB, proj *config.Project, key string) (string, int) {
	t.Helper()
	ctx := context.Background()
	res, err := lookup.Resolve(ctx, db, proj, key)
	if err != nil {
		t.Fatalf("resolve %s: %v", key, err)
	}
	var n int
	if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM profiles").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return res.CustomerID, n
}

// Every session of the run is killed from another connection in the
// middle of a run (after its results were staged, before the swap): the
// run fails, the previous profiles are still served to a reader in
// another session, no staged table is left, and the next run succeeds
// with the new data.
func TestKilledConnectionKeepsPreviousResults(t *testing.T) {
	const schema, app = "knit_kill_test", "knit_kill_test_run"
	openSchema(t, schema) // a fresh schema, dropped at the end
	dir := copyProject(t, filepath.Join("..", "examples", "coffee"))
	ctx := context.Background()
	run := openApp(t, schema, app)
	if _, err := pipeline.Run(ctx, loadCoffee(t, dir), run, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	reader := openApp(t, schema, "knit_kill_test_reader")
	jane, profiles := servedCustomer(t, reader, loadCoffee(t, dir), "loyalty_id:707")

	// New members and their sign-ins: a run with something to change.
	var rows strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&rows, "%d,First%d,Last%d,m%d@example.org,,Portland,2022-01-01 00:00:00\n", 300000+i, i, i, i)
	}
	appendTo(t, dir, "data/loyalty.csv", rows.String())

	killer := openApp(t, schema, "knit_kill_test_killer")
	// failedRun runs the project, killing the sessions that kill selects
	// when stage starts, and checks the run failed cleanly.
	failedRun := func(stage, kill string) error {
		t.Helper()
		killed := 0
		opt := pipeline.Options{Progress: func(s string, done bool, _ time.Duration) {
			if s != stage || done {
				return
			}
			if err := killer.SQL().QueryRowContext(ctx, "SELECT count(pg_terminate_backend(pid)) FROM ("+kill+") k", processName(app)).Scan(&killed); err != nil {
				t.Errorf("terminate: %v", err)
			}
		}}
		rep, err := pipeline.Run(ctx, loadCoffee(t, dir), run, opt)
		if killed == 0 {
			t.Fatalf("no session of the run was killed: the test did not reach the %s stage (the run: %v)", stage, err)
		}
		if err == nil {
			t.Fatalf("the run whose sessions were killed at %s succeeded: %+v", stage, rep.Stages)
		}
		if rep.Status != "failed" {
			t.Errorf("report status %q, want failed", rep.Status)
		}
		if id, n := servedCustomer(t, reader, loadCoffee(t, dir), "loyalty_id:707"); id != jane || n != profiles {
			t.Errorf("after the failed run: 707 → %s with %d profiles; want the previous %s with %d", id, n, jane, profiles)
		}
		var staged int
		if err := reader.SQL().QueryRowContext(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '%\\_\\_staged'", reader.Schema()).Scan(&staged); err != nil {
			t.Fatal(err)
		}
		if staged != 0 {
			t.Errorf("%d staged tables left behind", staged)
		}
		return err
	}
	// Every session of the run, while results are being staged.
	if err := failedRun("fields", "SELECT pid FROM pg_stat_activity WHERE application_name = $1"); !strings.Contains(err.Error(), "terminating connection") {
		t.Errorf("error = %v; want the server's termination", err)
	}
	// Only the session holding the run lock, just before the swap: another
	// run could now take the lock, so this one must not swap.
	err := failedRun("swap", "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND a.application_name = $1")
	var kerr *knit.Error
	if !errors.As(err, &kerr) || kerr.Code != knit.ECONFLICT || !strings.Contains(err.Error(), "run lock") {
		t.Errorf("error = %v; want a conflict saying the run lock was lost", err)
	}

	// The next run, in the same process and pool, succeeds.
	if _, err := pipeline.Run(ctx, loadCoffee(t, dir), run, pipeline.Options{}); err != nil {
		t.Fatalf("the run after the kill: %v", err)
	}
	if id, n := servedCustomer(t, reader, loadCoffee(t, dir), "loyalty_id:707"); id != jane || n != profiles+2000 {
		t.Errorf("after the next run: 707 → %s with %d profiles; want %s with %d", id, n, jane, profiles+2000)
	}
	var failed int
	reader.SQL().QueryRowContext(ctx, "SELECT count(*) FROM runs WHERE status = 'failed'").Scan(&failed)
	if failed != 2 {
		t.Errorf("%d failed runs recorded, want 2", failed)
	}
}

// Two runs of one project never interleave: while one holds the run lock,
// another process's run is refused as a conflict, and runs again once the
// first has finished.
func TestSecondRunIsRefusedWhileTheFirstHoldsTheLock(t *testing.T) {
	const schema = "knit_lock_test"
	first := openSchema(t, schema)
	second := openApp(t, schema, "knit_lock_test_second")
	dir := copyProject(t, filepath.Join("..", "examples", "coffee"))
	ctx := context.Background()
	unlock, err := first.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pipeline.Run(ctx, loadCoffee(t, dir), second, pipeline.Options{})
	var kerr *knit.Error
	if !errors.As(err, &kerr) || kerr.Code != knit.ECONFLICT {
		t.Fatalf("a run while another holds the lock: %v; want a conflict", err)
	}
	unlock()
	if _, err := pipeline.Run(ctx, loadCoffee(t, dir), second, pipeline.Options{}); err != nil {
		t.Fatalf("the run after the lock was released: %v", err)
	}
}
