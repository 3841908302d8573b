package pipeline

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	knitfs "github.com/knit-cdp/knit/fs"
)

// TrainReport is what "knit train" did.
type TrainReport struct {
	File         string   `json:"file"`
	Records      int64    `json:"records"`
	SamplePairs  int64    `json:"sample_pairs"`
	Passes       []EMPass `json:"em_passes"`
	BlockedPairs int64    `json:"blocked_pairs"` // pairs the prediction blocking generates
	TotalPairs   int64    `json:"total_pairs"`   // all pairs the link type allows
	// PriorSampleEvery is 1 when the prior read every blocked pair, k when
	// it read about one in k (a deterministic sample).
	PriorSampleEvery int64       `json:"prior_sample_every"`
	Prior            float64     `json:"prior"`
	Stages           []StageTime `json:"stages"`
	Seconds          float64     `json:"seconds"`
}

// EMPass reports one EM pass.
type EMPass struct {
	Blocking   string   `json:"blocking"`
	Pairs      int64    `json:"pairs"`
	Fixed      []string `json:"fixed"` // comparisons the blocking forced, not estimated here
	Iterations int      `json:"iterations"`
	Converged  bool     `json:"converged"`
}

// StageTime is the duration of one step.
type StageTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Train estimates the parameters of the project's model (unify.model) and
// writes them to its model file: term frequencies from the records; u from
// random record pairs (seeded, so repeatable); m by EM over the blocked
// pairs of each training blocking rule, each pass estimating the
// comparisons its blocking leaves free; then the prior from the pairs the
// prediction blocking generates. Pair generation and grouping by comparison
// vector run in the engine's SQL; EM runs in Go on the grouped vectors.
// Nothing is written to the project's result tables.
func Train(ctx context.Context, proj *config.Project, eng engine.Engine, opt Options) (*knitfs.Model, *TrainReport, error) {
	cfg := proj.Config.Unify.Model
	if cfg == nil {
		return nil, nil, knit.Errorf(knit.EINVALID, "%s: no unify.model section to train; see docs/matching.md", proj.Path)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	start := time.Now()
	r := &run{proj: proj, eng: eng, opt: opt, rep: &Report{Project: proj.Dir, Started: opt.Now().UTC(), Status: "training", Refused: map[string]int64{}}}
	rep := &TrainReport{File: modelPath(proj)}
	step := func(name string, f func() error) error {
		s := time.Now()
		if opt.Progress != nil {
			opt.Progress(name, false, 0)
		}
		err := f()
		rep.Stages = append(rep.Stages, StageTime{Name: name, Seconds: time.Since(s).Seconds()})
		if opt.Progress != nil {
			opt.Progress(name, true, time.Since(s))
		}
		return err
	}
	defer eng.DropStaged(context.WithoutCancel(ctx))
	if err := r.prepare(ctx); err != nil {
		return nil, nil, err
	}
	defer r.abortRawTables()
	if err := step("load", func() error {
		if err := r.load(ctx); err != nil {
			return err
		}
		return r.finishRawTables()
	}); err != nil {
		return nil, nil, err
	}
	model, err := BuildModel(cfg)
	if err != nil {
		return nil, nil, err
	}
	var p *modelPlan
	err = step("stage", func() error {
		srcs := map[int]bool{}
		for _, s := range cfg.Sources {
			srcs[r.sourceRank[s]] = true
		}
		r.termFrequencies(model, r.recordsOf(srcs))
		p, err = r.newModelPlan(ctx, model)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	defer p.drop(ctx)
	rep.Records = int64(len(p.recs))
	if len(p.recs) < 2 {
		return nil, nil, knit.Errorf(knit.EINVALID, "%s: the model's sources hold %d record; training needs at least two", proj.Path, len(p.recs))
	}
	if err := step("u", func() error { return r.estimateU(ctx, p, rep) }); err != nil {
		return nil, nil, err
	}
	if err := step("m", func() error { return r.estimateM(ctx, p, rep) }); err != nil {
		return nil, nil, err
	}
	err = step("prior", func() error {
		// The prior needs the vectors of only a deterministic sample of
		// the blocked pairs, scaled back up; the sampling rate comes
		// from an upper bound on their number (block sizes, no join), and
		// one pass counts every pair and compares only the sample.
		bound, err := p.blockUpperBound(ctx, cfg.Blocking)
		if err != nil {
			return err
		}
		every := max(1, (bound+priorSamplePairs-1)/priorSamplePairs)
		vs, total, err := p.vectorCounts(ctx, p.sampledPairsSQL(cfg.Blocking, every))
		if err != nil {
			return err
		}
		rep.BlockedPairs, rep.TotalPairs = total, p.totalPairs()
		if total == 0 {
			return knit.Errorf(knit.EINVALID, "%s: unify.model.blocking generates no pair; loosen it", proj.Path)
		}
		for i := range vs {
			vs[i].N *= every
		}
		rep.PriorSampleEvery = every
		rep.Prior, err = model.EstimatePrior(vs, max(rep.TotalPairs, sumCounts(vs)))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	model.Threshold = cfg.Threshold
	model.Trained = opt.Now().UTC()
	if err := model.Save(rep.File); err != nil {
		return nil, nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	return model, rep, nil
}

// priorSamplePairs is about how many blocked pairs the prior step scores:
// λ is an average over them, and two million pairs pin it far more tightly
// than m and u are known.
var priorSamplePairs int64 = 2_000_000

func sumCounts(vs []knitfs.VectorCount) int64 {
	var n int64
	for _, v := range vs {
		n += v.N
	}
	return n
}

// termFrequencies fills model.TF for the fields of comparisons with a TF
// level: each standardised value's share among the records.
func (r *run) termFrequencies(model *knitfs.Model, recs []int32) {
	model.TF = map[string]map[string]float64{}
	for _, c := range model.Comparisons {
		tf := false
		for _, l := range c.Levels {
			tf = tf || l.TF
		}
		if !tf || model.TF[c.Field] != nil {
			continue
		}
		values := make([]string, 0, len(recs))
		for _, i := range recs {
			values = append(values, asciiValue(r.ruleValue(r.recs[i], c.Field)))
		}
		model.TF[c.Field] = knitfs.TermFrequencies(values)
	}
	if len(model.TF) == 0 {
		model.TF = nil
	}
}

// estimateU draws random record pairs in Go (seeded: the same project
// trains the same model), loads them into the engine and groups their
// comparison vectors there.
func (r *run) estimateU(ctx context.Context, p *modelPlan, rep *TrainReport) error {
	cfg := p.cfg
	rng := rand.New(rand.NewSource(int64(cfg.Training.Seed)))
	n := len(p.recs)
	want := cfg.Training.SamplePairs
	if all := p.totalPairs(); int64(want) > all {
		want = int(all)
	}
	type pair struct{ a, b int64 }
	pairs := make([]pair, 0, want)
	for tries := 0; len(pairs) < want && tries < 20*want; tries++ {
		i, j := p.recs[rng.Intn(n)], p.recs[rng.Intn(n)]
		if i == j {
			continue
		}
		si, sj := r.recs[i].source, r.recs[j].source
		if (cfg.Link == "link_only" && si == sj) || (cfg.Link == "dedupe_only" && si != sj) {
			continue
		}
		pairs = append(pairs, pair{int64(min(i, j)), int64(max(i, j))})
	}
	table := matchTable + "_sample"
	cols := []engine.Column{{Name: "a", Type: engine.BigInt}, {Name: "b", Type: engine.BigInt}}
	if err := r.eng.CreateTable(ctx, table, cols); err != nil {
		return err
	}
	defer r.dropTable(ctx, table)
	k := 0
	if _, err := r.eng.Load(ctx, table, cols, func(out []any) (bool, error) {
		if k >= len(pairs) {
			return false, nil
		}
		out[0], out[1] = pairs[k].a, pairs[k].b
		k++
		return true, nil
	}); err != nil {
		return err
	}
	rep.SamplePairs = int64(len(pairs))
	vs, _, err := p.vectorCounts(ctx, p.compareSQL("SELECT a, b FROM "+p.d.Quote(table), 1))
	if err != nil {
		return err
	}
	return p.model.EstimateU(vs)
}

// estimateM runs one EM pass per training blocking rule. The comparisons
// on the rule's fields are fixed in that pass: the blocking forced their
// agreement, so their m cannot be learnt from its pairs.
func (r *run) estimateM(ctx context.Context, p *modelPlan, rep *TrainReport) error {
	cfg := p.cfg
	for _, rule := range cfg.Training.Blocking {
		fields := map[string]bool{}
		for _, key := range rule {
			k, _ := config.ParseBlockingKey(key)
			fields[k.Field] = true
		}
		var fixed []int
		var fixedNames []string
		for ci, c := range p.model.Comparisons {
			if fields[c.Field] {
				fixed = append(fixed, ci)
				fixedNames = append(fixedNames, c.Name)
			}
		}
		pass := EMPass{Blocking: strings.Join(rule, " + "), Fixed: fixedNames}
		if len(fixed) == len(p.model.Comparisons) {
			rep.Passes = append(rep.Passes, pass)
			continue // nothing left to estimate with this rule
		}
		vs, total, err := p.vectorCounts(ctx, p.pairsSQL([][]string{rule}))
		if err != nil {
			return err
		}
		pass.Pairs = total
		if total > 0 {
			res, err := p.model.EstimateM(vs, knitfs.EMOptions{Fixed: fixed, MaxIterations: cfg.Training.MaxIterations})
			if err != nil {
				return err
			}
			pass.Iterations, pass.Converged = res.Iterations, res.Converged
		}
		rep.Passes = append(rep.Passes, pass)
	}
	if missing := p.model.Untrained(); len(missing) > 0 {
		return knit.Errorf(knit.EINVALID, "%s: no EM pass estimated m of %s: every training blocking rule uses its field, or generated no pair; add a rule on other fields to unify.model.training.blocking",
			r.proj.Path, strings.Join(missing, ", "))
	}
	return nil
}

// Print writes the training report.
func (t *TrainReport) Print(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "trained %s in %.2fs\n", t.File, t.Seconds)
	fmt.Fprintf(w, "  records %d; u from %d random pairs; prior %.3g from %d blocked pairs of %d possible", t.Records, t.SamplePairs, t.Prior, t.BlockedPairs, t.TotalPairs)
	if t.PriorSampleEvery > 1 {
		fmt.Fprintf(w, " (scored one in %d)", t.PriorSampleEvery)
	}
	fmt.Fprintln(w)
	for _, p := range t.Passes {
		fmt.Fprintf(w, "  EM pass blocked on %s: %d pairs, %d iterations (converged %v), fixed %s\n", p.Blocking, p.Pairs, p.Iterations, p.Converged, strings.Join(p.Fixed, ", "))
	}
	for _, s := range t.Stages {
		fmt.Fprintf(w, "  %-6s %7.2fs\n", s.Name, s.Seconds)
	}
}
