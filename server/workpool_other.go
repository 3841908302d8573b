//go:build !linux

package server

import "errors"

// lowerThreadPriority is not available here: ingestion's workers run at
// the process's priority, and only their number bounds them.
func lowerThreadPriority(int) error {
	return errors.New("per-thread priority is not supported on this platform")
}
