//go:build !linux

package server

import "errors"

const lowPriorityThreads = false

// lowerThreadPriority is not available here: ingestion runs on the
// requests' goroutines at the process's priority.
func lowerThreadPriority(int) error {
	return errors.New("per-thread priority is not supported on this platform")
}
