package fs

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/knit-cdp/knit"
)

// EstimateU sets every comparison's u from the comparison vectors of record
// pairs drawn at random. Such pairs are almost all non-matches, so the share
// of them at each level estimates u (a pseudo-count of UPseudoCount per
// level and the MinProbability floor keep unseen levels above 0). Pairs at a
// comparison's null level say nothing about it and are skipped; a
// comparison with no non-null sample keeps its u and gets a note.
func (m *Model) EstimateU(samples []VectorCount) error {
	counts, err := m.levelCounts(samples)
	if err != nil {
		return err
	}
	for c := range m.Comparisons {
		comp := &m.Comparisons[c]
		total := 0.0
		for k, l := range comp.Levels {
			if !l.IsNull() {
				total += counts[c][k]
			}
		}
		if total == 0 {
			m.Notes = append(m.Notes, fmt.Sprintf("u of %s not estimated: every sampled pair had a null %s", comp.Name, comp.Field))
			continue
		}
		u := make([]float64, len(comp.Levels))
		for k, l := range comp.Levels {
			if !l.IsNull() {
				u[k] = counts[c][k] + UPseudoCount
			}
		}
		normaliseWithFloor(u, comp.Levels)
		for k := range comp.Levels {
			comp.Levels[k].U = u[k]
		}
		comp.UEstimated = true
	}
	return nil
}

// levelCounts tallies pairs per (comparison, level).
func (m *Model) levelCounts(vs []VectorCount) ([][]float64, error) {
	counts := make([][]float64, len(m.Comparisons))
	for c := range m.Comparisons {
		counts[c] = make([]float64, len(m.Comparisons[c].Levels))
	}
	for i, vc := range vs {
		if err := m.checkVector(vc.V); err != nil {
			return nil, knit.Wrap(knit.EINVALID, err, "vector %d", i)
		}
		if vc.N < 0 {
			return nil, knit.Errorf(knit.EINVALID, "vector %d has a negative count %d", i, vc.N)
		}
		for c, k := range vc.V {
			counts[c][k] += float64(vc.N)
		}
	}
	return counts, nil
}

// normaliseWithFloor scales p over the non-null levels to sum to 1 and
// raises every entry to at least MinProbability, renormalising after. A
// column of zeros is left as is (the caller keeps its old values).
func normaliseWithFloor(p []float64, levels []Level) bool {
	sum := 0.0
	for k, l := range levels {
		if !l.IsNull() {
			sum += p[k]
		}
	}
	if sum <= 0 || math.IsNaN(sum) {
		return false
	}
	floored := 0.0
	for k, l := range levels {
		if l.IsNull() {
			p[k] = 0
			continue
		}
		p[k] = math.Max(p[k]/sum, MinProbability)
		floored += p[k]
	}
	for k, l := range levels {
		if !l.IsNull() {
			p[k] /= floored
		}
	}
	return true
}

// EMOptions tunes one expectation-maximisation pass.
type EMOptions struct {
	// Fixed lists the comparisons (indexes) on the blocking rule's columns.
	// The blocking forced their agreement, so they carry no information
	// about m here: they are left out of the likelihood and keep m and u.
	Fixed []int
	// UpdateU also re-estimates u from the pairs EM judges non-matches
	// (classic Fellegi–Sunter EM). Off by default, as in Splink: u from a
	// random sample is better than u from blocked pairs.
	UpdateU bool
	// FixPrior keeps Model.Prior as it is.
	FixPrior bool
	// MaxIterations bounds the pass (default 200); Tolerance stops it when
	// no parameter moves by more than this (default 1e-6).
	MaxIterations int
	Tolerance     float64
}

// EMResult reports one EM pass.
type EMResult struct {
	Iterations int
	Converged  bool
	// BlockedPrior is the share of matches among the blocked pairs;
	// Prior is the same converted to all pairs (see the package comment).
	BlockedPrior float64
	Prior        float64
	// LogLikelihood is the final log-likelihood (natural log) of the
	// blocked pairs under the comparisons that took part.
	LogLikelihood float64
	Pairs         int64
}

