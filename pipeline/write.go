package pipeline

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/identity"
)

// Tables a run replaces as a whole. Raw source tables are added per source.
var resultTables = []string{
	"records", "record_identifiers", "identifiers", "links", "profiles", "field_lineage",
	"customer_ids", "id_events", "rejected", "generic_values",
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// textOf is a string the run holds as an engine value without a copy: a
// pointer, NULL when empty. Boxing a string allocates; at a million
// customers the write stage's tens of millions of strings were gigabytes
// of garbage, and each garbage collection marks the run's whole graph.
func textOf(s *string) any {
	if *s == "" {
		return nil
	}
	return s
}

// load writes rows into a new staged table in bulk.
func (r *run) loadTable(ctx context.Context, table string, cols []engine.Column, n int, row func(i int, out []any)) error {
	i := 0
	return r.loadRows(ctx, table, cols, func(out []any) bool {
		if i >= n {
			return false
		}
		row(i, out)
		i++
		return true
	})
}

// loadRows is loadTable for rows that are not indexed: next fills out
// and reports whether it did.
func (r *run) loadRows(ctx context.Context, table string, cols []engine.Column, next func(out []any) bool) error {
	staged := engine.StagedName(table)
	if err := r.eng.CreateTable(ctx, staged, cols); err != nil {
		return err
	}
	_, err := r.eng.Load(ctx, staged, cols, func(out []any) (bool, error) { return next(out), nil })
	return err
}

// customerIndex gives the customer of any node for the millions of rows
// of the write stage without a map lookup or a new interface value per
// row: each cluster root's profile, and each customer ID boxed once.
type customerIndex struct {
	root   []int32 // node → the root of its cluster (identity.Result.Root)
	ofRoot []int32 // root node → index in run.profiles, -1 without a profile
	ids    []any   // index in run.profiles → the customer ID as an engine value
}

func (r *run) customerIndex() *customerIndex {
	c := &customerIndex{root: r.res.Root, ofRoot: make([]int32, len(r.g.Nodes)), ids: r.merged.ids}
	for i := range c.ofRoot {
		c.ofRoot[i] = -1
	}
	for i, p := range r.profiles {
		c.ofRoot[p.root] = int32(i)
	}
	return c
}

// boxIDs returns each profile's customer ID as an engine value, boxed
// once for the millions of rows that carry it (each box is an allocation,
// and at a million customers every allocation brings the next garbage
// collection of a heap of gigabytes nearer).
func boxIDs(profiles []*profile) []any {
	ids := make([]any, len(profiles))
	for i, p := range profiles {
		ids[i] = p.id
	}
	return ids
}

// of returns the customer ID of a node's cluster, nil without a profile.
func (c *customerIndex) of(node int32) any {
	if p := c.ofRoot[c.root[node]]; p >= 0 {
		return c.ids[p]
	}
	return nil
}

// profile returns the index in run.profiles of a node's customer, or
// len(run.profiles) without one (so those sort last, as NULLs do).
func (c *customerIndex) profile(node int32) int32 {
	if p := c.ofRoot[c.root[node]]; p >= 0 {
		return p
	}
	return int32(len(c.ids))
}

// recordsByCustomer orders the records customer by customer, in customer
// ID order (run.profiles is sorted so by then), then those without a
// profile. Written in this order, the records of one customer share a row
// group, and DuckDB's zone maps answer "this customer's records" (the
// profile and console pages) by reading that one group instead of
// scanning millions of rows.
func (r *run) recordsByCustomer() []int32 {
	order := make([]int32, 0, len(r.recs))
	inProfile := make([]bool, len(r.recs))
	for _, p := range r.profiles {
		for _, ri := range p.records {
			order = append(order, ri)
			inProfile[ri] = true
		}
	}
	for i := range r.recs {
		if !inProfile[i] {
			order = append(order, int32(i))
		}
	}
	return order
}

func (r *run) write(ctx context.Context) error {
	// mergeFields, the stage before, sorted the profiles by customer ID,
	// the order every per-customer table is written in.
	cust := r.customerIndex()
	customerOf := cust.of
	anchor := make([]bool, len(r.recs))
	for _, p := range r.profiles {
		anchor[p.records[0]] = true
	}

	// The write stage's text columns name their compression (engine.Column's
	// Compression) where the run knows the values' shape: keys and identifier
	// values are mostly distinct (FSST); names of sources, kinds, types,
	// fields and policies are few (dictionary); a customer ID repeats on
	// consecutive rows where a table is written customer by customer with
	// many rows each (dictionary) and is distinct otherwise (FSST). These are
	// the methods DuckDB picks for them by itself; naming them spares its
	// trial of every method on every row group, about a fifth of its append
	// work (docs/BENCHMARKS.md, issue 2). Attribute columns hold whatever a
	// project maps and are left to the engine.
	recCols := []engine.Column{
		{Name: "record_key", Type: engine.Text, Compression: engine.FSST}, {Name: "source", Type: engine.Text, Compression: engine.Dictionary}, {Name: "pk", Type: engine.Text, Compression: engine.FSST},
		{Name: "kind", Type: engine.Text, Compression: engine.Dictionary}, {Name: "customer_id", Type: engine.Text, Compression: engine.Dictionary}, {Name: "source_rank", Type: engine.BigInt},
		{Name: "is_anchor", Type: engine.Bool}, {Name: "dedupe_winner", Type: engine.Bool}, {Name: "dedupe_group", Type: engine.Text, Compression: engine.FSST},
		{Name: "updated_at", Type: engine.Timestamp}, {Name: "first_seen", Type: engine.Timestamp},
		{Name: "row_count", Type: engine.BigInt}, {Name: "filled", Type: engine.BigInt},
		{Name: "file", Type: engine.Text, Compression: engine.Dictionary}, {Name: "line", Type: engine.BigInt},
	}
	base := len(recCols)
	for _, f := range r.fields {
		recCols = append(recCols, engine.Column{Name: f, Type: engine.Text})
	}
	// A few names repeat over millions of rows: box each once.
	srcName, srcKind, srcRank := make([]any, len(r.sources)), make([]any, len(r.sources)), make([]any, len(r.sources))
	for i, s := range r.sources {
		srcName[i], srcKind[i], srcRank[i] = s.cfg.Name, s.cfg.Kind, int64(i)
	}
	typeNames := make([]any, len(r.types))
	for i, t := range r.types {
		typeNames[i] = t.name
	}
	// The tables are independent: three are appended at a time on two
	// cores, the largest (records, record_identifiers) first so that the
	// small ones fill in at the end. With two at a time a core idled
	// whenever one of them waited (its row groups' flush, the collector);
	// a third took 0.9-4.4 s off the stage in two A/B pairs for about
	// 0.1 GiB more peak memory (docs/BENCHMARKS.md, issue 2).
	var g errgroup.Group
	g.SetLimit(3)
	order := r.recordsByCustomer()
	g.Go(func() error {
		return r.loadTable(ctx, "records", recCols, len(order), func(i int, out []any) {
			rec := r.recs[order[i]]
			var group any
			if rec.group >= 0 {
				group = &r.g.Nodes[r.recs[rec.group].node].Value
			}
			first := rec.first
			if first.isZero() {
				first = rec.updated
			}
			out[0], out[1], out[2], out[3] = &r.g.Nodes[rec.node].Value, srcName[rec.source], &rec.pk, srcKind[rec.source]
			out[4], out[5], out[6] = customerOf(rec.node), srcRank[rec.source], anchor[order[i]]
			out[7], out[8] = rec.group < 0 || rec.winner, group
			out[9], out[10], out[11], out[12] = rec.updated.value(), first.value(), int64(rec.rows), int64(rec.filled)
			out[13], out[14] = &rec.file, rec.line
			for f := range r.fields {
				if rec.attrs == nil {
					out[base+f] = nil
				} else {
					out[base+f] = textOf(&rec.attrs[f])
				}
			}
		})
	})

	// record_identifiers says which record carries which identifier and
	// whether the link held (a refused one leaves the identifier in
	// another cluster). In the records' customer order, with the record's
	// customer: a profile's keyring is then one zone-mapped range, not a
	// join.
	g.Go(func() error {
		rec, next := 0, 0 // the record (in order) and its identifier to write next
		var key, customer any
		return r.loadRows(ctx, "record_identifiers", []engine.Column{
			{Name: "record_key", Type: engine.Text, Compression: engine.FSST}, {Name: "type", Type: engine.Text, Compression: engine.Dictionary},
			{Name: "value", Type: engine.Text, Compression: engine.FSST}, {Name: "raw", Type: engine.Text, Compression: engine.FSST}, {Name: "linked", Type: engine.Bool},
			{Name: "customer_id", Type: engine.Text, Compression: engine.Dictionary},
		}, func(out []any) bool {
			for rec < len(order) && next == len(r.recs[order[rec]].idents) {
				rec, next = rec+1, 0
			}
			if rec == len(order) {
				return false
			}
			x := r.recs[order[rec]]
			if next == 0 { // a record's key and customer, once for its identifiers
				key, customer = &r.g.Nodes[x.node].Value, customerOf(x.node)
			}
			id := &x.idents[next]
			next++
			out[0], out[1], out[2], out[3] = key, typeNames[id.typ], &id.value, &id.raw
			out[4], out[5] = r.res.Root[id.node] == r.res.Root[x.node], customer
			return true
		})
	})
	g.Go(func() error { return r.writeIdentifiers(ctx, cust, typeNames) })
	g.Go(func() error { return r.writeLinks(ctx, customerOf) })
	g.Go(func() error { return r.writeLineage(ctx) })
	g.Go(func() error { return r.writeProfiles(ctx) })
	g.Go(func() error { return r.writeMatchPairs(ctx, customerOf) })
	g.Go(func() error { return r.writeMeta(ctx) })
	return g.Wait()
}

// writeIdentifiers writes the keyring index: every identifier once, with
// the customer of its cluster (null without a profile), in customer ID
// order, then type and value. (It used to be built in SQL by joining
// record_identifiers to records; the graph already holds the answer.)
func (r *run) writeIdentifiers(ctx context.Context, cust *customerIndex, typeNames []any) error {
	// Types sort by name, as the text column does.
	typeRank := make([]int, len(r.types))
	byName := make([]int, len(r.types))
	for i := range byName {
		byName[i] = i
	}
	slices.SortFunc(byName, func(a, b int) int { return strings.Compare(r.types[a].name, r.types[b].name) })
	for rank, t := range byName {
		typeRank[t] = rank
	}
	// A counting sort by customer (run.profiles is in ID order; no
	// customer last), then each customer's few identifiers by type and
	// value: a comparison sort of millions of nodes by all three keys
	// cost a second of CPU at 200k customers.
	nodes := r.g.Nodes
	start := make([]int32, len(r.profiles)+2)
	for n, node := range nodes {
		if !node.Record {
			start[cust.profile(int32(n))+1]++
		}
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	ids := make([]int32, start[len(start)-1])
	next := slices.Clone(start)
	for n, node := range nodes {
		if !node.Record {
			p := cust.profile(int32(n))
			ids[next[p]] = int32(n)
			next[p]++
		}
	}
	byTypeValue := func(a, b int32) int {
		return cmp.Or(cmp.Compare(typeRank[nodes[a].Type], typeRank[nodes[b].Type]), strings.Compare(nodes[a].Value, nodes[b].Value))
	}
	for p := range len(start) - 1 {
		if start[p+1]-start[p] > 1 {
			slices.SortFunc(ids[start[p]:start[p+1]], byTypeValue)
		}
	}
	return r.loadTable(ctx, "identifiers", []engine.Column{
		{Name: "type", Type: engine.Text, Compression: engine.Dictionary}, {Name: "value", Type: engine.Text, Compression: engine.FSST}, {Name: "customer_id", Type: engine.Text, Compression: engine.Dictionary},
	}, len(ids), func(i int, out []any) {
		n := ids[i]
		out[0], out[1], out[2] = typeNames[nodes[n].Type], &nodes[n].Value, cust.of(n)
	})
}

// writeLinks stores every decision that explains a profile: accepted links
// between records and identifiers of other rows, and every refused link
// with its reason. A record's own identifiers are implied by
// record_identifiers and not repeated.
func (r *run) writeLinks(ctx context.Context, customerOf func(int32) any) error {
	var ds []identity.Decision
	for _, d := range r.res.Decisions {
		if d.Accepted && d.Edge.Kind == identity.HasIdentifier {
			continue
		}
		ds = append(ds, d)
	}
	cols := []engine.Column{
		{Name: "kind", Type: engine.Text, Compression: engine.Dictionary}, {Name: "rule", Type: engine.Text, Compression: engine.Dictionary}, {Name: "a", Type: engine.Text, Compression: engine.FSST}, {Name: "b", Type: engine.Text, Compression: engine.FSST},
		{Name: "evidence", Type: engine.Text, Compression: engine.FSST}, {Name: "occurrences", Type: engine.BigInt}, {Name: "accepted", Type: engine.Bool},
		{Name: "reason", Type: engine.Text, Compression: engine.Dictionary}, {Name: "customer_a", Type: engine.Text, Compression: engine.FSST}, {Name: "customer_b", Type: engine.Text, Compression: engine.FSST},
		{Name: "score", Type: engine.Double}, {Name: "detail", Type: engine.Text},
	}
	agg := make([]blockedKey, 0, len(r.blockedEvents))
	for k := range r.blockedEvents {
		agg = append(agg, k)
	}
	slices.SortFunc(agg, func(x, y blockedKey) int {
		return cmp.Or(cmp.Compare(x.source, y.source), cmp.Compare(x.typ, y.typ), cmp.Compare(x.raw, y.raw))
	})
	n := len(ds) + len(r.blocked) + len(agg)
	return r.loadTable(ctx, "links", cols, n, func(i int, out []any) {
		if i >= len(ds)+len(r.blocked) {
			// Junk in event rows is counted per value, not per row.
			k := agg[i-len(ds)-len(r.blocked)]
			out[0], out[1], out[2], out[3] = "identifier", nil, r.sources[k.source].cfg.Name+" events", r.types[k.typ].name+":"+k.raw
			out[4], out[5], out[6], out[7], out[8], out[9] = nil, r.blockedEvents[k], false, k.reason, nil, nil
			out[10], out[11] = nil, nil
			return
		}
		if i >= len(ds) {
			b := r.blocked[i-len(ds)]
			var cust any
			if node, ok := r.g.LookupRecord(b.record); ok {
				cust = customerOf(node)
			}
			out[0], out[1], out[2], out[3] = "identifier", nil, b.record, r.types[b.typ].name+":"+b.raw
			out[4], out[5], out[6], out[7], out[8], out[9] = nil, int64(1), false, b.reason, cust, nil
			out[10], out[11] = nil, nil
			return
		}
		d := ds[i]
		e := d.Edge
		var rule, ev any
		occ := int64(1)
		if e.Rule >= 0 {
			rule = r.ruleNames[e.Rule]
			ev = nullString(r.ruleEvidence[edgeKey(e.A, e.B, e.Rule)])
		}
		if e.Kind == identity.CoOccurrence {
			k := [2]int32{min(e.A, e.B), max(e.A, e.B)}
			if x := r.coEvidence[k]; x != nil {
				ev, occ = x.text, int64(x.count)
			}
		}
		if e.Kind == identity.AlwaysMatch {
			rule = "always-match override"
		}
		out[0], out[1], out[2], out[3] = e.Kind.String(), rule, r.describeNode(e.A), r.describeNode(e.B)
		out[4], out[5], out[6], out[7] = ev, occ, d.Accepted, nullString(r.res.Reason(d))
		out[8], out[9] = customerOf(e.A), customerOf(e.B)
		out[10], out[11] = nil, nil
		if e.Rule >= 0 {
			if sc, ok := r.ruleScores[edgeKey(e.A, e.B, e.Rule)]; ok {
				out[10], out[11] = sc.score, sc.detail
			}
		}
	})
}

func (r *run) writeMeta(ctx context.Context) error {
	ids := make([]string, 0, len(r.registry))
	for id := range r.registry {
		ids = append(ids, id)
	}
	err := r.loadTable(ctx, "customer_ids", []engine.Column{
		{Name: "customer_id", Type: engine.Text}, {Name: "created_run", Type: engine.BigInt}, {Name: "anchor_record", Type: engine.Text},
		{Name: "status", Type: engine.Text}, {Name: "merged_into", Type: engine.Text}, {Name: "changed_run", Type: engine.BigInt},
	}, len(ids), func(i int, out []any) {
		info := r.registry[ids[i]]
		out[0], out[1], out[2], out[3], out[4], out[5] = ids[i], info.Created, info.Anchor, info.Status, nullString(info.MergedInto), info.Changed
	})
	if err != nil {
		return err
	}
	evCols := []engine.Column{
		{Name: "run_id", Type: engine.BigInt}, {Name: "event", Type: engine.Text},
		{Name: "from_id", Type: engine.Text}, {Name: "to_id", Type: engine.Text},
	}
	err = r.loadTable(ctx, "id_events", evCols, len(r.idEvents), func(i int, out []any) {
		ev := r.idEvents[i]
		out[0], out[1], out[2], out[3] = r.runID, ev.Event, ev.From, ev.To
	})
	if err != nil {
		return err
	}
	if ok, err := r.eng.TableExists(ctx, "id_events"); err != nil {
		return err
	} else if ok {
		if err := r.eng.Exec(ctx, `INSERT INTO `+engine.StagedName("id_events")+` SELECT run_id, event, from_id, to_id FROM id_events`); err != nil {
			return err
		}
	}
	err = r.loadTable(ctx, "rejected", []engine.Column{
		{Name: "run_id", Type: engine.BigInt}, {Name: "source", Type: engine.Text}, {Name: "file", Type: engine.Text},
		{Name: "line", Type: engine.BigInt}, {Name: "column_name", Type: engine.Text}, {Name: "reason", Type: engine.Text}, {Name: "raw", Type: engine.Text},
	}, len(r.rejected), func(i int, out []any) {
		rj := r.rejected[i]
		out[0], out[1], out[2], out[3] = r.runID, rj.source, rj.err.File, rj.err.Line
		out[4], out[5], out[6] = nullString(rj.err.Column), rj.err.Reason, rj.err.Raw
	})
	if err != nil {
		return err
	}
	return r.loadTable(ctx, "generic_values", []engine.Column{
		{Name: "type", Type: engine.Text}, {Name: "value", Type: engine.Text},
		{Name: "seen_with", Type: engine.Text}, {Name: "distinct_values", Type: engine.BigInt},
	}, len(r.res.Generic), func(i int, out []any) {
		gv := r.res.Generic[i]
		node := r.g.Nodes[gv.Node]
		out[0], out[1], out[2], out[3] = r.types[node.Type].name, node.Value, gv.Type, int64(gv.Distinct)
	})
}

// swap replaces the previous results with this run's in one transaction.
func (r *run) swap(ctx context.Context) error {
	tables := append([]string{}, resultTables...)
	for _, s := range r.sources {
		tables = append(tables, s.table)
	}
	if r.proj.Config.Unify.Model != nil {
		tables = append(tables, "match_pairs")
	}
	if err := r.eng.Swap(ctx, r.swapTables(tables)); err != nil {
		return err
	}
	// What is still staged is a working table a stage left for a later one
	// that did not run (the grouped pass of --only measures): never read.
	return r.eng.DropStaged(ctx)
}

// writeMatchPairs stores the model-scored pairs at or above the review
// floor with their explanations, for "knit pairs".
func (r *run) writeMatchPairs(ctx context.Context, customerOf func(int32) any) error {
	if r.proj.Config.Unify.Model == nil {
		return nil
	}
	threshold := r.proj.Config.Unify.Model.Threshold
	return r.loadTable(ctx, "match_pairs", []engine.Column{
		{Name: "a", Type: engine.Text}, {Name: "b", Type: engine.Text}, {Name: "weight", Type: engine.Double},
		{Name: "probability", Type: engine.Double}, {Name: "linked", Type: engine.Bool}, {Name: "levels", Type: engine.Text},
		{Name: "explanation", Type: engine.Text}, {Name: "customer_a", Type: engine.Text}, {Name: "customer_b", Type: engine.Text},
	}, len(r.scored), func(i int, out []any) {
		p := r.scored[i]
		na, nb := r.recs[p.a].node, r.recs[p.b].node
		out[0], out[1], out[2], out[3] = r.g.Nodes[na].Value, r.g.Nodes[nb].Value, p.weight, p.probability
		out[4], out[5], out[6], out[7], out[8] = p.probability >= threshold, p.vector, p.explanation, customerOf(na), customerOf(nb)
	})
}
