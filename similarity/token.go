package similarity

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	knit "github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/standardize"
)

// tokenMatchThreshold is the Jaro-Winkler score at which two tokens count as
// the same word in TokenSimilarity ("jonson"/"johnson", "st"/"st"), following
// Cohen, Ravikumar and Fienberg's soft TF-IDF.
const tokenMatchThreshold = 0.9

// Corpus holds document frequencies of tokens: how many values contain each
// word. Rare words identify more than common ones, so "Zebra Coffee" and
// "Zebra Tea" share more than "Acme Coffee" and "Zebra Coffee" in a corpus
// of coffee shops. Add every value of a field, then compare; a Corpus is
// safe for concurrent TokenSimilarity calls once Add is no longer called.
type Corpus struct {
	values    int
	frequency map[string]int
}

// NewCorpus returns an empty corpus.
func NewCorpus() *Corpus {
	return &Corpus{frequency: map[string]int{}}
}

// Add counts the distinct tokens of value (standardize.Text, split on
// spaces). A value with no tokens is not counted.
func (c *Corpus) Add(value string) {
	words := tokens(value)
	if len(words) == 0 {
		return
	}
	c.values++
	for _, word := range words {
		c.frequency[word]++
	}
}

// idf is the smoothed inverse document frequency ln((1+N)/(1+df)) + 1: a
// word in every value weighs 1, a word never seen weighs the most, and no
// weight is zero, so a value made only of common words still compares.
func (c *Corpus) idf(word string) float64 {
	return math.Log(float64(1+c.values)/float64(1+c.frequency[word])) + 1
}

// TokenSimilarity is soft TF-IDF: the cosine of the two values' token
// vectors weighted by idf, where tokens match when their Jaro-Winkler score
// is at least 0.9 and a match counts with that score. Each token matches at
// most one token of the other value (best pairs first), which keeps the
// score symmetric and within [0,1]. Identical token sets score 1; a value
// without tokens scores 0.
func (c *Corpus) TokenSimilarity(a, b string) float64 {
	wordsA, wordsB := tokens(a), tokens(b)
	if len(wordsA) == 0 || len(wordsB) == 0 {
		return 0
	}
	if slices.Equal(wordsA, wordsB) {
		return 1
	}
	weightsA, weightsB := c.unitWeights(wordsA), c.unitWeights(wordsB)
	type pair struct {
		i, j   int
		score  float64
		weight float64
	}
	var pairs []pair
	for i, wa := range wordsA {
		for j, wb := range wordsB {
			if score := JaroWinkler(wa, wb); score >= tokenMatchThreshold {
				pairs = append(pairs, pair{i, j, score, weightsA[i] * weightsB[j]})
			}
		}
	}
	// Best pairs first; ties broken by weight, then by the words themselves
	// in an order that does not depend on which value came first.
	slices.SortFunc(pairs, func(p, q pair) int {
		return cmp.Or(
			cmp.Compare(q.score, p.score),
			cmp.Compare(q.weight, p.weight),
			strings.Compare(min(wordsA[p.i], wordsB[p.j]), min(wordsA[q.i], wordsB[q.j])),
			strings.Compare(max(wordsA[p.i], wordsB[p.j]), max(wordsA[q.i], wordsB[q.j])),
		)
	})
	usedA, usedB := make([]bool, len(wordsA)), make([]bool, len(wordsB))
	sum := 0.0
	for _, p := range pairs {
		if usedA[p.i] || usedB[p.j] {
			continue
		}
		usedA[p.i], usedB[p.j] = true, true
		sum += p.weight * p.score
	}
	return min(sum, 1)
}

// unitWeights returns the idf weights of words scaled to unit length.
func (c *Corpus) unitWeights(words []string) []float64 {
	weights := make([]float64, len(words))
	norm := 0.0
	for i, word := range words {
		weights[i] = c.idf(word)
		norm += weights[i] * weights[i]
	}
	norm = math.Sqrt(norm)
	for i := range weights {
		weights[i] /= norm
	}
	return weights
}

// Jaccard is the share of distinct tokens two values have in common, |A∩B|
// / |A∪B|: the token similarity when there is no corpus to weigh words by.
// Values without tokens score 0.
func Jaccard(a, b string) float64 {
	wordsA, wordsB := tokens(a), tokens(b)
	if len(wordsA) == 0 || len(wordsB) == 0 {
		return 0
	}
	common := 0
	for _, word := range wordsA {
		if _, found := slices.BinarySearch(wordsB, word); found {
			common++
		}
	}
	return float64(common) / float64(len(wordsA)+len(wordsB)-common)
}

// tokens returns the sorted distinct words of standardize.Text(value).
func tokens(value string) []string {
	text, ok := standardize.Text(value)
	if !ok {
		return nil
	}
	words := strings.Split(text, " ")
	slices.Sort(words)
	return slices.Compact(words)
}

// Score compares a and b with a named metric: "edit" (EditSimilarity, also
// the meaning of ""), "jaro_winkler" (JaroWinkler) or "token"
// (c.TokenSimilarity, or Jaccard when c is nil).
func Score(metric string, a, b string, c *Corpus) (float64, error) {
	switch metric {
	case "edit", "":
		return EditSimilarity(a, b), nil
	case "jaro_winkler":
		return JaroWinkler(a, b), nil
	case "token":
		if c == nil {
			return Jaccard(a, b), nil
		}
		return c.TokenSimilarity(a, b), nil
	}
	return 0, knit.Errorf(knit.EINVALID, "unknown similarity metric %q; use edit, jaro_winkler or token", metric)
}

// Precision levels of a fuzzy condition and their similarity thresholds.
var precisionThresholds = map[string]float64{"low": 0.30, "medium": 0.60, "high": 0.80}

// Threshold reads a condition's precision: "exact" or "" (exact=true: the
// values must be equal), "low" (0.30), "medium" (0.60), "high" (0.80), or a
// custom threshold written as a number in (0,1] ("0.85"). Two values match
// when their Score is at least the threshold.
func Threshold(precision string) (threshold float64, exact bool, err error) {
	level := strings.ToLower(strings.TrimSpace(precision))
	if level == "" || level == "exact" {
		return 1, true, nil
	}
	if t, ok := precisionThresholds[level]; ok {
		return t, false, nil
	}
	if custom, parseErr := strconv.ParseFloat(level, 64); parseErr == nil && custom > 0 && custom <= 1 {
		return custom, false, nil
	}
	return 0, false, knit.Errorf(knit.EINVALID, "precision %q: want exact, low (0.30), medium (0.60), high (0.80) or a number in (0,1] such as 0.85", precision)
}
