package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	knitfs "github.com/knit-cdp/knit/fs"
	"github.com/knit-cdp/knit/identity"
)

// ModelReport is what the probabilistic matcher did in a run.
type ModelReport struct {
	File      string  `json:"file"`
	Records   int64   `json:"records"`
	Pairs     int64   `json:"candidate_pairs"` // pairs the blocking rules generated
	Kept      int64   `json:"kept_for_review"` // pairs at or above the review floor
	Links     int64   `json:"links"`           // pairs at or above the threshold
	Threshold float64 `json:"threshold"`
	Seconds   float64 `json:"seconds"`
	// CountSeconds counts the candidate pairs; ScoreSeconds scores them
	// and reads back those kept; PairsPerSec is Pairs / ScoreSeconds.
	CountSeconds float64 `json:"count_seconds"`
	ScoreSeconds float64 `json:"score_seconds"`
	PairsPerSec  float64 `json:"pairs_per_second"`
}

// scoredPair is a model-scored pair kept for review.
type scoredPair struct {
	a, b        int32 // record indexes
	weight      float64
	probability float64
	vector      string
	explanation string
}

// BuildModel turns the model section of knit.yaml into an untrained
// Fellegi–Sunter model: presets and explicit levels become fs comparisons
// with starting probabilities.
func BuildModel(m *config.Model) (*knitfs.Model, error) {
	var comps []knitfs.Comparison
	for _, c := range m.Comparisons {
		comp, err := buildComparison(c)
		if err != nil {
			return nil, err
		}
		comp.Name = c.Name
		if c.TF {
			for k := range comp.Levels {
				if comp.Levels[k].Kind == knitfs.KindExact && comp.Levels[k].Part == "" {
					comp.Levels[k].TF = true
				}
			}
		}
		comps = append(comps, comp)
	}
	model := knitfs.New(comps...)
	model.Threshold = m.Threshold
	if err := model.Validate(); err != nil {
		return nil, knit.Wrap(knit.EINVALID, err, "unify.model")
	}
	return model, nil
}

func buildComparison(c *config.Comparison) (knitfs.Comparison, error) {
	f := c.Field
	ints := func(def ...int) []int {
		if len(c.Thresholds) == 0 {
			return def
		}
		out := make([]int, len(c.Thresholds))
		for i, t := range c.Thresholds {
			out[i] = int(t)
		}
		return out
	}
	floats := func(def ...float64) []float64 {
		if len(c.Thresholds) == 0 {
			return def
		}
		return c.Thresholds
	}
	switch c.Preset {
	case "name":
		return knitfs.NameComparison(f), nil
	case "jaro_winkler":
		return knitfs.JaroWinklerComparison(f, floats(0.92, 0.8)...), nil
	case "levenshtein":
		return knitfs.LevenshteinComparison(f, ints(1, 2)...), nil
	case "exact":
		return knitfs.ExactComparison(f, c.TF), nil
	case "date":
		return knitfs.DateComparison(f, ints()...), nil
	case "date_of_birth":
		return knitfs.DateOfBirthComparison(f), nil
	case "email":
		return knitfs.EmailComparison(f), nil
	case "postcode":
		return knitfs.PostcodeComparison(f), nil
	case "numeric":
		return knitfs.NumericComparison(f, floats(0)...), nil
	case "":
		var levels []knitfs.Level
		for _, l := range c.Levels {
			levels = append(levels, knitfs.Level{Label: levelLabel(l), Kind: knitfs.Kind(l.Kind), Part: l.Part, Threshold: l.Threshold, TF: l.TF})
		}
		return knitfs.Custom(f, levels...), nil
	}
	return knitfs.Comparison{}, knit.Errorf(knit.EINVALID, "unify.model: unknown comparison preset %q", c.Preset)
}

func levelLabel(l *config.Level) string {
	if l.Label != "" {
		return l.Label
	}
	t := strconv.FormatFloat(l.Threshold, 'g', -1, 64)
	label := map[string]string{
		"exact": "exact", "jaro_winkler": "Jaro-Winkler ≥ " + t, "levenshtein": "edit distance ≤ " + t,
		"jaccard": "Jaccard ≥ " + t, "date_within_days": "within " + t + " days", "numeric_within": "within " + t,
	}[l.Kind]
	if l.Part != "" {
		label = l.Part + " " + label
	}
	return label
}

