// Package fs is knit's probabilistic record-linkage model after Fellegi and
// Sunter (1969), in the form popularised by Splink: a pair of records is
// compared field by field; each comparison sorts the pair into one of a few
// ordered levels (exact, Jaro-Winkler ≥ 0.92, …, else); each level has
//
//	m = P(level | the records match)     u = P(level | they do not)
//
// and contributes log2(m/u) bits of evidence (its match weight). A pair's
// weight is the sum of its levels' weights plus the prior log-odds
// log2(λ/(1−λ)), where λ is the probability that two records drawn at random
// match; its match probability is 2^w / (1 + 2^w).
//
// Null values are no evidence. Each comparison may start with a level of
// kind "null" (either side missing); it contributes 0 bits, is never counted
// as agreement, and is left out of every estimate of m, u and λ.
//
// Training, as in Splink, runs on aggregated data only: the engine's SQL
// turns candidate pairs into comparison vectors (one level index per
// comparison) and groups them, so Go sees a few thousand distinct vectors
// with counts, never the pairs themselves.
//
//   - u is estimated from vectors of record pairs drawn at random
//     (EstimateU): almost all random pairs are non-matches.
//   - m is estimated by expectation-maximisation on blocked pairs
//     (EstimateM). A blocking rule forces agreement on its own columns, so
//     in each pass the comparisons on the blocking columns are left out of
//     the likelihood and keep their m; several passes with different
//     blocking rules give every comparison an estimate. Estimates from
//     several passes are averaged.
//   - λ is re-estimated by each EM pass: the share of matches among the
//     blocked pairs is converted back to the share among all pairs by
//     dividing out the Bayes factor of the levels the blocking forced.
//     That conversion leans on u and on independence between comparisons;
//     EstimatePrior, run once after training on the vectors of the pairs
//     the prediction blocking generates, is steadier: λ becomes their
//     expected number of matches over the number of all possible pairs.
//
// Smoothing: no m or u is ever exactly 0, which would make a weight
// infinite. Random-sample counts get a pseudo-count of half a pair per level
// (UPseudoCount), and every estimate is floored at MinProbability (1e-6,
// at most about ±20 bits per level) and the level's column renormalised.
//
// Term-frequency adjustment: an exact agreement on a rare value ("Linacre")
// is stronger evidence than one on a common value ("Smith"). On a level
// marked TF, the level's u is replaced by the relative frequency f(x) of
// the agreeing value x among records, so the level contributes log2(m/f(x))
// instead of log2(m/u). Values missing from the frequency table fall back to
// the level's u.
package fs

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Kind is the test a level applies to a pair of values.
type Kind string

const (
	// KindNull holds when either value is null (empty). It must be the
	// first level, contributes no evidence and is excluded from training.
	KindNull Kind = "null"
	// KindExact holds when the values (or their Part) are equal.
	KindExact Kind = "exact"
	// KindJaroWinkler holds when the Jaro-Winkler similarity is ≥ Threshold.
	KindJaroWinkler Kind = "jaro_winkler"
	// KindLevenshtein holds when the edit distance is ≤ Threshold.
	KindLevenshtein Kind = "levenshtein"
	// KindJaccard holds when the Jaccard similarity of the values' word
	// sets is ≥ Threshold.
	KindJaccard Kind = "jaccard"
	// KindDateWithinDays holds when two dates (YYYY-MM-DD…) are at most
	// Threshold days apart.
	KindDateWithinDays Kind = "date_within_days"
	// KindNumericWithin holds when two numbers differ by at most Threshold.
	KindNumericWithin Kind = "numeric_within"
	// KindElse always holds. It must be the last level.
	KindElse Kind = "else"
)

// Parts of a value a level may test instead of the whole value. The engine's
// SQL and the Go reference implementation (Comparison.LevelOf) must agree
// on them exactly.
const (
	PartWhole            = ""                  // the whole value
	PartEmailLocal       = "email_local"       // before the last '@'
	PartEmailDomain      = "email_domain"      // after the last '@'
	PartPostcodeSector   = "postcode_sector"   // spaces removed, without the last 2 characters (UK sector; US 3-digit ZIP prefix)
	PartPostcodeDistrict = "postcode_district" // spaces removed, without the last 3 characters (UK outward code)
	PartPostcodeArea     = "postcode_area"     // the leading letters (UK postcode area)
)

