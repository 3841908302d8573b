package pipeline

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/knit-cdp/knit/identity"
)

// profile is a cluster that became a customer profile.
type profile struct {
	id      string
	root    int32
	records []int32 // indexes into run.recs, anchor first
	known   bool
}

// assignIDs turns clusters into profiles and gives each a stable customer
// ID, remembering last run's IDs.
func (r *run) assignIDs(ctx context.Context) error {
	clusters := r.groupClusters()
	less := func(a, b int32) int {
		x, y := r.recs[a], r.recs[b]
		return cmp.Or(cmp.Compare(x.source, y.source), cmp.Compare(r.g.Nodes[x.node].Value, r.g.Nodes[y.node].Value))
	}
	knownRoot := make([]bool, len(r.g.Nodes))
	for n, node := range r.g.Nodes {
		if !node.Record && r.types[node.Type].known {
			knownRoot[r.res.Root[n]] = true
		}
	}
	for _, p := range clusters {
		slices.SortFunc(p.records, less)
		if !r.makesProfile(p) {
			r.rep.RecordsWithoutProfile += int64(len(p.records))
			continue
		}
		p.known = knownRoot[p.root] || r.isKnown(p)
		r.profiles = append(r.profiles, p)
	}
	slices.SortFunc(r.profiles, func(a, b *profile) int { return less(a.records[0], b.records[0]) })

	prevRecord, registry, err := r.previousIDs(ctx)
	if err != nil {
		return err
	}
	cl := make([]identity.Cluster, len(r.profiles))
	keys := make([]string, 0, len(r.recs)) // every profile's keys, one allocation
	for i, p := range r.profiles {
		start := len(keys)
		for _, ri := range p.records {
			keys = append(keys, r.g.Nodes[r.recs[ri].node].Value)
		}
		cl[i] = identity.Cluster{Records: keys[start:len(keys):len(keys)]}
	}
	a := identity.AssignIDs(cl, prevRecord, registry, r.runID)
	for i, p := range r.profiles {
		p.id = a.IDs[i]
		if p.known {
			r.rep.Profiles.Known++
		} else {
			r.rep.Profiles.Unknown++
		}
	}
	r.rep.Profiles.Total = int64(len(r.profiles))
	for _, ev := range a.Events {
		if ev.Event == "merged" {
			r.rep.IDs.Merged++
		} else {
			r.rep.IDs.Split++
		}
	}
	for _, info := range a.Registry {
		switch {
		case info.Created == r.runID:
			r.rep.IDs.New++
		case info.Status == "retired" && info.Changed == r.runID:
			r.rep.IDs.Retired++
		}
	}
	r.rep.IDs.Kept = r.rep.Profiles.Total - r.rep.IDs.New
	r.idEvents = a.Events
	r.registry = a.Registry
	return nil
}

// groupClusters groups the records by cluster, in order of each cluster's
// first record. The clusters and their record lists are carved out of one
// allocation each (a counting sort by cluster), not grown per cluster: a
// million-record run has hundreds of thousands of clusters.
func (r *run) groupClusters() []*profile {
	index := make([]int32, len(r.g.Nodes)) // root → cluster number + 1
	var sizes, roots []int32
	for _, rec := range r.recs {
		root := r.res.Root[rec.node]
		if index[root] == 0 {
			sizes, roots = append(sizes, 0), append(roots, root)
			index[root] = int32(len(sizes))
		}
		sizes[index[root]-1]++
	}
	slab := make([]profile, len(sizes))
	records := make([]int32, len(r.recs))
	clusters := make([]*profile, len(sizes))
	off := int32(0)
	for c, n := range sizes {
		slab[c].root = roots[c]
		slab[c].records = records[off : off : off+n]
		off += n
		clusters[c] = &slab[c]
	}
	for i, rec := range r.recs {
		p := &slab[index[r.res.Root[rec.node]]-1]
		p.records = append(p.records, int32(i))
	}
	return clusters
}

// makesProfile: a cluster is a profile when it holds a record of a source
// with include-all-records on, or records of two or more sources (it
// matched across sources).
func (r *run) makesProfile(p *profile) bool {
	first := -1
	for _, ri := range p.records {
		s := r.sources[r.recs[ri].source]
		if s.includeAll {
			return true
		}
		if first >= 0 && first != s.rank {
			return true
		}
		first = s.rank
	}
	return false
}

// isKnown: a profile is known when it holds a record of a non-anonymous
// source or an identifier of a known type (the caller checks identifiers
// linked through co-occurrence).
func (r *run) isKnown(p *profile) bool {
	for _, ri := range p.records {
		rec := r.recs[ri]
		if !r.sources[rec.source].cfg.Anonymous {
			return true
		}
		for _, id := range rec.idents {
			if r.types[id.typ].known {
				return true
			}
		}
	}
	return false
}

// previousIDs reads last run's record → customer ID map and the registry
// of every ID issued so far.
func (r *run) previousIDs(ctx context.Context) (map[string]string, map[string]identity.IDInfo, error) {
	prev := map[string]string{}
	registry := map[string]identity.IDInfo{}
	if ok, err := r.eng.TableExists(ctx, "records"); err != nil || !ok {
		return prev, registry, err
	}
	rows, err := r.eng.Query(ctx, `SELECT record_key, customer_id FROM records WHERE customer_id IS NOT NULL`)
	if err != nil {
		return nil, nil, err
	}
	// A customer's ID repeats on each of its records: keep one copy.
	ids := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if same, ok := ids[id]; ok {
			id = same
		} else {
			ids[id] = id
		}
		prev[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if ok, err := r.eng.TableExists(ctx, "customer_ids"); err != nil || !ok {
		return prev, registry, err
	}
	rows, err = r.eng.Query(ctx, `SELECT customer_id, created_run, anchor_record, status, merged_into, changed_run FROM customer_ids`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var info identity.IDInfo
		var merged sql.NullString
		if err := rows.Scan(&id, &info.Created, &info.Anchor, &info.Status, &merged, &info.Changed); err != nil {
			return nil, nil, err
		}
		info.MergedInto = merged.String
		registry[id] = info
	}
	return prev, registry, rows.Err()
}