// modelPlan is a model compiled to SQL over a staged table of values.
type modelPlan struct {
	r      *run
	cfg    *config.Model
	model  *knitfs.Model
	d      engine.Dialect
	table  string
	cols   []valueColumn
	colOf  map[string]string // column key → column name
	recs   []int32
	vector []string // per comparison: the SQL of its level index
	tfComp []int    // comparisons with a TF level
}

// newModelPlan stages the values the model compares and compiles its
// comparisons. The TF columns read model.TF, so set it first.
func (r *run) newModelPlan(ctx context.Context, model *knitfs.Model) (*modelPlan, error) {
	cfg := r.proj.Config.Unify.Model
	p := &modelPlan{r: r, cfg: cfg, model: model, d: r.eng.Dialect(), table: matchTable + "_model", colOf: map[string]string{}}
	srcs := map[int]bool{}
	for _, s := range cfg.Sources {
		srcs[r.sourceRank[s]] = true
	}
	p.recs = r.recordsOf(srcs)
	for ci := range model.Comparisons {
		p.vector = append(p.vector, p.comparisonSQL(ci))
	}
	for _, rule := range append(slices.Clone(cfg.Blocking), cfg.Training.Blocking...) {
		for _, key := range rule {
			k, _ := config.ParseBlockingKey(key)
			p.textCol(k.Field)
		}
	}
	if err := r.stageValues(ctx, p.table, p.recs, p.cols); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *modelPlan) drop(ctx context.Context) { p.r.dropTable(ctx, p.table) }

// column adds (once) a staged column and returns its quoted name.
func (p *modelPlan) column(key string, typ engine.Type, value func(rec *record) any) string {
	if c, ok := p.colOf[key]; ok {
		return p.d.Quote(c)
	}
	name := fmt.Sprintf("c%d", len(p.cols))
	p.colOf[key] = name
	p.cols = append(p.cols, valueColumn{name: name, typ: typ, value: value})
	return p.d.Quote(name)
}

func (p *modelPlan) textCol(field string) string {
	return p.column("text "+field, engine.Text, func(rec *record) any {
		return nullString(asciiValue(p.r.ruleValue(rec, field)))
	})
}

func (p *modelPlan) partCol(field, part string) string {
	return p.column("part "+part+" "+field, engine.Text, func(rec *record) any {
		return nullString(knitfs.Part(asciiValue(p.r.ruleValue(rec, field)), part))
	})
}

func (p *modelPlan) dateCol(field string) string {
	return p.column("date "+field, engine.BigInt, func(rec *record) any {
		t, ok := knitfs.ParseDate(p.r.ruleValue(rec, field))
		if !ok {
			return nil
		}
		return t.Unix() / 86400
	})
}

func (p *modelPlan) numCol(field string) string {
	return p.column("num "+field, engine.Double, func(rec *record) any {
		x, err := strconv.ParseFloat(p.r.ruleValue(rec, field), 64)
		if err != nil {
			return nil
		}
		return x
	})
}

func (p *modelPlan) tfCol(field string) string {
	return p.column("tf "+field, engine.Double, func(rec *record) any {
		f, ok := p.model.TF[field][asciiValue(p.r.ruleValue(rec, field))]
		if !ok {
			return nil
		}
		return f
	})
}

// comparisonSQL is the CASE expression giving comparison ci's level index
// for the pair (l, r); it reproduces knitfs.Comparison.LevelOf on the
// staged values.
func (p *modelPlan) comparisonSQL(ci int) string {
	comp := &p.model.Comparisons[ci]
	v := p.textCol(comp.Field)
	var b strings.Builder
	b.WriteString("CASE")
	for k, l := range comp.Levels {
		if k == len(comp.Levels)-1 && l.Kind == knitfs.KindElse {
			break
		}
		lc, rc := "l."+v, "r."+v
		if l.Part != "" {
			c := p.partCol(comp.Field, l.Part)
			lc, rc = "l."+c, "r."+c
		}
		var test string
		switch l.Kind {
		case knitfs.KindNull:
			test = "l." + v + " IS NULL OR r." + v + " IS NULL"
		case knitfs.KindExact:
			test = lc + " = " + rc
			if l.TF {
				p.tfComp = append(p.tfComp, ci)
				p.tfCol(comp.Field)
			}
		case knitfs.KindJaroWinkler:
			test = p.d.Similarity("jaro_winkler", lc, rc) + " >= " + sqlFloat(l.Threshold)
		case knitfs.KindLevenshtein:
			test = p.d.Similarity("levenshtein", lc, rc) + " <= " + sqlFloat(l.Threshold)
		case knitfs.KindJaccard:
			test = p.d.Similarity("jaccard", lc, rc) + " >= " + sqlFloat(l.Threshold)
		case knitfs.KindDateWithinDays:
			c := p.dateCol(comp.Field)
			test = "abs(l." + c + " - r." + c + ") <= " + sqlFloat(l.Threshold)
		case knitfs.KindNumericWithin:
			c := p.numCol(comp.Field)
			test = "abs(l." + c + " - r." + c + ") <= " + sqlFloat(l.Threshold)
		case knitfs.KindElse:
			test = "TRUE"
		}
		fmt.Fprintf(&b, " WHEN %s THEN %d", test, k)
	}
	fmt.Fprintf(&b, " ELSE %d END", len(comp.Levels)-1)
	return b.String()
}

