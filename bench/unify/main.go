// Command unify measures knit's deterministic unification end to end: it
// generates the workload once (package demo, preset unify-1m: about
// 1,000,000 profile records and 5,000,000 events), then runs `knit run` on
// a fresh database several times as a child process and prints the median
// wall time, per-stage medians and the peak resident memory of each run.
//
//	go build -o /tmp/knit ./cmd/knit
//	go run ./bench/unify -knit /tmp/knit -dir /tmp/unify1m -runs 3
//
// With -store postgres://… the runs use a PostgreSQL store instead: the
// project is copied to DIR-pg (knit.yaml with the store, the data
// symlinked) and its schema (knit_bench_unify unless the URL says
// schema=) is dropped before each run, as the DuckDB file is deleted.
//
// See docs/BENCHMARKS.md.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/knit-cdp/knit/demo"
	"github.com/knit-cdp/knit/pipeline"
)

func main() {
	knitBin := flag.String("knit", "knit", "the knit binary to measure")
	dir := flag.String("dir", "/tmp/unify1m", "workload folder; generated when it has no knit.yaml")
	preset := flag.String("preset", "unify-1m", "demo preset to generate")
	runs := flag.Int("runs", 3, "runs to take the median of")
	store := flag.String("store", "", "a postgres:// URL: run on a PostgreSQL store (see the package comment)")
	flag.Parse()

	if _, err := os.Stat(filepath.Join(*dir, "knit.yaml")); err != nil {
		opt, err := demo.Preset(*preset)
		if err != nil {
			fail(err)
		}
		start := time.Now()
		st, err := demo.Generate(*dir, opt)
		if err != nil {
			fail(err)
		}
		fmt.Printf("generated %s in %.1fs:\n%s\n", *dir, time.Since(start).Seconds(), st)
	}
	project, fresh := *dir, func() error {
		for _, f := range []string{"knit.duckdb", "knit.duckdb.wal"} {
			os.Remove(filepath.Join(*dir, f))
		}
		return nil
	}
	if *store != "" {
		var err error
		if project, fresh, err = postgresProject(*dir, *store); err != nil {
			fail(err)
		}
	}
	var walls []float64
	var rss []int64
	stages := map[string][]float64{}
	var order []string
	for i := 0; i < *runs; i++ {
		if err := fresh(); err != nil {
			fail(err)
		}
		var out bytes.Buffer
		cmd := exec.Command(*knitBin, "run", "--json", "-q", project)
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fail(fmt.Errorf("run %d: %w", i+1, err))
		}
		wall := time.Since(start).Seconds()
		var rep pipeline.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			fail(fmt.Errorf("run %d: report: %w", i+1, err))
		}
		peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
		walls = append(walls, wall)
		rss = append(rss, peak)
		for _, s := range rep.Stages {
			if _, ok := stages[s.Name]; !ok {
				order = append(order, s.Name)
			}
			stages[s.Name] = append(stages[s.Name], s.Seconds)
		}
		fmt.Printf("run %d: %.1fs wall, peak RSS %.2f GiB, %d profiles (%d known), %d identifiers\n",
			i+1, wall, float64(peak)/(1<<30), rep.Profiles.Total, rep.Profiles.Known, rep.Identifiers)
		// Each run's stages, wall and CPU: a slow run shows which stage
		// (and whether it waited or worked) instead of hiding in the median.
		fmt.Print("  stages (wall/cpu s):")
		for _, s := range rep.Stages {
			fmt.Printf(" %s %.1f/%.1f", s.Name, s.Seconds, s.CPUSeconds)
		}
		fmt.Println()
	}
	fmt.Printf("\nmedian of %d runs: %.1fs wall, peak RSS %.2f GiB (max %.2f GiB)\n", *runs, median(walls),
		float64(medianInt(rss))/(1<<30), float64(slices.Max(rss))/(1<<30))
	for _, name := range order {
		fmt.Printf("  %-12s %7.2fs\n", name, median(stages[name]))
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianInt(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "unify:", err)
	os.Exit(1)
}
