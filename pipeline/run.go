// Package pipeline runs knit's batch job: sources → standardise → dedupe →
// match → cluster with guards → stable IDs → unified fields → keyring →
// report. Reading, standardising and clustering run in Go; everything that
// is relational (raw rows, field merges, keyring, lookups) lives in the
// engine. Results are written to staged tables and swapped in only when the
// whole run succeeded, so a failed or killed run leaves the previous
// results serving.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/export"
	"github.com/knit-cdp/knit/identity"
	"github.com/knit-cdp/knit/source"
	"github.com/knit-cdp/knit/standardize"
)

// Options control a run.
type Options struct {
	// Progress, if set, is told when a stage starts and ends.
	Progress func(stage string, done bool, d time.Duration)
	// Now is the run's clock (tests pin it); default time.Now.
	Now func() time.Time
	// Only runs these stages (see PartialStages), reusing the last
	// successful run's results for the others; empty runs every stage.
	Only []string
	// TableWriter writes PostgreSQL exports (package postgres); nil makes
	// them fail with a reason.
	TableWriter export.TableWriter
	// Tables reads sources that name a PostgreSQL table (package
	// postgres) when the engine does not read tables itself.
	Tables source.TableOpener
}

// run holds the state of one pipeline run.
type run struct {
	proj *config.Project
	eng  engine.Engine
	opt  Options
	rep  *Report

	sources    []*sourceRun // in precedence order
	sourceRank map[string]int
	types      []identType
	identIndex map[string]int
	fields     []string
	fieldIndex map[string]int
	fieldStd   []standardize.Func
	block      *blocklist

	g             *identity.Graph
	recs          []*record
	nodeRec       []int32 // node → index in recs, -1 for identifiers
	coEvidence    map[[2]int32]*evidence
	coSource      map[[2]int32]int32
	ruleEvidence  map[[3]int32]string
	ruleScores    map[[3]int32]scoredEvidence
	scored        []scoredPair // model-scored pairs kept for review
	ruleNames     []string
	ruleKinds     []identity.Kind
	rejected      []rejectedRow
	blocked       []blockedIdent
	blockedEvents map[blockedKey]int64
	overrides     []override

	res      *identity.Result
	idEvents []identity.IDEvent
	registry map[string]identity.IDInfo
	profiles []*profile
	merged   mergedFields // the unified fields' winners (fields.go)
	runID    int64

	ins insightsRun // activities, measures, segments: see insights.go
	// rawTables are the raw source tables' appends, still running after
	// the load stage (finishRawTables).
	rawTables []*bulk
	// searchStaged lists the search tables this run staged (search.go).
	searchStaged []string
}

// Run executes the pipeline for a project on an engine and returns its
// report. The report is returned (with Status "failed") even when the run
// fails, and the run is recorded in the runs table.
func Run(ctx context.Context, proj *config.Project, eng engine.Engine, opt Options) (*Report, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &run{proj: proj, eng: eng, opt: opt, rep: &Report{Project: proj.Dir, Started: opt.Now().UTC(), Status: "running", Only: opt.Only, Refused: map[string]int64{}}}
	if err := checkOnly(opt.Only); err != nil {
		return r.rep, err
	}
	unlock, err := eng.Lock(ctx)
	if err != nil {
		return r.rep, err
	}
	defer unlock()
	if err := r.prepare(ctx); err != nil {
		return r.rep, err
	}
	err = r.execute(ctx)
	r.rep.Finished = opt.Now().UTC()
	r.rep.Duration = r.rep.Finished.Sub(r.rep.Started).Seconds()
	if err != nil {
		r.rep.Status, r.rep.Error = "failed", err.Error()
		// Leave the previous results as they were; drop what this run staged.
		cleanup := context.WithoutCancel(ctx)
		_ = eng.DropStaged(cleanup)
		_ = r.recordRun(cleanup)
		return r.rep, err
	}
	r.rep.Status = "succeeded"
	if err := r.recordRun(ctx); err != nil {
		return r.rep, err
	}
	return r.rep, nil
}