// blockSQL is the join condition of one blocking rule.
func (p *modelPlan) blockSQL(rule []string) string {
	var conds []string
	for _, key := range rule {
		k, _ := config.ParseBlockingKey(key)
		c := p.textCol(k.Field)
		if k.Prefix > 0 {
			n := strconv.Itoa(k.Prefix)
			conds = append(conds, "left(l."+c+", "+n+") = left(r."+c+", "+n+")")
		} else {
			conds = append(conds, "l."+c+" = r."+c)
		}
	}
	return strings.Join(conds, " AND ")
}

// pairsSQL selects the pairs the blocking rules generate, each once: a
// rule's pass leaves out the pairs an earlier rule generated, so the passes
// are unioned without duplicates and without a DISTINCT over all pairs.
// Each row is (a, b, v0…vn, t…, x…): the record indexes, the level of every
// comparison, then for TF comparisons the term frequency and the value.
func (p *modelPlan) pairsSQL(rules [][]string) string {
	cols := []string{"l.rid AS a", "r.rid AS b"}
	for ci, v := range p.vector {
		cols = append(cols, v+" AS v"+strconv.Itoa(ci))
	}
	for _, ci := range p.tfComp {
		field := p.model.Comparisons[ci].Field
		cols = append(cols, "l."+p.tfCol(field)+" AS t"+strconv.Itoa(ci), "l."+p.textCol(field)+" AS x"+strconv.Itoa(ci))
	}
	var link string
	switch p.cfg.Link {
	case "link_only":
		link = " AND l.src <> r.src"
	case "dedupe_only":
		link = " AND l.src = r.src"
	}
	var passes []string
	for i, rule := range rules {
		on := p.blockSQL(rule) + " AND l.rid < r.rid" + link
		for _, prev := range rules[:i] {
			on += " AND NOT coalesce(" + p.blockSQL(prev) + ", false)"
		}
		passes = append(passes, "SELECT "+strings.Join(cols, ", ")+" FROM "+p.d.Quote(p.table)+" l JOIN "+p.d.Quote(p.table)+" r ON "+on)
	}
	return strings.Join(passes, " UNION ALL ")
}

// vectorCounts groups the pairs of rules by comparison vector in the
// engine: Go receives only distinct vectors and their counts.
func (p *modelPlan) vectorCounts(ctx context.Context, pairs string) ([]knitfs.VectorCount, int64, error) {
	var vs []string
	for ci := range p.vector {
		vs = append(vs, "v"+strconv.Itoa(ci))
	}
	q := "SELECT " + strings.Join(vs, ", ") + ", count(*) FROM (" + pairs + ") p GROUP BY " + strings.Join(vs, ", ")
	rows, err := p.r.eng.Query(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []knitfs.VectorCount
	var total int64
	levels := make([]int64, len(vs))
	dest := make([]any, len(vs)+1)
	var n int64
	for i := range levels {
		dest[i] = &levels[i]
	}
	dest[len(vs)] = &n
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, 0, err
		}
		v := make(knitfs.Vector, len(vs))
		for i, l := range levels {
			v[i] = uint8(l)
		}
		out = append(out, knitfs.VectorCount{V: v, N: n})
		total += n
	}
	return out, total, rows.Err()
}

