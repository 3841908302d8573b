package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"math"
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
	// ScoreSeconds generates, scores and counts every candidate pair in
	// the engine (levels and weights), until the first kept pair arrives;
	// ReadSeconds reads back and explains those kept; CountSeconds counts
	// the pairs apart when none was kept. PairsPerSec is Pairs / ScoreSeconds.
	CountSeconds float64 `json:"count_seconds"`
	ScoreSeconds float64 `json:"score_seconds"`
	ReadSeconds  float64 `json:"read_seconds"`
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
	vector []string // per comparison: the SQL of its level index, over compareSQL's inner columns
	tfComp []int    // comparisons with a TF level

	// compareSQL's inner query selects, per pair, the staged columns the
	// comparisons read (refs, as "l"/"r" + index) and the similarities
	// several levels of one comparison test (sims), computed once.
	refs  []string
	refOf map[string]string
	sims  []hoistedSim

	seed      maphash.Seed      // of the blocking-key hashes
	cachedRec *record           // the record whose values cache holds
	cache     map[string]string // field → standardised value of cachedRec
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
	p.seed = maphash.MakeSeed()
	for _, rule := range append(slices.Clone(cfg.Blocking), cfg.Training.Blocking...) {
		p.blockCol(rule)
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
		return nullString(p.value(rec, field))
	})
}

// value is a record's standardised ASCII value of field. Staging asks for
// the same field several times per record (text, parts, date, term
// frequency), so the values of the record being staged are cached.
func (p *modelPlan) value(rec *record, field string) string {
	if p.cachedRec != rec {
		p.cachedRec = rec
		clear(p.cache)
	}
	if v, ok := p.cache[field]; ok {
		return v
	}
	if p.cache == nil {
		p.cache = map[string]string{}
	}
	v := asciiValue(p.r.ruleValue(rec, field))
	p.cache[field] = v
	return v
}

func (p *modelPlan) partCol(field, part string) string {
	return p.column("part "+part+" "+field, engine.Text, func(rec *record) any {
		return nullString(knitfs.Part(p.value(rec, field), part))
	})
}

func (p *modelPlan) dateCol(field string) string {
	return p.column("date "+field, engine.BigInt, func(rec *record) any {
		t, ok := knitfs.ParseDate(p.value(rec, field))
		if !ok {
			return nil
		}
		return t.Unix() / 86400
	})
}

func (p *modelPlan) numCol(field string) string {
	return p.column("num "+field, engine.Double, func(rec *record) any {
		x, err := strconv.ParseFloat(p.value(rec, field), 64)
		if err != nil {
			return nil
		}
		return x
	})
}

func (p *modelPlan) tfCol(field string) string {
	return p.column("tf "+field, engine.Double, func(rec *record) any {
		f, ok := p.model.TF[field][p.value(rec, field)]
		if !ok {
			return nil
		}
		return f
	})
}

