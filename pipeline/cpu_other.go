//go:build !unix

package pipeline

import "time"

// processCPU is not measured here: stage reports carry no CPU time.
func processCPU() time.Duration { return 0 }