// weightSQL is the match weight of a pair row of pairsSQL: the prior
// log-odds plus each comparison's log2(m/u), with u replaced by the
// agreeing value's term frequency on TF levels (as knitfs.Model.WeightTF).
func (p *modelPlan) weightSQL() string {
	m := p.model
	terms := []string{sqlFloat(math.Log2(m.Prior) - math.Log2(1-m.Prior))}
	for ci, comp := range m.Comparisons {
		var b strings.Builder
		fmt.Fprintf(&b, "CASE v%d", ci)
		for k, l := range comp.Levels {
			w := m.LevelWeight(ci, k)
			if l.TF {
				fmt.Fprintf(&b, " WHEN %d THEN (ln(%s) - ln(greatest(coalesce(t%d, %s), %s))) / ln(2.0)", k, sqlFloat(l.M), ci, sqlFloat(l.U), sqlFloat(knitfs.MinProbability))
				continue
			}
			fmt.Fprintf(&b, " WHEN %d THEN %s", k, sqlFloat(w))
		}
		b.WriteString(" ELSE 0.0 END")
		terms = append(terms, b.String())
	}
	return strings.Join(terms, " + ")
}

// totalPairs is the number of all pairs the link type allows among the
// model's records: the denominator of the prior.
func (p *modelPlan) totalPairs() int64 {
	bySource := map[int]int64{}
	for _, i := range p.recs {
		bySource[p.r.recs[i].source]++
	}
	n := int64(len(p.recs))
	within := int64(0)
	for _, k := range bySource {
		within += k * (k - 1) / 2
	}
	switch p.cfg.Link {
	case "link_only":
		return n*(n-1)/2 - within
	case "dedupe_only":
		return within
	}
	return n * (n - 1) / 2
}

// modelPath is the trained model's file.
func modelPath(proj *config.Project) string {
	f := proj.Config.Unify.Model.File
	if filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(proj.Dir, f)
}

// loadTrainedModel reads the trained model and checks that it still fits
// the configuration's comparisons.
func loadTrainedModel(proj *config.Project) (*knitfs.Model, error) {
	path := modelPath(proj)
	trained, err := knitfs.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, knit.Errorf(knit.EINVALID, "%s: unify.model is configured but %s does not exist; run \"knit train %s\" first", proj.Path, path, proj.Dir)
	}
	if err != nil {
		return nil, err
	}
	want, err := BuildModel(proj.Config.Unify.Model)
	if err != nil {
		return nil, err
	}
	if len(want.Comparisons) != len(trained.Comparisons) {
		return nil, knit.Errorf(knit.EINVALID, "%s has %d comparisons, knit.yaml's unify.model has %d; run \"knit train\" again", path, len(trained.Comparisons), len(want.Comparisons))
	}
	for i, c := range want.Comparisons {
		t := trained.Comparisons[i]
		same := c.Name == t.Name && c.Field == t.Field && len(c.Levels) == len(t.Levels)
		for k := 0; same && k < len(c.Levels); k++ {
			same = c.Levels[k].Kind == t.Levels[k].Kind && c.Levels[k].Part == t.Levels[k].Part && c.Levels[k].Threshold == t.Levels[k].Threshold
		}
		if !same {
			return nil, knit.Errorf(knit.EINVALID, "%s: comparison %d (%s) differs from knit.yaml's unify.model.comparisons[%d]; run \"knit train\" again", path, i+1, t.Name, i)
		}
	}
	// The configured threshold wins, so it can be tuned without training.
	trained.Threshold = proj.Config.Unify.Model.Threshold
	return trained, nil
}

// match runs the match stage: dedupe rules, match rules, the model, then
// the overrides, which win over all of them.
func (r *run) match(ctx context.Context) error {
	if err := r.dedupe(ctx); err != nil {
		return err
	}
	if err := r.matchAcross(ctx); err != nil {
		return err
	}
	if r.proj.Config.Unify.Model != nil {
		if err := r.scoreModel(ctx); err != nil {
			return err
		}
	}
	return r.applyOverrides()
}

