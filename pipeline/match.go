package pipeline

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/identity"
	"github.com/knit-cdp/knit/internal/parallel"
)

// ruleValue returns the standardised value of one condition's field on a
// record: a unified attribute through its field's standardiser, or the
// record's first identifier of that type. "" means null: no evidence.
func (r *run) ruleValue(rec *record, field string) string {
	if fi, ok := r.fieldIndex[field]; ok {
		if rec.attrs == nil || rec.attrs[fi] == "" {
			return ""
		}
		v, ok := r.fieldStd[fi](rec.attrs[fi])
		if !ok {
			return ""
		}
		return v
	}
	if ti, ok := r.identIndex[field]; ok {
		for _, id := range rec.idents {
			if id.typ == ti {
				return id.value
			}
		}
	}
	return ""
}

// matchRule links the records (of the given sources) whose condition
// values are all present and equal. Exact conditions group records by the
// joined values; every group is linked as a star from its first record.
// The records' keys are made, and grouped, across the cores: a group
// belongs to one worker by a hash of its key, so the groups and their
// links do not depend on scheduling, and they are linked in a fixed order
// (worker by worker, groups in record order).
func (r *run) matchRule(rule *config.Rule, sources map[int]bool, kind identity.Kind, group int32, ruleIdx int32) int {
	keys, keyed := r.ruleKeys(rule, sources)
	shards := make([][]ruleLink, parallel.Workers(keyed))
	next := make([]int32, len(keys)) // a group's members as a list in record order: the next member, -1 at the end
	parallel.Each(len(shards), func(s int) {
		shards[s] = r.groupRuleKeys(keys, next, s, len(shards), keyed/len(shards), kind, group, ruleIdx)
	})
	links := 0
	for _, shard := range shards {
		for _, l := range shard {
			r.g.Link(l.edge)
			r.ruleEvidence[edgeKey(l.edge.A, l.edge.B, ruleIdx)] = l.text
		}
		links += len(shard)
	}
	return links
}

// ruleLink is a link a rule found, with its evidence text.
type ruleLink struct {
	edge identity.Edge
	text string
}

// ruleKeys returns each record's key for a rule: its condition values
// joined by 0x1f, "" when one is missing or the record is of another
// source; and how many records have a key.
func (r *run) ruleKeys(rule *config.Rule, sources map[int]bool) ([]string, int) {
	keys := make([]string, len(r.recs))
	var keyed atomic.Int64
	parallel.For(len(r.recs), func(lo, hi int) {
		var b strings.Builder
		n := 0
		defer func() { keyed.Add(int64(n)) }()
		for i := lo; i < hi; i++ {
			rec := r.recs[i]
			if sources != nil && !sources[rec.source] {
				continue
			}
			b.Reset()
			for ci, c := range rule.Conditions {
				v := r.ruleValue(rec, c.Field)
				if v == "" {
					b.Reset()
					break
				}
				if len(rule.Conditions) == 1 {
					b.Reset()
					keys[i] = v // no copy: the value is the key
					break
				}
				if ci > 0 {
					b.WriteByte(0x1f)
				}
				b.WriteString(v)
			}
			if b.Len() > 0 {
				keys[i] = b.String()
			}
			if keys[i] != "" {
				n++
			}
		}
	})
	return keys, int(keyed.Load())
}

// groupRuleKeys groups the records whose keys fall to shard s of n (by an
// FNV-1a hash of the key; about size of them) and returns the links of its
// groups of two or more, in order of each group's first record. It writes
// next only at the indexes of its own records.
func (r *run) groupRuleKeys(keys []string, next []int32, s, n, size int, kind identity.Kind, group, ruleIdx int32) []ruleLink {
	type members struct{ first, last int32 }
	groups := make(map[string]int32, size) // key → index in order
	var order []members                    // groups in order of their first record
	for i, k := range keys {
		if k == "" || keyShard(k, n) != s {
			continue
		}
		next[i] = -1
		if g, ok := groups[k]; ok {
			next[order[g].last], order[g].last = int32(i), int32(i)
			continue
		}
		groups[k] = int32(len(order))
		order = append(order, members{int32(i), int32(i)})
	}
	var out []ruleLink
	var group1 []int32
	for _, g := range order {
		if g.first == g.last {
			continue
		}
		group1 = group1[:0]
		for m := g.first; m >= 0; m = next[m] {
			group1 = append(group1, m)
		}
		slices.SortFunc(group1, func(a, b int32) int {
			return cmp.Compare(r.g.Nodes[r.recs[a].node].Value, r.g.Nodes[r.recs[b].node].Value)
		})
		hub := r.recs[group1[0]].node
		text := strings.ReplaceAll(keys[g.first], "\x1f", " + ")
		for _, m := range group1[1:] {
			out = append(out, ruleLink{identity.Edge{A: hub, B: r.recs[m].node, Kind: kind, Group: group, Rule: ruleIdx}, text})
		}
	}
	return out
}