// MinProbability is the floor for every estimated m and u; see the package
// comment.
const MinProbability = 1e-6

// UPseudoCount is added to each level's count of random-sample pairs before
// u is computed, so a level never seen in the sample still gets a small u.
const UPseudoCount = 0.5

// Level is one ordered level of a comparison. Levels are tested in order and
// the first that holds wins, so tighter levels come before looser ones.
type Level struct {
	Label     string  `yaml:"label"`
	Kind      Kind    `yaml:"kind"`
	Part      string  `yaml:"part,omitempty"`
	Threshold float64 `yaml:"threshold,omitempty"`
	// TF marks an exact level whose u is replaced by the agreeing value's
	// term frequency when it is known.
	TF bool    `yaml:"tf,omitempty"`
	M  float64 `yaml:"m,omitempty"`
	U  float64 `yaml:"u,omitempty"`
}

// IsNull reports whether l is the "either side null" level.
func (l Level) IsNull() bool { return l.Kind == KindNull }

// Comparison compares one field of two records.
type Comparison struct {
	Name   string  `yaml:"name"`
	Field  string  `yaml:"field"`
	Levels []Level `yaml:"levels"`
	// MEstimates counts the EM passes that estimated this comparison's m;
	// 0 means its m values are still the starting guesses.
	MEstimates int `yaml:"m_estimates,omitempty"`
	// UEstimated records whether u came from a random sample.
	UEstimated bool `yaml:"u_estimated,omitempty"`
}

// Model is a trained (or to-be-trained) Fellegi–Sunter model.
type Model struct {
	Comparisons []Comparison `yaml:"comparisons"`
	// Prior is λ, the probability that two records drawn at random match.
	Prior float64 `yaml:"prior"`
	// PriorEstimates counts the EM passes that estimated Prior.
	PriorEstimates int `yaml:"prior_estimates,omitempty"`
	// Threshold is the match probability at or above which a scored pair
	// becomes a link.
	Threshold float64 `yaml:"threshold"`
	// TF maps a field to its values' relative frequencies among records,
	// for the comparisons with TF levels.
	TF      map[string]map[string]float64 `yaml:"term_frequencies,omitempty"`
	Trained time.Time                     `yaml:"trained,omitempty"`
	Notes   []string                      `yaml:"notes,omitempty"`
}

// Defaults for a new model.
const (
	DefaultPrior     = 1e-4
	DefaultThreshold = 0.9
)

// New returns an untrained model over the given comparisons.
func New(comparisons ...Comparison) *Model {
	return &Model{Comparisons: comparisons, Prior: DefaultPrior, Threshold: DefaultThreshold}
}

// Vector is a comparison vector: the level index of each comparison for one
// pair of records, in the order of Model.Comparisons.
type Vector []uint8

// VectorCount is a distinct vector and the number of pairs that had it: the
// output of the engine's GROUP BY, and the only input training needs.
type VectorCount struct {
	V Vector
	N int64
}

// checkVector reports a vector that does not fit the model.
func (m *Model) checkVector(v Vector) error {
	if len(v) != len(m.Comparisons) {
		return fmt.Errorf("comparison vector has %d levels, the model has %d comparisons", len(v), len(m.Comparisons))
	}
	for c, k := range v {
		if int(k) >= len(m.Comparisons[c].Levels) {
			return fmt.Errorf("comparison vector names level %d of comparison %q, which has only %d levels (0..%d)",
				k, m.Comparisons[c].Name, len(m.Comparisons[c].Levels), len(m.Comparisons[c].Levels)-1)
		}
	}
	return nil
}

// log2Odds is log2(p/(1−p)).
func log2Odds(p float64) float64 { return math.Log2(p) - math.Log2(1-p) }

// Weight is the match weight of a pair: the prior log-odds plus each
// comparison's log2 Bayes factor, without term-frequency adjustment. It
// panics on a vector that does not fit the model (a programming error).
func (m *Model) Weight(v Vector) float64 {
	return m.WeightTF(v, nil)
}

// WeightTF is Weight with term-frequency adjustment: values[c] is the value
// the pair agreed on for comparison c (either side's; used only when the
// pair is at a TF level). A nil values means no adjustment.
func (m *Model) WeightTF(v Vector, values []string) float64 {
	w := log2Odds(m.Prior)
	for c := range v {
		w += m.term(v, values, c).Weight
	}
	return w
}

