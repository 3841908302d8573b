package pipeline

// SetPriorSamplePairs lets tests force the prior's sampling on a small
// project; it returns the function that restores the default.
func SetPriorSamplePairs(n int64) (restore func()) {
	old := priorSamplePairs
	priorSamplePairs = n
	return func() { priorSamplePairs = old }
}
