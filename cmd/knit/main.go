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

// tuneMemory sets a soft memory limit when the environment sets none: a
// batch run keeps millions of small objects alive, and past the limit the
// collector works harder instead of letting the heap double. GOGC and
// GOMEMLIMIT in the environment win.
func tuneMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(3 << 30)
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