func (r *run) stage(name string, f func() error) error {
	start, cpu := time.Now(), processCPU()
	if r.opt.Progress != nil {
		r.opt.Progress(name, false, 0)
	}
	err := f()
	d := time.Since(start)
	r.rep.Stages = append(r.rep.Stages, StageReport{Name: name, Seconds: d.Seconds(), CPUSeconds: (processCPU() - cpu).Seconds()})
	if r.opt.Progress != nil {
		r.opt.Progress(name, true, d)
	}
	if err != nil {
		var kerr *knit.Error
		if errors.As(err, &kerr) {
			return err
		}
		return fmt.Errorf("stage %s: %w", name, err)
	}
	return nil
}

func (r *run) execute(ctx context.Context) error {
	steps := []struct {
		name string
		f    func() error
	}{
		{"load", func() error { return r.load(ctx) }},
		{"match", func() error { return r.match(ctx) }},
		{"cluster", func() error { r.cluster(); return nil }},
		{"ids", func() error { return r.assignIDs(ctx) }},
		// The fields are merged in Go before the write stage, which
		// appends their tables with the others, two at a time.
		{"fields", func() error { r.mergeFields(); return nil }},
		{"write", func() error {
			if err := r.finishRawTables(); err != nil {
				return err
			}
			return r.write(ctx)
		}},
		{"activities", func() error { return r.insightStage(ctx, "activities") }},
		{"measures", func() error { return r.insightStage(ctx, "measures") }},
		{"segments", func() error { return r.insightStage(ctx, "segments") }},
		{"search", func() error { return r.buildSearch(ctx) }},
		{"swap", func() error { return r.swap(ctx) }},
		{"exports", func() error { return r.runExports(ctx) }},
	}
	defer r.abortRawTables() // a failed run's appends stop with it
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !r.wants(s.name) {
			continue
		}
		if err := r.stage(s.name, s.f); err != nil {
			return err
		}
		if s.name == "write" {
			r.releaseGraph()
		}
	}
	return nil
}

// finishRawTables waits for the raw source tables' appends the load stage
// left running.
func (r *run) finishRawTables() error {
	var err error
	for _, b := range r.rawTables {
		if e := b.close(); err == nil {
			err = e
		}
	}
	r.rawTables = nil
	return err
}

// abortRawTables stops appends still running when a run fails before its
// write stage; their staged tables are dropped with the run.
func (r *run) abortRawTables() {
	for _, b := range r.rawTables {
		b.abort()
	}
	r.rawTables = nil
}

// releaseGraph drops the identity graph and the records once the profiles
// are written: the stages after it work in the engine, which then has the
// memory the graph held (over a gigabyte at a million records).
func (r *run) releaseGraph() {
	r.g, r.recs, r.nodeRec, r.res = nil, nil, nil, nil
	r.coEvidence, r.coSource, r.ruleEvidence, r.ruleScores = nil, nil, nil, nil
	r.scored, r.profiles, r.registry, r.idEvents, r.merged = nil, nil, nil, nil, mergedFields{}
	r.blocked, r.blockedEvents = nil, nil
	debug.FreeOSMemory() // collects, then returns the pages to the OS
}

// prepare compiles the configuration into the run's lookup tables.
func (r *run) prepare(ctx context.Context) error {
	cfg := &r.proj.Config
	r.sourceRank = map[string]int{}
	include := map[string]bool{}
	for _, s := range cfg.Unify.IncludeAllRecords {
		include[s] = true
	}
	for i, name := range cfg.Unify.Order {
		src := cfg.Sources[name]
		r.sourceRank[name] = i
		rep := &SourceReport{Name: name, Kind: src.Kind, File: sourceLocation(src)}
		r.rep.Sources = append(r.rep.Sources, rep)
		r.sources = append(r.sources, &sourceRun{cfg: src, rank: i, includeAll: include[name], table: "src_" + name, rep: rep})
	}
	r.identIndex = map[string]int{}
	var specs []identity.TypeSpec
	for i, name := range cfg.IdentOrder {
		it := cfg.Identifiers[name]
		std, err := standardize.For(it.Normalize, it.DefaultRegion)
		if err != nil {
			return knit.Wrap(knit.EINVALID, err, "identifiers.%s.normalize", name)
		}
		known := it.Known == nil || *it.Known
		strong := known
		if it.Strong != nil {
			strong = *it.Strong
		}
		r.types = append(r.types, identType{name: name, std: std, known: known, limit: it.Limit, priority: it.Priority, strong: strong})
		specs = append(specs, identity.TypeSpec{Name: name, Limit: it.Limit, Priority: it.Priority, Strong: strong})
		r.identIndex[name] = i
	}
	r.fieldIndex = map[string]int{}
	for i, name := range cfg.FieldOrder {
		f := cfg.Fields[name]
		std, err := fieldStandardizer(f.Normalize)
		if err != nil {
			return knit.Wrap(knit.EINVALID, err, "fields.%s.normalize", name)
		}
		lists, err := r.fieldLists(f)
		if err != nil {
			return err
		}
		r.fields = append(r.fields, name)
		r.fieldStd = append(r.fieldStd, withLists(std, lists))
		r.fieldIndex[name] = i
	}
	block, err := newBlocklist(cfg.Guards)
	if err != nil {
		return err
	}
	r.block = block
	r.g = identity.New(specs)
	r.coEvidence = map[[2]int32]*evidence{}
	r.blockedEvents = map[blockedKey]int64{}
	r.coSource = map[[2]int32]int32{}
	r.ruleEvidence = map[[3]int32]string{}
	r.ruleScores = map[[3]int32]scoredEvidence{}
	if err := r.checkInsights(); err != nil {
		return err
	}
	if err := r.ensureMetaTables(ctx); err != nil {
		return err
	}
	id, err := r.nextRunID(ctx)
	if err != nil {
		return err
	}
	r.runID = id
	r.rep.RunID = id
	// A killed run may have left staged tables; they are never read.
	return r.eng.DropStaged(ctx)
}

