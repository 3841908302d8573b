package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"

	"github.com/spf13/cobra"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/postgres"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "knit",
		Short: "knit unifies every customer, known or not yet known, into one profile with a stable ID",
		Long: `knit unifies every customer, known or not yet known, into one profile with a stable ID.

A project is a folder holding knit.yaml (see docs/configuration.md). Keys are
written type:value (loyalty_id:707), source/pk (loyalty/707) or a customer ID.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var cpuProfile, traceFile string
	var profFile, traceOut *os.File
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for developers)")
	root.PersistentFlags().StringVar(&traceFile, "trace", "", "write a Go execution trace to this file (for developers: which goroutine waits on which)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	_ = root.PersistentFlags().MarkHidden("trace")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if traceFile != "" {
			f, err := os.Create(traceFile)
			if err != nil {
				return err
			}
			traceOut = f
			if err := trace.Start(f); err != nil {
				return err
			}
		}
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		profFile = f
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if profFile != nil {
			pprof.StopCPUProfile()
			profFile.Close()
		}
		if traceOut != nil {
			trace.Stop()
			traceOut.Close()
		}
	}
	root.AddCommand(newRunCmd(), newProfileCmd(), newExplainCmd(), newValidateCmd(), newVersionCmd(), newSchemaCmd(), newDemoDataCmd(), newQueryCmd(), newTrainCmd(), newPairsCmd(), newEvaluateCmd())
	root.AddCommand(newSegmentCmd(), newTimelineCmd(), newRunsCmd())
	root.AddCommand(newServeCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print knit's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			duck := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/duckdb/duckdb-go/v2" {
						duck = d.Version
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "knit %s (%s, %s/%s, duckdb-go %s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, duck)
			return nil
		},
	}
}

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of knit.yaml (for editors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.Schema())
			return err
		},
	}
}

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate <project>",
		Short: "Check a project's knit.yaml without touching any data",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			proj, err := config.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is valid: %d sources, %d identifier types, %d match rules\n",
				proj.Path, len(proj.Config.Sources), len(proj.Config.Identifiers), len(proj.Config.Unify.Rules))
			return nil
		},
	}
}

// openProject loads and validates a project, then opens its engine.
func openProject(dir string) (*config.Project, engine.Engine, error) {
	proj, err := config.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	store := proj.Config.Store
	// A PostgreSQL store is shared: a running knit serve does not hold it.
	if !postgres.IsURL(store) {
		if err := serverHolding(dir); err != nil {
			return nil, nil, err
		}
	}
	if postgres.IsURL(store) {
		schema, err := postgres.SchemaFor(store, proj.Dir)
		if err != nil {
			return nil, nil, err
		}
		eng, err := postgres.Open(context.Background(), store, schema)
		if err != nil {
			return nil, nil, err
		}
		return proj, eng, nil
	}
	if !filepath.IsAbs(store) {
		store = filepath.Join(proj.Dir, store)
	}
	eng, err := duckdb.Open(store)
	if err != nil {
		return nil, nil, err
	}
	return proj, eng, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether f is a terminal, for progress displays.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