// EstimateM runs one EM pass on the comparison vectors of blocked pairs and
// stores the estimated m (averaged with earlier passes' estimates of the
// same comparison), u when UpdateU is set, and the prior unless FixPrior is
// set (averaged in log-odds over passes). The pass is deterministic: the
// vectors are merged and sorted first, so their order does not matter.
func (m *Model) EstimateM(blocked []VectorCount, opt EMOptions) (EMResult, error) {
	if opt.MaxIterations <= 0 {
		opt.MaxIterations = 200
	}
	if opt.Tolerance <= 0 {
		opt.Tolerance = 1e-6
	}
	if err := m.Validate(); err != nil {
		return EMResult{}, err
	}
	fixed := make([]bool, len(m.Comparisons))
	for _, c := range opt.Fixed {
		if c < 0 || c >= len(m.Comparisons) {
			return EMResult{}, knit.Errorf(knit.EINVALID, "EM: fixed comparison index %d is out of range 0..%d", c, len(m.Comparisons)-1)
		}
		fixed[c] = true
	}
	vs, total, err := m.mergeVectors(blocked)
	if err != nil {
		return EMResult{}, err
	}
	if total == 0 {
		return EMResult{}, knit.Errorf(knit.EINVALID, "EM: no blocked pairs to learn from; loosen the blocking rule")
	}
	var active []int
	for c := range m.Comparisons {
		if !fixed[c] {
			active = append(active, c)
		}
	}
	if len(active) == 0 {
		return EMResult{}, knit.Errorf(knit.EINVALID, "EM: every comparison is fixed by the blocking rule; nothing to estimate")
	}

	// Working copies of m and u per level, so a failed pass leaves the
	// model untouched.
	mp := make([][]float64, len(m.Comparisons))
	up := make([][]float64, len(m.Comparisons))
	for c, comp := range m.Comparisons {
		for _, l := range comp.Levels {
			mp[c] = append(mp[c], l.M)
			up[c] = append(up[c], l.U)
		}
	}
	blockingBF := m.blockingBayesFactor(vs, fixed)
	lambda := clamp(oddsToP(pToOdds(m.Prior)*blockingBF), 1e-3, 0.5)

	res := EMResult{Pairs: total}
	logM := make([][]float64, len(m.Comparisons))
	logU := make([][]float64, len(m.Comparisons))
	mSum := make([][]float64, len(m.Comparisons))
	uSum := make([][]float64, len(m.Comparisons))
	for c := range m.Comparisons {
		logM[c] = make([]float64, len(mp[c]))
		logU[c] = make([]float64, len(up[c]))
		mSum[c] = make([]float64, len(mp[c]))
		uSum[c] = make([]float64, len(up[c]))
	}
	for res.Iterations < opt.MaxIterations {
		res.Iterations++
		for _, c := range active {
			for k := range mp[c] {
				logM[c][k], logU[c][k] = math.Log(mp[c][k]), math.Log(up[c][k])
				mSum[c][k], uSum[c][k] = 0, 0
			}
		}
		// E step: the posterior match probability of each distinct vector,
		// from log-likelihoods so that many comparisons cannot underflow.
		logPrior, logNotPrior := math.Log(lambda), math.Log1p(-lambda)
		matches, ll := 0.0, 0.0
		for _, vc := range vs {
			lm, lu := logPrior, logNotPrior
			for _, c := range active {
				k := vc.V[c]
				if m.Comparisons[c].Levels[k].IsNull() {
					continue // no evidence
				}
				lm += logM[c][k]
				lu += logU[c][k]
			}
			n := float64(vc.N)
			r := sigmoid(lm - lu)
			ll += n * logAddExp(lm, lu)
			matches += n * r
			for _, c := range active {
				k := vc.V[c]
				mSum[c][k] += n * r
				uSum[c][k] += n * (1 - r)
			}
		}
		res.LogLikelihood = ll
		// M step.
		change := 0.0
		for _, c := range active {
			levels := m.Comparisons[c].Levels
			if normaliseWithFloor(mSum[c], levels) {
				change = math.Max(change, maxAbsDiff(mSum[c], mp[c]))
				copy(mp[c], mSum[c])
			}
			if opt.UpdateU && normaliseWithFloor(uSum[c], levels) {
				change = math.Max(change, maxAbsDiff(uSum[c], up[c]))
				copy(up[c], uSum[c])
			}
		}
		newLambda := clamp(matches/float64(total), MinProbability, 1-MinProbability)
		change = math.Max(change, math.Abs(newLambda-lambda))
		lambda = newLambda
		if change < opt.Tolerance {
			res.Converged = true
			break
		}
	}

	res.BlockedPrior = lambda
	res.Prior = oddsToP(pToOdds(lambda) / blockingBF)
	for _, c := range active {
		comp := &m.Comparisons[c]
		n := float64(comp.MEstimates)
		for k := range comp.Levels {
			if comp.Levels[k].IsNull() {
				continue
			}
			// Running mean over the passes that estimated this comparison;
			// the starting guess (0 passes) is replaced outright.
			comp.Levels[k].M = (comp.Levels[k].M*n + mp[c][k]) / (n + 1)
			if opt.UpdateU {
				comp.Levels[k].U = up[c][k]
			}
		}
		comp.MEstimates++
	}
	if !opt.FixPrior {
		n := float64(m.PriorEstimates)
		logit := (log2Odds(m.Prior)*n + log2Odds(res.Prior)) / (n + 1)
		m.Prior = oddsToP(math.Exp2(logit))
		m.PriorEstimates++
	}
	if !res.Converged {
		m.Notes = append(m.Notes, fmt.Sprintf("EM pass stopped after %d iterations without converging to %g", res.Iterations, opt.Tolerance))
	}
	return res, nil
}