// comparisonSQL is the CASE expression giving comparison ci's level index
// for a pair; it reproduces knitfs.Comparison.LevelOf on the staged
// values. It reads the columns of compareSQL's inner query (ref, sims).
func (p *modelPlan) comparisonSQL(ci int) string {
	comp := &p.model.Comparisons[ci]
	v := p.textCol(comp.Field)
	colOf := func(l knitfs.Level) string {
		switch {
		case l.Part != "":
			return p.partCol(comp.Field, l.Part)
		case l.Kind == knitfs.KindDateWithinDays:
			return p.dateCol(comp.Field)
		case l.Kind == knitfs.KindNumericWithin:
			return p.numCol(comp.Field)
		}
		return v
	}
	// A similarity that several levels test (Jaro-Winkler ≥ 0.92, ≥ 0.88,
	// ≥ 0.7) is computed once per pair in the inner query: the engine
	// does not share it between the branches of a CASE.
	uses := map[string]int{}
	bound := map[string]float64{} // column → the largest "edit distance ≤ k" of its levels
	for _, l := range comp.Levels {
		if m := similarityMetric(l.Kind); m != "" {
			uses[m+" "+colOf(l)]++
		}
		if l.Kind == knitfs.KindLevenshtein {
			if b, ok := bound[colOf(l)]; !ok || l.Threshold > b {
				bound[colOf(l)] = l.Threshold
			}
		}
	}
	// An edit distance tested only against thresholds up to k is needed
	// only up to k: any distance above gives the same levels as k+1, and
	// engines that can tell "more than k" cheaply (engine.EditBounder)
	// skip the full computation for most pairs.
	similarity := func(metric, a, b, col string) string {
		if e, ok := p.d.(engine.EditBounder); ok && metric == "levenshtein" && bound[col] >= 0 {
			return e.EditDistanceUpTo(a, b, int(math.Floor(bound[col])))
		}
		return p.d.Similarity(metric, a, b)
	}
	hoisted := map[string]string{}
	exactBefore := map[string]bool{}
	var b strings.Builder
	b.WriteString("CASE")
	for k, l := range comp.Levels {
		if k == len(comp.Levels)-1 && l.Kind == knitfs.KindElse {
			break
		}
		col := colOf(l)
		lc, rc := p.ref("l", col), p.ref("r", col)
		var test string
		switch l.Kind {
		case knitfs.KindNull:
			test = p.ref("l", v) + " IS NULL OR " + p.ref("r", v) + " IS NULL"
		case knitfs.KindExact:
			test = lc + " = " + rc
			exactBefore[col] = true
			if l.TF {
				p.tfComp = append(p.tfComp, ci)
				p.tfCol(comp.Field)
			}
		case knitfs.KindJaroWinkler, knitfs.KindLevenshtein, knitfs.KindJaccard:
			metric := similarityMetric(l.Kind)
			sim := similarity(metric, lc, rc, col)
			if key := metric + " " + col; uses[key] > 1 {
				if hoisted[key] == "" {
					hoisted[key] = p.d.Quote(fmt.Sprintf("s%d", len(p.sims)))
					// Pairs an earlier exact level took never read it.
					p.sims = append(p.sims, hoistedSim{expr: similarity(metric, "l."+col, "r."+col, col), alias: hoisted[key], unlessEqual: exactBefore[col], col: col})
				}
				sim = hoisted[key]
			}
			op := " >= "
			if l.Kind == knitfs.KindLevenshtein {
				op = " <= "
			}
			test = sim + op + sqlFloat(l.Threshold)
		case knitfs.KindDateWithinDays, knitfs.KindNumericWithin:
			test = "abs(" + lc + " - " + rc + ") <= " + sqlFloat(l.Threshold)
		case knitfs.KindElse:
			test = "TRUE"
		}
		fmt.Fprintf(&b, " WHEN %s THEN %d", test, k)
	}
	fmt.Fprintf(&b, " ELSE %d END", len(comp.Levels)-1)
	return b.String()
}

// hoistedSim is a similarity compareSQL's inner query computes once per
// pair for the levels that test it.
type hoistedSim struct {
	expr, alias string
	col         string // the staged column compared
	unlessEqual bool   // null when the values are equal: an exact level came first
}

// similarityMetric names the engine.Dialect.Similarity metric of a level
// kind, "" for kinds that are not similarities.
func similarityMetric(k knitfs.Kind) string {
	switch k {
	case knitfs.KindJaroWinkler:
		return "jaro_winkler"
	case knitfs.KindLevenshtein:
		return "levenshtein"
	case knitfs.KindJaccard:
		return "jaccard"
	}
	return ""
}

// ref is the column of compareSQL's inner query holding the staged column
// col (quoted) of the pair's left ("l") or right ("r") record.
func (p *modelPlan) ref(side, col string) string {
	key := side + "." + col
	if a, ok := p.refOf[key]; ok {
		return a
	}
	if p.refOf == nil {
		p.refOf = map[string]string{}
	}
	a := p.d.Quote(fmt.Sprintf("%s%d", side, len(p.refs)))
	p.refOf[key] = a
	p.refs = append(p.refs, key+" AS "+a)
	return a
}

// blockSQL is the join condition of one blocking rule.
func (p *modelPlan) blockSQL(rule []string) string {
	c := p.blockCol(rule)
	return "l." + c + " = r." + c
}

// blockCol stages (once) a rule's blocking key as one 64-bit hash of its
// values (prefixes cut), null when any value is missing, and returns the
// column. Joining on one integer is several times cheaper than on
// several strings; a hash collision (odds about 2⁻⁶⁴ per pair of keys)
// only adds a candidate pair, which the comparisons then score as usual.
func (p *modelPlan) blockCol(rule []string) string {
	keys := make([]config.BlockingKey, len(rule))
	for i, key := range rule {
		keys[i], _ = config.ParseBlockingKey(key)
	}
	return p.column("block "+strings.Join(rule, "\x00"), engine.BigInt, func(rec *record) any {
		var h maphash.Hash
		h.SetSeed(p.seed)
		for _, k := range keys {
			v := p.value(rec, k.Field)
			if v == "" {
				return nil
			}
			if k.Prefix > 0 && len(v) > k.Prefix {
				v = v[:k.Prefix] // staged values are ASCII: bytes are characters
			}
			h.WriteString(v)
			h.WriteByte(0)
		}
		return int64(h.Sum64())
	})
}