// scoreModel scores the blocked pairs with the trained model in the
// engine's SQL, keeps those at or above the review floor (for "knit
// pairs"), and links those at or above the threshold.
func (r *run) scoreModel(ctx context.Context) error {
	start := time.Now()
	model, err := loadTrainedModel(r.proj)
	if err != nil {
		return err
	}
	cfg := r.proj.Config.Unify.Model
	p, err := r.newModelPlan(ctx, model)
	if err != nil {
		return err
	}
	defer p.drop(ctx)
	rep := &ModelReport{File: modelPath(r.proj), Records: int64(len(p.recs)), Threshold: cfg.Threshold}
	r.rep.Model = rep
	pairs := p.pairsSQL(cfg.Blocking)
	floor := math.Log2(cfg.ReviewFloor) - math.Log2(1-cfg.ReviewFloor)
	// Counting the candidate pairs is a cheaper join without similarity
	// functions; it is timed apart so pairs per second measures scoring.
	countStart := time.Now()
	if rep.Pairs, err = r.countPairs(ctx, pairs); err != nil {
		return err
	}
	countTime := time.Since(countStart)
	scoreStart := time.Now()
	q := "SELECT * FROM (SELECT *, " + p.weightSQL() + " AS w FROM (" + pairs + ") p) s WHERE w >= " + sqlFloat(floor) + " ORDER BY a, b"
	rows, err := r.eng.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	colNames, err := rows.Columns()
	if err != nil {
		return err
	}
	var a, b int64
	var w float64
	levels := make([]int64, len(model.Comparisons))
	tfs := make([]*float64, len(p.tfComp))
	xs := make([]*string, len(p.tfComp))
	dest := []any{&a, &b}
	for i := range levels {
		dest = append(dest, &levels[i])
	}
	for i := range p.tfComp {
		dest = append(dest, &tfs[i], &xs[i])
	}
	dest = append(dest, &w)
	if len(dest) != len(colNames) {
		return fmt.Errorf("model scoring: %d columns, expected %d", len(colNames), len(dest))
	}
	idx := r.ruleIndex("model", identity.Rule)
	group := int32(len(r.proj.Config.Unify.Rules))
	v := make(knitfs.Vector, len(levels))
	values := make([]string, len(levels))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, l := range levels {
			v[i] = uint8(l)
		}
		clear(values)
		for i, ci := range p.tfComp {
			if xs[i] != nil {
				values[ci] = *xs[i]
			}
		}
		ex := model.Explain(v, values)
		if ex.Probability < cfg.ReviewFloor {
			continue
		}
		ra, rb := r.recs[a], r.recs[b]
		text := explanationLine(ex)
		r.scored = append(r.scored, scoredPair{a: int32(a), b: int32(b), weight: ex.Weight, probability: ex.Probability, vector: vectorString(v), explanation: text})
		rep.Kept++
		if !ex.Link {
			continue
		}
		r.g.Link(identity.Edge{A: ra.node, B: rb.node, Kind: identity.Rule, Group: group, Rule: idx})
		k := edgeKey(ra.node, rb.node, idx)
		r.ruleEvidence[k] = text
		r.ruleScores[k] = scoredEvidence{score: ex.Probability, detail: explanationJSON(ex)}
		rep.Links++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.CountSeconds = countTime.Seconds()
	if d := time.Since(scoreStart).Seconds(); d > 0 {
		rep.ScoreSeconds = d
		rep.PairsPerSec = float64(rep.Pairs) / d
	}
	return nil
}

func (r *run) countPairs(ctx context.Context, pairs string) (int64, error) {
	rows, err := r.eng.Query(ctx, "SELECT count(*) FROM ("+pairs+") p")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// explanationLine renders every term of a score on one line:
// "surname Jaro-Winkler ≥ 0.92: +6.1; …; prior: -13.3 → weight +12.10, probability 0.9998".
func explanationLine(ex knitfs.Explanation) string {
	parts := make([]string, 0, len(ex.Terms))
	for _, t := range ex.Terms[1:] {
		parts = append(parts, t.String())
	}
	parts = append(parts, ex.Terms[0].String())
	return fmt.Sprintf("%s → weight %+.2f, probability %.4f", strings.Join(parts, "; "), ex.Weight, ex.Probability)
}

// explanationJSON is the machine-readable form of an explanation, stored
// in links.detail.
func explanationJSON(ex knitfs.Explanation) string {
	type term struct {
		Comparison string  `json:"comparison"`
		Level      string  `json:"level"`
		Weight     float64 `json:"weight"`
		TF         bool    `json:"tf,omitempty"`
	}
	out := struct {
		Terms       []term  `json:"terms"`
		Weight      float64 `json:"weight"`
		Probability float64 `json:"probability"`
	}{Weight: round4(ex.Weight), Probability: ex.Probability}
	for _, t := range ex.Terms {
		out.Terms = append(out.Terms, term{Comparison: t.Comparison, Level: t.Level, Weight: round4(t.Weight), TF: t.TF})
	}
	js, _ := json.Marshal(out)
	return string(js)
}

func vectorString(v knitfs.Vector) string {
	parts := make([]string, len(v))
	for i, l := range v {
		parts[i] = strconv.Itoa(int(l))
	}
	return strings.Join(parts, ",")
}
