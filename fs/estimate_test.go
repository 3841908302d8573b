package fs

import (
	"math"
	"math/rand"
	"slices"
	"testing"
)

// truth is a known model that synthetic pairs are drawn from: four
// comparisons with 3–4 non-null levels; the first also has a null level,
// hit by 20% of pairs whatever their match status.
func truthModel() *Model {
	mk := func(name string, m, u []float64, null bool) Comparison {
		c := Comparison{Name: name, Field: name}
		if null {
			c.Levels = append(c.Levels, Level{Label: "null", Kind: KindNull})
		}
		for i := range m {
			kind, label := KindJaroWinkler, "fuzzy"
			switch {
			case i == 0:
				kind, label = KindExact, "exact"
			case i == len(m)-1:
				kind, label = KindElse, "else"
			}
			c.Levels = append(c.Levels, Level{Label: label, Kind: kind, Threshold: 0.9 - 0.1*float64(i), M: m[i], U: u[i]})
		}
		return c
	}
	return &Model{
		Comparisons: []Comparison{
			mk("first_name", []float64{0.70, 0.20, 0.10}, []float64{0.02, 0.08, 0.90}, true),
			mk("surname", []float64{0.75, 0.15, 0.06, 0.04}, []float64{0.01, 0.04, 0.15, 0.80}, false),
			mk("dob", []float64{0.80, 0.12, 0.08}, []float64{0.005, 0.095, 0.90}, false),
			mk("city", []float64{0.60, 0.25, 0.10, 0.05}, []float64{0.10, 0.10, 0.30, 0.50}, false),
		},
		Prior:     0.15,
		Threshold: 0.9,
	}
}