// pairsSQL selects the pairs the blocking rules generate, each once, with
// their comparison levels. Each row is (a, b, v0…vn, t…, x…): the record
// indexes, the level of every comparison, then for TF comparisons the term
// frequency and the value.
func (p *modelPlan) pairsSQL(rules [][]string) string { return p.sampledPairsSQL(rules, 1) }

// sampledPairsSQL is pairsSQL where only about one pair in every is
// compared: the others keep level -1 on every comparison, so one pass
// both counts all pairs and gives the vectors of the sample. A pair is
// chosen by a hash of its record indexes, so the sample is repeatable and
// independent of the pair's values.
func (p *modelPlan) sampledPairsSQL(rules [][]string, every int64) string {
	return p.compareSQL(p.candidatesSQL(rules), every)
}

// candidatesSQL selects the pairs (a, b) of record indexes the blocking
// rules generate, each once: a rule's pass leaves out the pairs an earlier
// rule generated, so the passes are unioned without duplicates and without
// a DISTINCT over all pairs. The self-joins read only the integer columns
// (record index, source, one key hash per rule); the values are joined
// once per pair afterwards (compareSQL), so no join carries them.
func (p *modelPlan) candidatesSQL(rules [][]string) string {
	var link string
	switch p.cfg.Link {
	case "link_only":
		link = " AND l.src <> r.src"
	case "dedupe_only":
		// With one source every pair is within it, and the condition
		// would only widen each join's key.
		if p.oneSource() {
			break
		}
		link = " AND l.src = r.src"
	}
	table := p.d.Quote(p.table)
	var passes []string
	for i, rule := range rules {
		on := p.blockSQL(rule) + " AND l.rid < r.rid" + link
		for _, prev := range rules[:i] {
			on += " AND NOT coalesce(" + p.blockSQL(prev) + ", false)"
		}
		passes = append(passes, "SELECT l.rid AS a, r.rid AS b FROM "+table+" l JOIN "+table+" r ON "+on)
	}
	return strings.Join(passes, " UNION ALL ")
}

// compareSQL joins the values of both records to each pair (a, b) the
// query cands selects and compares them: rows (a, b, keep…, v0…vn, t…,
// x…) as pairsSQL describes, keep being further columns of cands passed
// through. With every > 1 only about one pair in every is compared (see
// sampledPairsSQL). The inner query joins the values once and computes the
// shared similarities; the outer one turns them into levels.
func (p *modelPlan) compareSQL(cands string, every int64, keep ...string) string {
	sampled := func(a, b string) string { return fmt.Sprintf("(%s * 7919 + %s * 104729) %% %d = 0", a, b, every) }
	inner := []string{"c.a AS a", "c.b AS b"}
	outer := []string{"a", "b"}
	for _, k := range keep {
		inner, outer = append(inner, "c."+k+" AS "+k), append(outer, k)
	}
	inner = append(inner, p.refs...)
	for _, s := range p.sims {
		var skip []string
		if every > 1 {
			skip = append(skip, "NOT "+sampled("c.a", "c.b"))
		}
		if s.unlessEqual {
			skip = append(skip, "l."+s.col+" = r."+s.col)
		}
		e := s.expr
		if len(skip) > 0 {
			e = "CASE WHEN " + strings.Join(skip, " OR ") + " THEN NULL ELSE " + e + " END"
		}
		inner = append(inner, e+" AS "+s.alias)
	}
	for ci, v := range p.vector {
		if every > 1 {
			v = "CASE WHEN " + sampled("a", "b") + " THEN " + v + " ELSE -1 END"
		}
		outer = append(outer, v+" AS v"+strconv.Itoa(ci))
	}
	for _, ci := range p.tfComp {
		field := p.model.Comparisons[ci].Field
		t, x := "t"+strconv.Itoa(ci), "x"+strconv.Itoa(ci)
		inner = append(inner, "l."+p.tfCol(field)+" AS "+t, "l."+p.textCol(field)+" AS "+x)
		outer = append(outer, t, x)
	}
	table := p.d.Quote(p.table)
	return "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT " + strings.Join(inner, ", ") + " FROM (" + cands + ") c JOIN " + table + " l ON l.rid = c.a JOIN " + table + " r ON r.rid = c.b) p"
}

