package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Sizes of the generated project: large enough that a run takes a couple
// of seconds on two cores (each stage some tenths of a second), so that a
// signal lands in the middle of a stage.
const (
	generatedWebEvents = 75_000
	generatedMembers   = 25_000
	generatedVisitors  = 15_000 // each visitor has 5 events
)

// largeExample copies the example and appends generated loyalty members and
// web events. Half of the visitors sign in with a member's loyalty ID, so
// the run has co-occurrence links to resolve, not only rows to load.
func largeExample(t *testing.T) string {
	t.Helper()
	project := copyExample(t)
	writeRows(t, project, "data/loyalty.csv", generatedMembers, func(b []byte, i int) []byte {
		id := strconv.Itoa(200_000 + i)
		b = append(b, id...)
		b = append(b, ",First"...)
		b = append(b, id...)
		b = append(b, ",Last"...)
		b = append(b, id...)
		b = append(b, ",member"...)
		b = append(b, id...)
		return append(b, "@example.org,,Portland,2022-01-01 00:00:00\n"...)
	})
	writeRows(t, project, "data/web_events.csv", generatedWebEvents, func(b []byte, i int) []byte {
		visitor := i % generatedVisitors
		b = strconv.AppendInt(b, int64(1_000_000+i), 10)
		b = append(b, ",08-01-2022 "...)
		b = append(b, twoDigits(i/3600%24)...)
		b = append(b, ':')
		b = append(b, twoDigits(i/60%60)...)
		b = append(b, ':')
		b = append(b, twoDigits(i%60)...)
		b = append(b, ",visitor"...)
		b = strconv.AppendInt(b, int64(visitor), 10)
		b = append(b, ',')
		if visitor%2 == 0 && visitor/2 < generatedMembers {
			b = strconv.AppendInt(b, int64(200_000+visitor/2), 10)
		} else {
			b = append(b, "--"...)
		}
		return append(b, ",Product view\n"...)
	})
	return project
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// writeRows appends n generated rows to a file through one buffer.
func writeRows(t *testing.T, project, rel string, n int, row func(b []byte, i int) []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(project, rel), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var b []byte
	for i := range n {
		b = row(b[:0], i)
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// startRun starts `knit run` and returns once it has printed the progress
// line of the given stage on stderr, that is once that stage has ended and
// the next one has begun.
func startRun(t *testing.T, project, stage string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(knitBin, "run", project)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reached := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == stage {
				reached <- true
				break
			}
		}
		close(reached)
		io.Copy(io.Discard, stderr)
	}()
	select {
	case ok := <-reached:
		if !ok {
			cmd.Wait()
			t.Fatalf("knit run ended without printing the %s stage; stdout:\n%s", stage, stdout.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("knit run did not reach the end of the %s stage in 30s", stage)
	}
	return cmd, &stdout
}

// stagedTables lists the tables a run writes before it swaps them in.
func stagedTables(t *testing.T, project string) [][]string {
	t.Helper()
	return queryStrings(t, project, `SELECT table_name FROM duckdb_tables() WHERE suffix(table_name, '__staged') ORDER BY 1`)
}

// lastRun returns the ID, status and error of the latest run in the runs
// table.
func lastRun(t *testing.T, project string) (id, status, message string) {
	t.Helper()
	rows := queryStrings(t, project, `SELECT run_id, status, error FROM runs ORDER BY run_id DESC LIMIT 1`)
	if len(rows) != 1 {
		t.Fatal("the runs table is empty")
	}
	return rows[0][0], rows[0][1], rows[0][2]
}

func TestInterruptedRunLeavesPreviousResults(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 100,000-row project")
	}
	project := largeExample(t)
	start := time.Now()
	rep := parseReport(t, mustKnit(t, "run", "-q", "--json", project))
	t.Logf("a complete run took %s", time.Since(start).Round(time.Millisecond))
	// Member 200007 signed in as visitor14 (visitor 2k carries member k).
	generatedMember := "loyalty_id:" + strconv.Itoa(200_000+7)
	want := map[string]string{
		janeKey:         profile(t, project, janeKey).CustomerID,
		generatedMember: profile(t, project, generatedMember).CustomerID,
	}
	// The large run did link, not only load.
	if p := profile(t, project, generatedMember); !p.hasRecord("web/visitor14") {
		t.Fatalf("%s lacks web/visitor14: %+v", generatedMember, p.Records)
	}

	stillServes := func(t *testing.T) {
		t.Helper()
		for key, id := range want {
			if got := profile(t, project, key).CustomerID; got != id {
				t.Errorf("%s resolves to %s after an interrupted run, want %s", key, got, id)
			}
		}
	}

	// Killed while writing its staged tables: the process has no chance
	// to clean up, so the next start must.
	t.Run("SIGKILL", func(t *testing.T) {
		cmd, stdout := startRun(t, project, "ids")
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("knit run ended before the kill (%v); stdout:\n%s", err, stdout)
		}
		killed, status, _ := lastRun(t, project)
		if status != "running" {
			t.Errorf("runs shows the killed run %s as %q right after the kill, want running", killed, status)
		}
		// The kill landed mid-run: the staged copies are half written.
		if len(stagedTables(t, project)) == 0 {
			t.Errorf("no staged tables after the kill: the run was not killed while writing")
		}
		stillServes(t)

		next := parseReport(t, mustKnit(t, "run", "-q", "--json", project))
		if next.Status != "succeeded" || next.Profiles.Total != rep.Profiles.Total {
			t.Errorf("the run after the kill: status %q, %d profiles; want succeeded and %d", next.Status, next.Profiles.Total, rep.Profiles.Total)
		}
		stillServes(t)
		got := queryStrings(t, project, `SELECT status FROM runs WHERE run_id = ?`, killed)
		if len(got) != 1 || got[0][0] != "interrupted" {
			t.Errorf("runs shows the killed run %s as %q after the next run, want interrupted", killed, got)
		}
		if left := stagedTables(t, project); len(left) > 0 {
			t.Errorf("staged tables left behind after a successful run: %q", left)
		}
	})

	// Interrupted by the user: the run's context is cancelled, the run
	// stops at the next stage and exits 130 like a shell does.
	t.Run("SIGINT", func(t *testing.T) {
		cmd, stdout := startRun(t, project, "load")
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("knit run exited %d after SIGINT, want 130 (%v); stdout:\n%s", code, err, stdout)
		}
		// The run had the time to record how it ended.
		id, status, message := lastRun(t, project)
		if status == "running" || status == "succeeded" || !strings.Contains(message, "cancel") {
			t.Errorf("runs shows the interrupted run %s as %q (%s), want it ended and cancelled", id, status, message)
		}
		// A cancelled run cleans up after itself.
		if left := stagedTables(t, project); len(left) > 0 {
			t.Errorf("staged tables left behind by the interrupted run: %q", left)
		}
		stillServes(t)
		mustKnit(t, "run", "-q", project)
		stillServes(t)
	})
}