// drawPairs samples n pairs from the model's generative story: a pair
// matches with probability prior; each comparison then takes level k with
// probability m_k (match) or u_k (non-match), independently, except that the
// null level (if any) is hit with probability nullRate regardless.
func drawPairs(t testing.TB, truth *Model, prior float64, n int, nullRate float64, rng *rand.Rand, keep func(Vector) bool) []VectorCount {
	t.Helper()
	counts := map[string]int64{}
	v := make(Vector, len(truth.Comparisons))
	for range n {
		match := rng.Float64() < prior
		for c, comp := range truth.Comparisons {
			if comp.Levels[0].IsNull() && rng.Float64() < nullRate {
				v[c] = 0
				continue
			}
			x, acc := rng.Float64(), 0.0
			for k, l := range comp.Levels {
				if l.IsNull() {
					continue
				}
				p := l.U
				if match {
					p = l.M
				}
				acc += p
				v[c] = uint8(k)
				if x < acc {
					break
				}
			}
		}
		if keep == nil || keep(v) {
			counts[string(v)]++
		}
	}
	out := make([]VectorCount, 0, len(counts))
	for s, n := range counts {
		out = append(out, VectorCount{V: Vector(s), N: n})
	}
	// Map order is random; sort so the test itself is deterministic.
	slices.SortFunc(out, func(a, b VectorCount) int { return compareStrings(string(a.V), string(b.V)) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// perturbed returns a copy of truth with every m and u multiplied by a
// random factor in [0.5, 1.5] and renormalised, and the prior halved.
func perturbed(truth *Model, rng *rand.Rand) *Model {
	m := cloneModel(truth)
	for c := range m.Comparisons {
		levels := m.Comparisons[c].Levels
		mp, up := make([]float64, len(levels)), make([]float64, len(levels))
		for k := range levels {
			mp[k] = levels[k].M * (0.5 + rng.Float64())
			up[k] = levels[k].U * (0.5 + rng.Float64())
		}
		normaliseWithFloor(mp, levels)
		normaliseWithFloor(up, levels)
		for k := range levels {
			levels[k].M, levels[k].U = mp[k], up[k]
		}
	}
	m.Prior = truth.Prior / 2
	return m
}

func cloneModel(m *Model) *Model {
	out := *m
	out.Comparisons = make([]Comparison, len(m.Comparisons))
	for i, c := range m.Comparisons {
		c.Levels = slices.Clone(c.Levels)
		out.Comparisons[i] = c
	}
	return &out
}

// assertRecovered checks every non-null m (and u, if checkU) of the
// comparisons in which against the truth.
func assertRecovered(t *testing.T, got, truth *Model, which []int, checkU bool, tol float64) {
	t.Helper()
	for _, c := range which {
		for k, want := range truth.Comparisons[c].Levels {
			if want.IsNull() {
				continue
			}
			l := got.Comparisons[c].Levels[k]
			if math.Abs(l.M-want.M) > tol {
				t.Errorf("%s level %d: m = %.4f, want %.4f ± %g", want.Label, k, l.M, want.M, tol)
			}
			if checkU && math.Abs(l.U-want.U) > tol {
				t.Errorf("%s level %d: u = %.4f, want %.4f ± %g", want.Label, k, l.U, want.U, tol)
			}
		}
	}
}

func TestEMRecoversKnownParameters(t *testing.T) {
	truth := truthModel()
	rng := rand.New(rand.NewSource(1))
	pairs := drawPairs(t, truth, truth.Prior, 200_000, 0.2, rng, nil)
	model := perturbed(truth, rng)

	res, err := model.EstimateM(pairs, EMOptions{UpdateU: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged {
		t.Errorf("EM did not converge in %d iterations", res.Iterations)
	}
	assertRecovered(t, model, truth, []int{0, 1, 2, 3}, true, 0.02)
	if rel := math.Abs(model.Prior-truth.Prior) / truth.Prior; rel > 0.10 {
		t.Errorf("prior = %.4f, want %.4f within 10%%", model.Prior, truth.Prior)
	}
	for c, comp := range model.Comparisons {
		if comp.Levels[0].IsNull() && (comp.Levels[0].M != 0 || comp.Levels[0].U != 0) {
			t.Errorf("comparison %d: null level got m=%g u=%g; it must stay out of EM", c, comp.Levels[0].M, comp.Levels[0].U)
		}
	}
}

// TestEMWithSampledU is the Splink flow: u from random pairs first, then EM
// for m with u held.
func TestEMWithSampledU(t *testing.T) {
	truth := truthModel()
	rng := rand.New(rand.NewSource(2))
	model := perturbed(truth, rng)
	// Random pairs: with a realistic prior nearly all are non-matches.
	random := drawPairs(t, truth, 1e-4, 300_000, 0.2, rng, nil)
	if err := model.EstimateU(random); err != nil {
		t.Fatal(err)
	}
	for c, comp := range model.Comparisons {
		for k, l := range comp.Levels {
			if want := truth.Comparisons[c].Levels[k].U; !l.IsNull() && math.Abs(l.U-want) > 0.005 {
				t.Errorf("%s level %d: sampled u = %.4f, want %.4f", comp.Name, k, l.U, want)
			}
		}
	}
	blocked := drawPairs(t, truth, truth.Prior, 200_000, 0.2, rng, nil)
	if _, err := model.EstimateM(blocked, EMOptions{}); err != nil {
		t.Fatal(err)
	}
	assertRecovered(t, model, truth, []int{0, 1, 2, 3}, true, 0.02)
	if got := model.Untrained(); len(got) != 0 {
		t.Errorf("Untrained() = %v after u and m were estimated for every comparison", got)
	}
}

// TestEMBlockedPass checks a blocking pass: pairs are kept only when dob
// agrees exactly (what "block on dob" yields), dob's m stays as it was, the
// other comparisons' m is recovered, and the prior is converted back from
// the blocked pairs to all pairs.
func TestEMBlockedPass(t *testing.T) {
	truth := truthModel()
	const prior = 0.01
	rng := rand.New(rand.NewSource(3))
	const dob = 2
	blocked := drawPairs(t, truth, prior, 1_500_000, 0.2, rng, func(v Vector) bool { return v[dob] == 0 })

	model := perturbed(truth, rng)
	for c := range model.Comparisons {
		// u as if sampled; dob's m as if estimated by an earlier pass.
		for k := range model.Comparisons[c].Levels {
			model.Comparisons[c].Levels[k].U = truth.Comparisons[c].Levels[k].U
			if c == dob {
				model.Comparisons[c].Levels[k].M = truth.Comparisons[c].Levels[k].M
			}
		}
	}
	before := slices.Clone(model.Comparisons[dob].Levels)
	res, err := model.EstimateM(blocked, EMOptions{Fixed: []int{dob}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, model.Comparisons[dob].Levels) {
		t.Errorf("the blocking comparison's levels changed: %v → %v", before, model.Comparisons[dob].Levels)
	}
	assertRecovered(t, model, truth, []int{0, 1, 3}, false, 0.02)
	wantBlocked := prior * 0.80 / (prior*0.80 + (1-prior)*0.005)
	if rel := math.Abs(res.BlockedPrior-wantBlocked) / wantBlocked; rel > 0.10 {
		t.Errorf("blocked prior = %.4f, want %.4f within 10%%", res.BlockedPrior, wantBlocked)
	}
	if rel := math.Abs(model.Prior-prior) / prior; rel > 0.10 {
		t.Errorf("prior = %.5f, want %.5f within 10%%", model.Prior, prior)
	}
	if model.Comparisons[dob].MEstimates != 0 || model.Comparisons[1].MEstimates != 1 {
		t.Errorf("m estimate counts: dob %d, surname %d; want 0 and 1", model.Comparisons[dob].MEstimates, model.Comparisons[1].MEstimates)
	}
}

// TestEMIsDeterministic: the engine returns groups in any order; the
// result must not depend on it, to the last bit.
func TestEMIsDeterministic(t *testing.T) {
	truth := truthModel()
	rng := rand.New(rand.NewSource(4))
	pairs := drawPairs(t, truth, truth.Prior, 50_000, 0.2, rng, nil)
	start := perturbed(truth, rng)

	a := cloneModel(start)
	if _, err := a.EstimateM(pairs, EMOptions{UpdateU: true}); err != nil {
		t.Fatal(err)
	}
	shuffled := slices.Clone(pairs)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	// Split one group in two: the same pairs, reported twice.
	shuffled = append(shuffled, VectorCount{V: shuffled[0].V, N: shuffled[0].N / 2})
	shuffled[0].N -= shuffled[0].N / 2
	b := cloneModel(start)
	if _, err := b.EstimateM(shuffled, EMOptions{UpdateU: true}); err != nil {
		t.Fatal(err)
	}
	for c := range a.Comparisons {
		if !slices.Equal(a.Comparisons[c].Levels, b.Comparisons[c].Levels) {
			t.Errorf("comparison %d differs with input order:\n%v\n%v", c, a.Comparisons[c].Levels, b.Comparisons[c].Levels)
		}
	}
	if a.Prior != b.Prior {
		t.Errorf("prior differs with input order: %v vs %v", a.Prior, b.Prior)
	}
}

func TestEMRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		pairs []VectorCount
		opt   EMOptions
	}{
		{"no pairs", nil, EMOptions{}},
		{"short vector", []VectorCount{{V: Vector{1, 1}, N: 3}}, EMOptions{}},
		{"level out of range", []VectorCount{{V: Vector{1, 9, 1, 1}, N: 3}}, EMOptions{}},
		{"negative count", []VectorCount{{V: Vector{1, 1, 1, 1}, N: -1}}, EMOptions{}},
		{"fixed out of range", []VectorCount{{V: Vector{1, 1, 1, 1}, N: 1}}, EMOptions{Fixed: []int{4}}},
		{"everything fixed", []VectorCount{{V: Vector{1, 1, 1, 1}, N: 1}}, EMOptions{Fixed: []int{0, 1, 2, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := truthModel()
			before := cloneModel(m)
			if _, err := m.EstimateM(tt.pairs, tt.opt); err == nil {
				t.Fatal("EstimateM accepted bad input")
			}
			for c := range m.Comparisons {
				if !slices.Equal(m.Comparisons[c].Levels, before.Comparisons[c].Levels) {
					t.Errorf("a failed pass changed comparison %d", c)
				}
			}
		})
	}
}

// TestNullLevelExcludedFromU: pairs with a null value must not dilute u.
func TestNullLevelExcludedFromU(t *testing.T) {
	a, b := truthModel(), truthModel()
	base := []VectorCount{{V: Vector{1, 1, 1, 1}, N: 10}, {V: Vector{3, 3, 2, 3}, N: 90}}
	withNulls := append(slices.Clone(base), VectorCount{V: Vector{0, 3, 2, 3}, N: 1000})
	if err := a.EstimateU(base); err != nil {
		t.Fatal(err)
	}
	if err := b.EstimateU(withNulls); err != nil {
		t.Fatal(err)
	}
	for k := range a.Comparisons[0].Levels {
		if a.Comparisons[0].Levels[k].U != b.Comparisons[0].Levels[k].U {
			t.Errorf("level %d: u = %g without null pairs, %g with them", k, a.Comparisons[0].Levels[k].U, b.Comparisons[0].Levels[k].U)
		}
	}
	// exact 10 of 100 pairs, smoothed: (10+0.5)/(100+1.5).
	if got, want := a.Comparisons[0].Levels[1].U, 10.5/101.5; math.Abs(got-want) > 1e-12 {
		t.Errorf("u(first_name exact) = %v, want %v", got, want)
	}
	// fuzzy level never seen: the pseudo-count keeps it above zero.
	if got := a.Comparisons[0].Levels[2].U; !(got > 0) {
		t.Errorf("u of an unseen level = %v, want > 0", got)
	}
}

func TestEstimateUNotesAllNullComparison(t *testing.T) {
	m := truthModel()
	before := slices.Clone(m.Comparisons[0].Levels)
	if err := m.EstimateU([]VectorCount{{V: Vector{0, 1, 1, 1}, N: 50}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, m.Comparisons[0].Levels) || m.Comparisons[0].UEstimated {
		t.Error("a comparison seen only as null had its u changed")
	}
	if len(m.Notes) != 1 {
		t.Errorf("notes = %q, want one note about first_name", m.Notes)
	}
}

// BenchmarkEM runs EM on 5,000 distinct vectors (more than real training
// produces) until convergence.
func BenchmarkEM(b *testing.B) {
	comps := make([]Comparison, 7)
	for i := range comps {
		comps[i] = NameComparison(string(rune('a' + i)))
	}
	start := New(comps...)
	rng := rand.New(rand.NewSource(5))
	seen := map[string]bool{}
	var pairs []VectorCount
	for len(pairs) < 5000 {
		v := make(Vector, len(comps))
		for c := range v {
			v[c] = uint8(rng.Intn(len(comps[c].Levels)))
		}
		if !seen[string(v)] {
			seen[string(v)] = true
			pairs = append(pairs, VectorCount{V: v, N: 1 + rng.Int63n(1000)})
		}
	}
	b.ResetTimer()
	for b.Loop() {
		m := cloneModel(start)
		if _, err := m.EstimateM(pairs, EMOptions{MaxIterations: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEstimatePrior(t *testing.T) {
	truth := truthModel()
	const prior = 0.01
	rng := rand.New(rand.NewSource(6))
	pairs := drawPairs(t, truth, prior, 400_000, 0.2, rng, nil)
	var n int64
	for _, vc := range pairs {
		n += vc.N
	}
	m := cloneModel(truth) // m and u known; only λ to find
	m.Prior = 0.3
	got, err := m.EstimatePrior(pairs, n)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(got-prior) / prior; rel > 0.10 || m.Prior != got {
		t.Errorf("EstimatePrior = %.5f (model %.5f), want %.5f within 10%%", got, m.Prior, prior)
	}
	if _, err := m.EstimatePrior(pairs, n-1); err == nil {
		t.Error("more blocked pairs than possible pairs was accepted")
	}
}