// blockUpperBound bounds the number of pairs the rules generate without a
// join: each rule's blocks of n records hold n(n−1)/2 pairs, and the sum
// over rules counts pairs several rules share, and pairs the link type
// leaves out, more than once.
func (p *modelPlan) blockUpperBound(ctx context.Context, rules [][]string) (int64, error) {
	var total int64
	for _, rule := range rules {
		c := p.blockCol(rule)
		q := "SELECT CAST(coalesce(sum(n * (n - 1) / 2), 0) AS BIGINT) FROM (SELECT count(*) AS n FROM " + p.d.Quote(p.table) +
			" WHERE " + c + " IS NOT NULL GROUP BY " + c + ") g"
		var n int64
		if err := p.r.scalar(ctx, q, &n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// vectorCounts groups the pairs of rules by comparison vector in the
// engine: Go receives only distinct vectors and their counts. A vector of
// -1 levels (pairs sampledPairsSQL did not compare) counts in the total
// but is not returned.
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
		total += n
		if levels[0] < 0 {
			continue
		}
		v := make(knitfs.Vector, len(vs))
		for i, l := range levels {
			v[i] = uint8(l)
		}
		out = append(out, knitfs.VectorCount{V: v, N: n})
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

// oneSource reports whether the model's records all come from one source.
func (p *modelPlan) oneSource() bool {
	for _, i := range p.recs {
		if p.r.recs[i].source != p.r.recs[p.recs[0]].source {
			return false
		}
	}
	return true
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
	return config.Resolve(proj.Dir, proj.Config.Unify.Model.File)
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
	floor := math.Log2(cfg.ReviewFloor) - math.Log2(1-cfg.ReviewFloor)
	query, radix, err := p.scoreSQL(floor)
	if err != nil {
		return err
	}
	scoreStart := time.Now()
	rows, err := r.eng.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	var scoreTime time.Duration
	var readStart time.Time
	counted := false
	var a, b, levelCode int64
	xs := make([]*string, len(p.tfComp))
	dest := []any{&a, &b, &levelCode}
	for i := range p.tfComp {
		dest = append(dest, &xs[i])
	}
	dest = append(dest, &rep.Pairs)
	idx := r.ruleIndex("model", identity.Rule)
	group := int32(len(r.proj.Config.Unify.Rules))
	v := make(knitfs.Vector, len(model.Comparisons))
	values := make([]string, len(model.Comparisons))
	explained := map[string]*renderedExplanation{}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if !counted {
			// The first row arrives once the engine has scored every pair.
			scoreTime, readStart, counted = time.Since(scoreStart), time.Now(), true
		}
		for i, n := range radix {
			v[i] = uint8(levelCode % n)
			levelCode /= n
		}
		clear(values)
		for i, ci := range p.tfComp {
			if xs[i] != nil {
				values[ci] = *xs[i]
			}
		}
		// Pairs with the same levels (and the same agreeing TF values)
		// have the same explanation: render each once and share its
		// strings, so kept pairs cost a map lookup, not an explanation.
		key := explainKey(v, values, p.tfComp)
		ex, ok := explained[key]
		if !ok {
			e := model.Explain(v, values)
			ex = &renderedExplanation{ex: e, vector: vectorString(v), line: explanationLine(e)}
			if e.Link {
				ex.detail = explanationJSON(e)
			}
			explained[key] = ex
		}
		if ex.ex.Probability < cfg.ReviewFloor {
			continue
		}
		ra, rb := r.recs[a], r.recs[b]
		r.scored = append(r.scored, scoredPair{a: int32(a), b: int32(b), weight: ex.ex.Weight, probability: ex.ex.Probability, vector: ex.vector, explanation: ex.line})
		rep.Kept++
		if !ex.ex.Link {
			continue
		}
		r.g.Link(identity.Edge{A: ra.node, B: rb.node, Kind: identity.Rule, Group: group, Rule: idx})
		k := edgeKey(ra.node, rb.node, idx)
		r.ruleEvidence[k] = ex.line
		r.ruleScores[k] = scoredEvidence{score: ex.ex.Probability, detail: ex.detail}
		rep.Links++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !counted {
		// No pair reached the review floor: count them apart.
		scoreTime, readStart = time.Since(scoreStart), time.Now()
		if rep.Pairs, err = r.countPairs(ctx, p.candidatesSQL(cfg.Blocking)); err != nil {
			return err
		}
		rep.CountSeconds = time.Since(readStart).Seconds()
	} else {
		rep.ReadSeconds = time.Since(readStart).Seconds()
	}
	rep.Seconds = time.Since(start).Seconds()
	if d := scoreTime.Seconds(); d > 0 {
		rep.ScoreSeconds = d
		rep.PairsPerSec = float64(rep.Pairs) / d
	}
	return nil
}

// scoreSQL is the one query that scores every candidate pair in the
// engine: the pairs as record indexes and their number (counted over
// those narrow rows, before any value is joined), then every comparison's
// level (CASE expressions) and the weight. It returns only the pairs whose
// weight reaches floor, each as its record indexes, one integer coding its
// levels (radix gives the digits) and the agreeing values of TF levels,
// then the number of candidate pairs.
func (p *modelPlan) scoreSQL(floor float64) (query string, radix []int64, err error) {
	code, radix, err := p.levelCodeSQL()
	if err != nil {
		return "", nil, err
	}
	sel := []string{"a", "b", code + " AS code"}
	var xcols []string
	for _, ci := range p.tfComp {
		var tfLevels []string
		for k, l := range p.model.Comparisons[ci].Levels {
			if l.TF {
				tfLevels = append(tfLevels, strconv.Itoa(k))
			}
		}
		sel = append(sel, fmt.Sprintf("CASE WHEN v%d IN (%s) THEN x%d END AS x%d", ci, strings.Join(tfLevels, ", "), ci, ci))
		xcols = append(xcols, fmt.Sprintf(", x%d", ci))
	}
	// The candidates are materialised once and counted by a scalar
	// subquery over them: a window (count(*) OVER ()) buffered the same
	// 2.5M pairs of the 1M-person benchmark at about a second of CPU more.
	counted := "SELECT a, b, (SELECT count(*) FROM candidate_pairs) AS n FROM candidate_pairs"
	scored := "SELECT " + strings.Join(sel, ", ") + ", " + p.weightSQL() + " AS w, n FROM (" + p.compareSQL(counted, 1, "n") + ") p"
	return "WITH candidate_pairs AS MATERIALIZED (" + p.candidatesSQL(p.cfg.Blocking) + ") SELECT a, b, code" + strings.Join(xcols, "") + ", n FROM (" + scored + ") s WHERE w >= " + sqlFloat(floor) + " ORDER BY a, b", radix, nil
}

// levelCodeSQL packs the levels v0…vn of a scored pair into one integer,
// comparison i's level being digit i in radix len(levels of i), so a kept
// pair comes back as three numbers instead of one column per comparison.
func (p *modelPlan) levelCodeSQL() (string, []int64, error) {
	var terms []string
	radix := make([]int64, len(p.model.Comparisons))
	place := int64(1)
	for ci, c := range p.model.Comparisons {
		radix[ci] = int64(len(c.Levels))
		terms = append(terms, fmt.Sprintf("v%d * %d", ci, place))
		if place > math.MaxInt64/64/radix[ci] {
			return "", nil, knit.Errorf(knit.EINVALID, "unify.model: %d comparisons with these many levels are more than scoring can pack; use fewer comparisons or levels", len(p.model.Comparisons))
		}
		place *= radix[ci]
	}
	return "(" + strings.Join(terms, " + ") + ")", radix, nil
}

// renderedExplanation is an explanation with its strings, shared by every
// pair with the same levels and TF values.
type renderedExplanation struct {
	ex     knitfs.Explanation
	vector string
	line   string
	detail string // JSON, for links only
}

// explainKey identifies what an explanation depends on: the level of every
// comparison and the agreeing value of each TF comparison.
func explainKey(v knitfs.Vector, values []string, tfComp []int) string {
	var b strings.Builder
	b.Write(v)
	for _, ci := range tfComp {
		b.WriteByte(0)
		b.WriteString(values[ci])
	}
	return b.String()
}

func (r *run) countPairs(ctx context.Context, pairs string) (int64, error) {
	var n int64
	err := r.scalar(ctx, "SELECT count(*) FROM ("+pairs+") p", &n)
	return n, err
}

// scalar reads the one value a query returns.
func (r *run) scalar(ctx context.Context, query string, dest any) error {
	rows, err := r.eng.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest); err != nil {
			return err
		}
	}
	return rows.Err()
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