// mergeVectors validates, merges duplicate vectors and sorts them, so that
// EM's floating-point sums do not depend on the order the engine returned.
func (m *Model) mergeVectors(in []VectorCount) ([]VectorCount, int64, error) {
	out := make([]VectorCount, 0, len(in))
	var total int64
	for i, vc := range in {
		if err := m.checkVector(vc.V); err != nil {
			return nil, 0, knit.Wrap(knit.EINVALID, err, "EM: vector %d", i)
		}
		if vc.N < 0 {
			return nil, 0, knit.Errorf(knit.EINVALID, "EM: vector %d has a negative count %d", i, vc.N)
		}
		if vc.N > 0 {
			out = append(out, vc)
			total += vc.N
		}
	}
	slices.SortFunc(out, func(a, b VectorCount) int { return bytes.Compare(a.V, b.V) })
	merged := out[:0]
	for _, vc := range out {
		if len(merged) > 0 && bytes.Equal(merged[len(merged)-1].V, vc.V) {
			merged[len(merged)-1].N += vc.N
			continue
		}
		merged = append(merged, vc)
	}
	return merged, total, nil
}

// blockingBayesFactor is P(blocked | match) / P(blocked | non-match) for the
// fixed comparisons, taking the levels the blocked pairs show as the ones
// the blocking rule admits. It is exact for the usual rule, an exact match
// on a comparison's field, where every blocked pair sits at the exact level;
// for looser rules it is an approximation. It converts the blocked-pair
// prior to the all-pairs prior (Splink does the same).
func (m *Model) blockingBayesFactor(vs []VectorCount, fixed []bool) float64 {
	bf := 1.0
	for c, isFixed := range fixed {
		if !isFixed {
			continue
		}
		seen := make([]bool, len(m.Comparisons[c].Levels))
		for _, vc := range vs {
			seen[vc.V[c]] = true
		}
		pm, pu := 0.0, 0.0
		for k, l := range m.Comparisons[c].Levels {
			if seen[k] && !l.IsNull() {
				pm += l.M
				pu += l.U
			}
		}
		if pm > 0 && pu > 0 {
			bf *= pm / pu
		}
	}
	return bf
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// logAddExp is log(e^a + e^b) without overflow or underflow.
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

func pToOdds(p float64) float64       { return p / (1 - p) }
func oddsToP(o float64) float64       { return o / (1 + o) }
func clamp(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

func maxAbsDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// EstimatePrior re-estimates the prior from the comparison vectors of the
// pairs the prediction blocking rules generate, with m and u held: λ is
// the expected number of matches among them (the sum of their match
// probabilities) over totalPairs, the number of all possible pairs,
// iterated to a fixed point. It assumes the blocking misses almost no
// matches (pairs outside it count as non-matches), and is steadier than
// the per-pass conversion in EstimateM when u is rough. It returns the new
// prior and stores it.
func (m *Model) EstimatePrior(blocked []VectorCount, totalPairs int64) (float64, error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	vs, total, err := m.mergeVectors(blocked)
	if err != nil {
		return 0, err
	}
	if total == 0 || totalPairs < total {
		return 0, knit.Errorf(knit.EINVALID, "estimate prior: %d blocked pairs out of %d possible pairs; want at least one, and no more than all", total, totalPairs)
	}
	// Each vector's Bayes factor, in bits, is fixed; only λ moves.
	bits := make([]float64, len(vs))
	for i, vc := range vs {
		bits[i] = m.Weight(vc.V) - log2Odds(m.Prior)
	}
	lambda := m.Prior
	for range 1000 {
		matches := 0.0
		for i, vc := range vs {
			matches += float64(vc.N) * m.Probability(bits[i]+log2Odds(lambda))
		}
		next := clamp(matches/float64(totalPairs), MinProbability*MinProbability, 1-MinProbability)
		if math.Abs(next-lambda) <= 1e-9*lambda {
			lambda = next
			break
		}
		lambda = next
	}
	m.Prior = lambda
	return lambda, nil
}
