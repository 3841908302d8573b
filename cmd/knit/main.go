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
	"syscall"

	"github.com/knit-cdp/knit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "knit:", err)
		os.Exit(exitCode(err))
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
