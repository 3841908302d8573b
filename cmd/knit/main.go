// Command knit is the CLI of knit, the open-source customer data platform.
// It only wires packages together: configuration, the engine, the pipeline
// and lookups.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/knit-cdp/knit"
)

func main() {
	tuneMemory()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "knit:", err)
		os.Exit(exitCode(err))
	}
}

// tuneMemory trades memory the run has room for against garbage
// collection work: a batch run keeps millions of small objects alive for
// minutes, and the default (collect at twice the live heap) spends a tenth
// of the run marking them. A soft limit keeps the total bounded. GOGC and
// GOMEMLIMIT in the environment win.
func tuneMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2560 << 20)
	}
}

// exitCode maps knit's error codes to process exit codes, in one place.
func exitCode(err error) int {
	if errors.Is(err, context.Canceled) {
		return 130
	}
	switch knit.ErrorCode(err) {
	case knit.EINVALID:
		return 2
	case knit.ENOTFOUND:
		return 3
	case knit.ECONFLICT:
		return 4
	case knit.EBUDGET:
		return 5
	case knit.EUNAUTHORIZED:
		return 6
	}
	return 1
}