// Probability turns a match weight into a match probability,
// 2^w / (1 + 2^w), without overflow for large |w|.
func (m *Model) Probability(weight float64) float64 {
	if weight >= 0 {
		return 1 / (1 + math.Exp2(-weight))
	}
	e := math.Exp2(weight)
	return e / (1 + e)
}

// IsLink reports whether a pair with this weight becomes a link.
func (m *Model) IsLink(weight float64) bool {
	return m.Probability(weight) >= m.Threshold
}

// Contribution is one term of a pair's match weight.
type Contribution struct {
	Comparison string  // comparison name; "prior" for the prior term
	Level      string  // level label
	Weight     float64 // log2 Bayes factor (bits)
	M, U       float64 // the probabilities used; U is f(x) when TF applied
	TF         bool    // whether the term-frequency adjustment applied
	Value      string  // the agreeing value, when TF applied
}

// String renders "last_name Jaro-Winkler ≥ 0.92: +6.1".
func (c Contribution) String() string {
	s := fmt.Sprintf("%s %s: %+.1f", c.Comparison, c.Level, c.Weight)
	if c.TF {
		s += fmt.Sprintf(" (term frequency of %q: %.3g)", c.Value, c.U)
	}
	return s
}

// Explanation is the full account of one pair's score.
type Explanation struct {
	Terms       []Contribution // the prior first, then one per comparison
	Weight      float64        // the sum of the terms
	Probability float64
	Link        bool // Probability ≥ the model's threshold
}

// String renders one term per line and the total.
func (e Explanation) String() string {
	var b strings.Builder
	for _, t := range e.Terms {
		b.WriteString(t.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "match weight %+.2f, probability %.4f", e.Weight, e.Probability)
	return b.String()
}

// Explain accounts for the score of a pair: the prior term and each
// comparison's level and contribution. values is as for WeightTF.
func (m *Model) Explain(v Vector, values []string) Explanation {
	e := Explanation{Terms: make([]Contribution, 0, len(v)+1)}
	e.Terms = append(e.Terms, Contribution{Comparison: "prior", Level: fmt.Sprintf("λ = %.3g", m.Prior), Weight: log2Odds(m.Prior)})
	for c := range v {
		e.Terms = append(e.Terms, m.term(v, values, c))
	}
	for _, t := range e.Terms {
		e.Weight += t.Weight
	}
	e.Probability = m.Probability(e.Weight)
	e.Link = e.Probability >= m.Threshold
	return e
}

// term is comparison c's contribution for vector v.
func (m *Model) term(v Vector, values []string, c int) Contribution {
	comp := &m.Comparisons[c]
	lvl := comp.Levels[v[c]]
	t := Contribution{Comparison: comp.Name, Level: lvl.Label, M: lvl.M, U: lvl.U}
	if lvl.IsNull() {
		// No evidence either way: Bayes factor 1.
		t.M, t.U = 0, 0
		return t
	}
	if lvl.TF && values != nil && c < len(values) {
		if f, ok := m.TF[comp.Field][values[c]]; ok && f > 0 {
			t.TF, t.Value, t.U = true, values[c], math.Max(f, MinProbability)
		}
	}
	t.Weight = math.Log2(t.M) - math.Log2(t.U)
	return t
}

// LevelWeight is the match weight log2(m/u) of level k of comparison c
// (0 for a null level).
func (m *Model) LevelWeight(c, k int) float64 {
	l := m.Comparisons[c].Levels[k]
	if l.IsNull() {
		return 0
	}
	return math.Log2(l.M) - math.Log2(l.U)
}

// Untrained lists the comparisons whose m or u has never been estimated,
// so training can say which blocking pass is missing.
func (m *Model) Untrained() []string {
	var out []string
	for _, c := range m.Comparisons {
		if c.MEstimates == 0 || !c.UEstimated {
			out = append(out, c.Name)
		}
	}
	return out
}

// TermFrequencies is the relative frequency of each non-empty value among
// records: the table the TF adjustment reads (the engine computes the same
// with a GROUP BY).
func TermFrequencies(values []string) map[string]float64 {
	counts := map[string]int{}
	total := 0
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			counts[v]++
			total++
		}
	}
	out := make(map[string]float64, len(counts))
	for v, n := range counts {
		out[v] = float64(n) / float64(total)
	}
	return out
}
