package pipeline

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/internal/parallel"
)

// mergedFields holds, per profile (in customer ID order) and field, the
// record that won the field and how many others had a value.
type mergedFields struct {
	won  []int32 // [p*len(fields)+f]: index in run.recs, -1 when no record has a value
	alts []int32
	ids  []any // each profile's customer ID, boxed once (see boxIDs)
}

// mergeFields builds unified profiles: for every field, the winning value
// among the profile's records by the field's policy, with its lineage (the
// record that won). The records are still in memory, so the merge runs in
// Go, and the write stage appends field_lineage and profiles with the
// other tables; it used to be a window query per field over the written
// records table, then a pivot.
func (r *run) mergeFields() {
	r.sortProfiles()
	nf := len(r.fields)
	won := make([]int32, len(r.profiles)*nf)
	alts := make([]int32, len(won))
	less := make([]func(a, b *record) int, nf)
	for f, name := range r.fields {
		less[f] = r.policyLess(r.proj.Config.Fields[name])
	}
	// Profiles are independent and own their slots: they are split across
	// the cores. Each profile's records are read once for all fields, in
	// their order (the winner is the same in any order: every policy ends
	// in the record key).
	parallel.For(len(r.profiles), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			best, others := won[p*nf:(p+1)*nf], alts[p*nf:(p+1)*nf]
			for f := range best {
				best[f], others[f] = -1, -1
			}
			for _, ri := range r.profiles[p].records {
				rec := r.recs[ri]
				if rec.attrs == nil {
					continue
				}
				for f, v := range rec.attrs[:nf] {
					if v == "" {
						continue
					}
					others[f]++
					if best[f] < 0 || less[f](rec, r.recs[best[f]]) < 0 {
						best[f] = ri
					}
				}
			}
		}
	})
	r.merged = mergedFields{won: won, alts: alts, ids: boxIDs(r.profiles)}
}

// sortProfiles puts the profiles in customer ID order, the order the
// per-customer tables are written in (see recordsByCustomer); the field
// winners and the boxed IDs are indexed in that order.
func (r *run) sortProfiles() {
	// Customer IDs are unique: the order is strict, the same on any number of cores.
	parallel.SortFunc(r.profiles, func(a, b *profile) int { return strings.Compare(a.id, b.id) })
}