// keyShard is the shard of n a key falls to: FNV-1a, the same on every run.
func keyShard(k string, n int) int {
	if n == 1 {
		return 0
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(k); i++ {
		h ^= uint64(k[i])
		h *= 1099511628211
	}
	return int(h % uint64(n))
}

func edgeKey(a, b int32, rule int32) [3]int32 {
	if a > b {
		a, b = b, a
	}
	return [3]int32{a, b, rule}
}

// dedupe applies each source's dedupe rules (OR-ed, transitive) and picks
// a winner per group by the source's policy; losers stay as alternates and
// still take part in matching.
func (r *run) dedupe(ctx context.Context) error {
	for _, s := range r.sources {
		d := r.proj.Config.Unify.Dedupe[s.cfg.Name]
		if d == nil || len(d.Rules) == 0 {
			continue
		}
		for _, rule := range d.Rules {
			idx := r.ruleIndex("dedupe "+s.cfg.Name+": "+rule.Name, identity.Dedupe)
			if err := r.applyRule(ctx, rule, map[int]bool{s.rank: true}, identity.Dedupe, int32(s.rank), idx); err != nil {
				return err
			}
		}
		r.pickWinners(s, d.Winner)
	}
	r.setOwners()
	return nil
}

// setOwners groups the limited identifiers of each dedupe group, so that a
// customer who enrolled twice keeps both IDs under a limit of one. Records
// outside any dedupe group (a POS visitor carrying the loyalty ID) do not
// disturb ownership; an identifier claimed by two different groups keeps
// no owner.
func (r *run) setOwners() {
	owner := map[int32]int32{}
	for _, rec := range r.recs {
		if rec.group < 0 {
			continue
		}
		group := r.recs[rec.group].node
		for _, id := range rec.idents {
			if r.types[id.typ].limit == 0 {
				continue
			}
			if prev, seen := owner[id.node]; !seen {
				owner[id.node] = group
			} else if prev != group {
				owner[id.node] = -1
			}
		}
	}
	for node, group := range owner {
		if group >= 0 {
			r.g.SetOwner(node, group)
		}
	}
}

// applyRule links the pairs a rule finds: exact rules grouped in Go,
// fuzzy rules and rules with exceptions compiled to the engine's SQL.
func (r *run) applyRule(ctx context.Context, rule *config.Rule, sources map[int]bool, kind identity.Kind, group int32, ruleIdx int32) error {
	if !needsSQL(rule) {
		r.matchRule(rule, sources, kind, group, ruleIdx)
		return nil
	}
	_, err := r.fuzzyRule(ctx, rule, sources, kind, group, ruleIdx)
	return err
}

// pickWinners groups a source's records along its dedupe links and marks
// one winner per group.
func (r *run) pickWinners(s *sourceRun, policy string) {
	parent := map[int32]int32{}
	var find func(int32) int32
	find = func(x int32) int32 {
		p := parent[x]
		if p == x {
			return x
		}
		root := find(p)
		parent[x] = root
		return root
	}
	for _, e := range r.g.Edges {
		if e.Kind != identity.Dedupe || int(e.Group) != s.rank {
			continue
		}
		for _, n := range [2]int32{e.A, e.B} {
			if _, ok := parent[n]; !ok {
				parent[n] = n
			}
		}
		ra, rb := find(e.A), find(e.B)
		if ra != rb {
			parent[rb] = ra
		}
	}
	groups := map[int32][]*record{}
	for n := range parent {
		root := find(n)
		groups[root] = append(groups[root], r.recs[r.nodeRec[n]])
	}
	for _, members := range groups {
		slices.SortFunc(members, func(a, b *record) int { return winnerOrder(policy, a, b, r.g) })
		w := int32(r.nodeRec[members[0].node])
		for i, m := range members {
			m.group = w
			m.winner = i == 0
		}
		s.rep.DedupeGroups++
		s.rep.DedupeAlternates += int64(len(members) - 1)
	}
}

// winnerOrder sorts the best record first: by the policy, then by key so
// ties never depend on row order.
func winnerOrder(policy string, a, b *record, g *identity.Graph) int {
	var c int
	switch policy {
	case "most_recent":
		c = cmp.Compare(b.updated, a.updated)
	case "least_recent":
		c = cmp.Compare(a.updated, b.updated)
		if c != 0 && a.updated.isZero() {
			c = 1
		} else if c != 0 && b.updated.isZero() {
			c = -1
		}
	}
	if c == 0 {
		c = cmp.Compare(b.filled, a.filled)
	}
	if c == 0 {
		c = cmp.Compare(g.Nodes[a.node].Value, g.Nodes[b.node].Value)
	}
	return c
}

// matchAcross applies the unify rules in order across sources.
func (r *run) matchAcross(ctx context.Context) error {
	for i, rule := range r.proj.Config.Unify.Rules {
		var srcs map[int]bool
		if len(rule.Sources) > 0 {
			srcs = map[int]bool{}
			for _, name := range rule.Sources {
				srcs[r.sourceRank[name]] = true
			}
		}
		idx := r.ruleIndex(rule.Name, identity.Rule)
		if err := r.applyRule(ctx, rule, srcs, identity.Rule, int32(i), idx); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) ruleIndex(name string, kind identity.Kind) int32 {
	r.ruleNames = append(r.ruleNames, name)
	r.ruleKinds = append(r.ruleKinds, kind)
	return int32(len(r.ruleNames) - 1)
}
