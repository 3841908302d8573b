// Package evaluate measures a linkage run against ground truth.
//
// Both the truth and the prediction map a record key to a cluster label
// (an entity ID in the truth, a customer ID in a run). Only records in the
// truth are scored: a predicted record the truth does not know is ignored
// (and counted in Result.Ignored), and a truth record the prediction lacks
// stands alone, as its own singleton cluster (counted in Result.Missing).
//
// Pairwise figures count unordered record pairs:
//
//	true pairs       pairs in the same entity
//	predicted pairs  pairs in the same predicted cluster
//	true positives   pairs in both
//	precision = TP / predicted pairs (1 when nothing was linked: no wrong link)
//	recall    = TP / true pairs      (1 when there was nothing to link)
//	F1        = the harmonic mean of the two (0 when both are 0)
//
// Pairs are counted by cluster-size combinatorics — n(n−1)/2 per cluster
// and per (entity, predicted cluster) overlap — never enumerated, so the
// cost is linear in the number of records.
//
// Cluster figures:
//
//	an entity is exact if its records form exactly one predicted cluster
//	holding nothing else;
//	an entity is split if its records land in two or more predicted
//	clusters;
//	a predicted cluster is over-merged if it holds records of two or more
//	entities.
package evaluate

import (
	"fmt"
	"strings"
)

// Result holds the pairwise and cluster figures of one evaluation.
type Result struct {
	Records int // records scored (those in the truth)
	Missing int // truth records absent from the prediction (scored as singletons)
	Ignored int // predicted records absent from the truth (not scored)

	TruePairs, PredictedPairs, TruePositives int64
	Precision, Recall, F1                    float64

	TrueClusters      int // entities
	PredictedClusters int // predicted clusters holding at least one truth record
	ExactClusters     int // entities predicted exactly
	SplitEntities     int // entities spread over ≥ 2 predicted clusters
	OverMerged        int // predicted clusters holding ≥ 2 entities
}

// Pairwise evaluates predicted against truth; see the package comment.
func Pairwise(truth, predicted map[string]string) Result {
	var r Result
	// Intern labels to dense integers so the overlap table is keyed by a
	// pair of ints. Records missing from the prediction get a fresh label
	// each, which cannot collide with a real one.
	entityID := make(map[string]int32, len(truth)/2)
	clusterID := make(map[string]int32, len(truth)/2)
	var entitySize, clusterSize []int64
	type cell struct{ entity, cluster int32 }
	overlap := make(map[cell]int64, len(truth)/2)
	for key, entity := range truth {
		e, ok := entityID[entity]
		if !ok {
			e = int32(len(entitySize))
			entityID[entity] = e
			entitySize = append(entitySize, 0)
		}
		var p int32
		if label, ok := predicted[key]; ok {
			if p, ok = clusterID[label]; !ok {
				p = int32(len(clusterSize))
				clusterID[label] = p
				clusterSize = append(clusterSize, 0)
			}
		} else {
			r.Missing++
			p = int32(len(clusterSize))
			clusterSize = append(clusterSize, 0)
		}
		entitySize[e]++
		clusterSize[p]++
		overlap[cell{e, p}]++
	}
	for key := range predicted {
		if _, ok := truth[key]; !ok {
			r.Ignored++
		}
	}
	r.Records = len(truth)

	for _, n := range entitySize {
		r.TruePairs += pairs(n)
	}
	for _, n := range clusterSize {
		r.PredictedPairs += pairs(n)
	}
	clustersPerEntity := make([]int32, len(entitySize))
	entitiesPerCluster := make([]int32, len(clusterSize))
	for c, n := range overlap {
		r.TruePositives += pairs(n)
		clustersPerEntity[c.entity]++
		entitiesPerCluster[c.cluster]++
	}
	r.Precision = ratio(r.TruePositives, r.PredictedPairs)
	r.Recall = ratio(r.TruePositives, r.TruePairs)
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}

	r.TrueClusters = len(entitySize)
	r.PredictedClusters = len(clusterSize)
	for c, n := range overlap {
		// The entity sits wholly in one cluster that holds nothing else.
		if n == entitySize[c.entity] && n == clusterSize[c.cluster] {
			r.ExactClusters++
		}
	}
	for _, k := range clustersPerEntity {
		if k >= 2 {
			r.SplitEntities++
		}
	}
	for _, k := range entitiesPerCluster {
		if k >= 2 {
			r.OverMerged++
		}
	}
	return r
}

// pairs is the number of unordered pairs among n records.
func pairs(n int64) int64 { return n * (n - 1) / 2 }

// ratio is a/b, or 1 when b is 0 (nothing to get wrong).
func ratio(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// String renders the result as a small table.
func (r Result) String() string {
	var b strings.Builder
	row := func(label string, format string, args ...any) {
		fmt.Fprintf(&b, "%-28s %s\n", label, fmt.Sprintf(format, args...))
	}
	row("records scored", "%d (missing from run: %d; not in truth, ignored: %d)", r.Records, r.Missing, r.Ignored)
	row("pairs: true / predicted", "%d / %d", r.TruePairs, r.PredictedPairs)
	row("pairs: true positives", "%d", r.TruePositives)
	row("precision", "%.4f", r.Precision)
	row("recall", "%.4f", r.Recall)
	row("F1", "%.4f", r.F1)
	row("clusters: true / predicted", "%d / %d", r.TrueClusters, r.PredictedClusters)
	row("entities exact", "%d (%.1f%%)", r.ExactClusters, percent(r.ExactClusters, r.TrueClusters))
	row("entities split", "%d", r.SplitEntities)
	row("clusters over-merged", "%d", r.OverMerged)
	return strings.TrimSuffix(b.String(), "\n")
}

func percent(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