func (r *run) load(ctx context.Context) error {
	// Sources are read one after the other; a source's appender and the
	// graph finish its rows while the next one is read.
	graph := r.startGraph()
	var bulks []*bulk
	var err error
	for _, s := range r.sources {
		start := time.Now()
		var b *bulk
		b, err = r.loadSource(ctx, s, graph)
		if b != nil {
			bulks = append(bulks, b)
		}
		s.rep.Seconds = time.Since(start).Seconds()
		if err != nil {
			break
		}
	}
	graph.wait()
	if err != nil {
		for _, b := range bulks {
			b.abort()
		}
		return err
	}
	// The raw tables' appends go on behind the next stages, which use one
	// core of two; finishRawTables waits for them before the write stage.
	r.rawTables = bulks
	// Co-occurrence evidence becomes one edge per distinct pair.
	for k, ev := range r.coEvidence {
		r.g.Link(identity.Edge{A: k[0], B: k[1], Kind: identity.CoOccurrence, Group: r.coSource[k], Time: ev.time, Rule: -1})
	}
	r.rep.Identifiers = int64(len(r.g.Nodes) - len(r.recs))
	return nil
}

func (r *run) cluster() {
	r.res = r.g.Resolve(identity.Options{GenericThreshold: r.proj.Config.Guards.GenericThreshold})
	// The decisions hold every edge now; the graph's copy is hundreds of
	// megabytes at scale and nothing reads it again.
	r.g.Edges = nil
	// One report per rule or kind name, found per decision by rule index
	// or kind: millions of decisions, a handful of reports.
	counts := map[string]*LinkReport{}
	byRule := make([]*LinkReport, len(r.ruleNames))
	var byKind [identity.Rule + 1]*LinkReport
	for _, d := range r.res.Decisions {
		slot := &byKind[d.Edge.Kind]
		if d.Edge.Rule >= 0 {
			slot = &byRule[d.Edge.Rule]
		}
		lr := *slot
		if lr == nil {
			name := d.Edge.Kind.String()
			if d.Edge.Rule >= 0 {
				name = r.ruleNames[d.Edge.Rule]
			}
			if lr = counts[name]; lr == nil {
				lr = &LinkReport{Rule: name, Kind: d.Edge.Kind.String()}
				counts[name] = lr
				r.rep.Links = append(r.rep.Links, lr)
			}
			*slot = lr
		}
		if d.Accepted {
			lr.Accepted++
		} else {
			lr.Refused++
			r.rep.addRefusal(guardOf(r.res.Reason(d)))
		}
	}
	for _, b := range r.blocked {
		r.rep.addRefusal(b.reason)
	}
	for k, n := range r.blockedEvents {
		r.rep.Refused[k.reason] += n
	}
	for _, gv := range r.res.Generic {
		r.rep.Generic = append(r.rep.Generic, GenericReport{Value: r.describeNode(gv.Node), SeenWith: gv.Type, Distinct: gv.Distinct})
	}
}
