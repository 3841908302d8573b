package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/postgres"
)

func newRunCmd() *cobra.Command {
	var asJSON, quiet bool
	var only []string
	var heapProfile string
	cmd := &cobra.Command{
		Use:   "run <project>",
		Short: "Unify the project's sources into customer profiles",
		Long: `Run reads every source, standardises identifiers, deduplicates, matches,
clusters with guards, assigns stable customer IDs, merges unified fields and
writes the keyring. Results are swapped in only when the whole run succeeds.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			limitHeap()
			proj, eng, err := openProject(args[0])
			if err != nil {
				return err
			}
			defer eng.Close()
			opt := pipeline.Options{Only: only, TableWriter: postgres.TableExporter{}, Tables: postgres.TableSources{}}
			if !quiet {
				opt.Progress = newProgress(os.Stderr).update
			}
			if heapProfile != "" {
				opt.Progress = heapProfiler(heapProfile, opt.Progress)
			}
			rep, err := pipeline.Run(cmd.Context(), proj, eng, opt)
			if asJSON {
				if jerr := writeJSON(cmd.OutOrStdout(), rep); jerr != nil {
					return jerr
				}
			} else if rep != nil && (err == nil || rep.RunID > 0) {
				rep.Print(cmd.OutOrStdout())
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run report as JSON")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress display")
	cmd.Flags().StringVar(&heapProfile, "heapprofile", "", "write a heap profile to this file when the ids stage ends, where the live graph peaks (for developers)")
	_ = cmd.Flags().MarkHidden("heapprofile")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these stages, reusing the last run's results for the others: unify, search, activities, measures, segments, exports")
	return cmd
}

// defaultHeapLimit is knit run's soft limit on the Go heap when GOMEMLIMIT
// is not set. Without it the heap may grow to twice what is live before
// the garbage collector runs; with it, and DuckDB's own cap (duckdb.Open),
// a run of a million records and five million events peaks at 3.74 GiB
// instead of 4.30 GiB in the same time (docs/BENCHMARKS.md). Past the limit
// the collector runs more often, and Go caps its share of the CPU, so a
// larger live heap makes a run slower, never a failure.
const defaultHeapLimit = 2400 << 20

// runGCPercent is knit run's GOGC when the environment sets none. The live
// heap grows for the whole load stage (millions of records and
// identifiers, kept to the end), and at the default of 100 every doubling
// of it cost a collection that marked all of it again. At 400 the heap
// grows fivefold between collections until it reaches the soft limit
// above, which bounds it from then on: the 1M workload ran 16 collections
// instead of 29 at the same peak memory (docs/BENCHMARKS.md, issue 2).
const runGCPercent = 400

func limitHeap() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultHeapLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(runGCPercent)
	}
}

// progress shows the running stage: a live line with elapsed time on a
// terminal once a stage has taken a second, plain lines otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	stop  chan struct{}
	start time.Time
}

func newProgress(f *os.File) *progress { return &progress{w: f, tty: isTerminal(f)} }

func (p *progress) update(stage string, done bool, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		if done {
			fmt.Fprintf(p.w, "%-8s %6.2fs\n", stage, d.Seconds())
		}
		return
	}
	if !done {
		p.start = time.Now()
		p.stop = make(chan struct{})
		go p.tick(stage, p.stop)
		return
	}
	close(p.stop)
	if d >= time.Second {
		fmt.Fprintf(p.w, "\r\033[K%-8s %6.2fs\n", stage, d.Seconds())
	}
}

func (p *progress) tick(stage string, stop chan struct{}) {
	frames := `|/-\`
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			select {
			case <-stop: // the stage ended while we waited for the lock
				p.mu.Unlock()
				return
			default:
			}
			if el := time.Since(p.start); el >= time.Second {
				fmt.Fprintf(p.w, "\r\033[K%c %-8s %6.1fs", frames[i%4], stage, el.Seconds())
			}
			p.mu.Unlock()
		}
	}
}

// heapProfiler wraps a progress function so that a heap profile is written
// when the ids stage ends: the graph, the records and the assigned IDs are
// all alive then, which is what the memory work needs to see.
func heapProfiler(path string, next func(string, bool, time.Duration)) func(string, bool, time.Duration) {
	return func(stage string, done bool, d time.Duration) {
		if next != nil {
			next(stage, done, d)
		}
		if stage != "ids" || !done {
			return
		}
		runtime.GC()
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "heap profile:", err)
			return
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "heap profile:", err)
		}
	}
}