// policyLess returns the order that puts a field's winning record first.
// Every order ends in the record key (compared as bytes, as the engines'
// text columns are here) so ties never depend on the order of records.
func (r *run) policyLess(f *config.Field) func(a, b *record) int {
	// rank is the source's precedence: the unify order, or the field's own.
	rank := make([]int, len(r.sources))
	for i, s := range r.sources {
		rank[i] = i
		if len(f.Order) > 0 {
			rank[i] = len(f.Order)
			if j := slices.Index(f.Order, s.cfg.Name); j >= 0 {
				rank[i] = j
			}
		}
	}
	key := func(a, b *record) int { return strings.Compare(r.g.Nodes[a.node].Value, r.g.Nodes[b.node].Value) }
	// A record without a time (noStamp, the smallest stamp) sorts last
	// both ways, as NULLS LAST does.
	newest := func(a, b *record) int { return cmp.Compare(b.updated, a.updated) }
	switch f.Policy {
	case "most_recent":
		return func(a, b *record) int {
			return cmp.Or(newest(a, b), cmp.Compare(rank[a.source], rank[b.source]), key(a, b))
		}
	case "least_recent":
		return func(a, b *record) int {
			return cmp.Or(compareBool(a.updated.isZero(), b.updated.isZero()), cmp.Compare(a.updated, b.updated),
				cmp.Compare(rank[a.source], rank[b.source]), key(a, b))
		}
	case "most_filled":
		return func(a, b *record) int {
			return cmp.Or(cmp.Compare(b.filled, a.filled), cmp.Compare(rank[a.source], rank[b.source]), key(a, b))
		}
	default: // source_priority: the first source in order with a value
		return func(a, b *record) int {
			return cmp.Or(cmp.Compare(rank[a.source], rank[b.source]), compareBool(b.dedupeWinner(), a.dedupeWinner()),
				newest(a, b), key(a, b))
		}
	}
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// dedupeWinner reports whether the record won its dedupe group (or has
// none), as records.dedupe_winner says.
func (rec *record) dedupeWinner() bool { return rec.group < 0 || rec.winner }

// writeLineage writes field_lineage: per field, per customer in customer
// ID order, the winning value and record. A profile's fields then sit in
// one row group per field, and zone maps skip the rest.
func (r *run) writeLineage(ctx context.Context) error {
	nf, won, alts := len(r.fields), r.merged.won, r.merged.alts
	type row struct{ p, f int32 }
	var rows []row
	for f := range nf {
		for p := range r.profiles {
			if won[p*nf+f] >= 0 {
				rows = append(rows, row{int32(p), int32(f)})
			}
		}
	}
	names, policies := make([]any, nf), make([]any, nf)
	for f, name := range r.fields {
		names[f], policies[f] = name, r.proj.Config.Fields[name].Policy
	}
	ids := r.merged.ids
	return r.loadTable(ctx, "field_lineage", []engine.Column{
		{Name: "customer_id", Type: engine.Text, Compression: engine.FSST}, {Name: "field", Type: engine.Text, Compression: engine.Dictionary}, {Name: "value", Type: engine.Text},
		{Name: "record_key", Type: engine.Text, Compression: engine.FSST}, {Name: "policy", Type: engine.Text, Compression: engine.Dictionary}, {Name: "alternatives", Type: engine.BigInt},
	}, len(rows), func(i int, out []any) {
		x := rows[i]
		k := int(x.p)*nf + int(x.f)
		rec := r.recs[won[k]]
		out[0], out[1], out[2] = ids[x.p], names[x.f], &rec.attrs[x.f]
		out[3], out[4], out[5] = &r.g.Nodes[rec.node].Value, policies[x.f], int64(alts[k])
	})
}

// writeProfiles writes the profiles table: one row per customer, in
// customer ID order, with its known flag, record facts and unified fields
// as columns.
func (r *run) writeProfiles(ctx context.Context) error {
	won := r.merged.won
	cols := []engine.Column{
		{Name: "customer_id", Type: engine.Text, Compression: engine.FSST}, {Name: "known", Type: engine.Bool}, {Name: "anchor_record", Type: engine.Text, Compression: engine.FSST},
		{Name: "record_count", Type: engine.BigInt}, {Name: "sources", Type: engine.Text, Compression: engine.Dictionary},
		{Name: "first_seen", Type: engine.Timestamp}, {Name: "last_seen", Type: engine.Timestamp}, {Name: "created_run", Type: engine.BigInt},
	}
	base := len(cols)
	for _, name := range r.fields {
		cols = append(cols, engine.Column{Name: name, Type: engine.Text})
	}
	nf, ids := len(r.fields), r.merged.ids
	return r.loadTable(ctx, "profiles", cols, len(r.profiles), func(i int, out []any) {
		p := r.profiles[i]
		first, last := noStamp, noStamp
		var srcs []string
		for _, ri := range p.records {
			rec := r.recs[ri]
			f := rec.first
			if f.isZero() {
				f = rec.updated
			}
			if !f.isZero() && (first.isZero() || f < first) {
				first = f
			}
			last = max(last, rec.updated)
			if name := r.sources[rec.source].cfg.Name; !slices.Contains(srcs, name) {
				srcs = append(srcs, name)
			}
		}
		out[0], out[1], out[2] = ids[i], p.known, &r.g.Nodes[r.recs[p.records[0]].node].Value
		out[3], out[4], out[5], out[6] = int64(len(p.records)), strings.Join(srcs, ","), first.value(), last.value()
		out[7] = r.registry[p.id].Created
		for f := range nf {
			out[base+f] = nil
			if w := won[i*nf+f]; w >= 0 {
				out[base+f] = &r.recs[w].attrs[f]
			}
		}
	})
}
