package lookup

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/knit-cdp/knit/engine"
)

// The "why merged" graph of a profile: its records as nodes, the accepted
// links between them as edges, and the links the guards refused. It is the
// same data as Explain, reshaped for a picture: accepted links in the links
// table join records to identifiers and identifiers to identifiers, and a
// person wants to see which record joined which and on what evidence.

// WhyLimit bounds the records drawn for one profile: a profile that grew
// to thousands of records (a shared device, a generic value not yet
// detected) is still shown, truncated, in bounded time.
const WhyLimit = 200

// WhyNode is a record of the profile, or an identifier that no record of
// the profile carries but that joined it through a co-occurrence.
type WhyNode struct {
	ID     string       `json:"id"` // record key (source/pk) or type:value
	Record bool         `json:"record"`
	Source string       `json:"source,omitempty"`
	PK     string       `json:"pk,omitempty"`
	Anchor bool         `json:"anchor"`
	Keys   []Identifier `json:"keys"` // identifiers the record carries into the profile
	// Refused lists identifiers the record carries that a guard kept out.
	Refused []Identifier `json:"refused,omitempty"`
}

// WhyEvidence is one reason two nodes are joined.
type WhyEvidence struct {
	Kind        string   `json:"kind"` // identifier, co-occurrence, dedupe, rule, always-match
	Rule        string   `json:"rule,omitempty"`
	Values      string   `json:"values"` // the shared identifier, or the compared values
	Score       *float64 `json:"score,omitempty"`
	Detail      string   `json:"detail,omitempty"`
	Occurrences int64    `json:"occurrences"`
}

// Label is the short text drawn on an edge.
func (e WhyEvidence) Label() string {
	name := e.Rule
	if name == "" {
		name = e.Kind
	}
	if e.Kind == "identifier" {
		name = "shared"
	}
	return name + ": " + e.Values
}

// WhyEdge joins two nodes (A before B in node order: the anchor first)
// with every piece of evidence between them.
type WhyEdge struct {
	A        string        `json:"a"`
	B        string        `json:"b"`
	Evidence []WhyEvidence `json:"evidence"`
}

// WhyRefused is a refused link that touched the profile, with its guard.
type WhyRefused struct {
	Link
	Guard string `json:"guard"`
}

// WhyGraph is how one profile's records were joined.
type WhyGraph struct {
	CustomerID string       `json:"customer_id"`
	Records    int64        `json:"records"` // all records of the profile
	Truncated  bool         `json:"truncated"`
	Nodes      []WhyNode    `json:"nodes"`
	Edges      []WhyEdge    `json:"edges"`
	Refused    []WhyRefused `json:"refused"`
}

// GuardOf names the guard behind a refusal reason ("blocked value",
// "generic value", "limit", "never-match override"): the text before the
// first colon, as the run report counts them.
func GuardOf(reason string) string {
	if i := strings.IndexByte(reason, ':'); i > 0 {
		return reason[:i]
	}
	return reason
}

// Why builds the graph of an active customer (resolve the key first).
func Why(ctx context.Context, eng engine.Engine, customerID string) (*WhyGraph, error) {
	if err := requireResults(ctx, eng); err != nil {
		return nil, err
	}
	g := &WhyGraph{CustomerID: customerID, Nodes: []WhyNode{}, Edges: []WhyEdge{}, Refused: []WhyRefused{}}
	// One scan of records gives the drawn records and the count of all.
	index := map[string]int{} // node ID → position in g.Nodes
	err := each(ctx, eng, `SELECT record_key, source, pk, is_anchor, count(*) OVER () FROM records WHERE customer_id = ?
ORDER BY is_anchor DESC, source_rank, record_key LIMIT `+strconv.Itoa(WhyLimit), []any{customerID}, func(rows *sql.Rows) error {
		n := WhyNode{Record: true, Keys: []Identifier{}}
		err := rows.Scan(&n.ID, &n.Source, &n.PK, &n.Anchor, &g.Records)
		index[n.ID] = len(g.Nodes)
		g.Nodes = append(g.Nodes, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	if g.Records == 0 {
		if _, err := Get(ctx, eng, &Resolved{CustomerID: customerID}); err != nil {
			return nil, err // no such profile: a clear not-found
		}
		return g, nil
	}
	g.Truncated = g.Records > WhyLimit

	// Which records carry which identifier: a shared identifier joins them.
	carriers := map[string][]string{} // type:value → record keys, in node order
	// By the drawn records' keys: one scan of record_identifiers, without
	// joining records again.
	// customer_id narrows the scan to the profile's range (the table is
	// written in customer order).
	recKeys := make([]any, 0, len(g.Nodes)+1)
	recKeys = append(recKeys, customerID)
	for _, n := range g.Nodes {
		recKeys = append(recKeys, n.ID)
	}
	err = each(ctx, eng, `SELECT record_key, type, value, linked FROM record_identifiers
WHERE customer_id = ? AND record_key IN (?`+strings.Repeat(", ?", len(g.Nodes)-1)+`) ORDER BY type, value, record_key`,
		recKeys, func(rows *sql.Rows) error {
			var rec string
			var id Identifier
			var linked bool
			if err := rows.Scan(&rec, &id.Type, &id.Value, &linked); err != nil {
				return err
			}
			i, ok := index[rec]
			if !ok {
				return nil // beyond the drawn records
			}
			if !linked {
				g.Nodes[i].Refused = append(g.Nodes[i].Refused, id)
				return nil
			}
			g.Nodes[i].Keys = append(g.Nodes[i].Keys, id)
			key := id.Type + ":" + id.Value
			carriers[key] = append(carriers[key], rec)
			return nil
		})
	if err != nil {
		return nil, err
	}
	for _, recs := range carriers {
		slices.SortFunc(recs, func(a, b string) int { return cmp.Compare(index[a], index[b]) })
	}

	edges := map[[2]string]*WhyEdge{}
	add := func(a, b string, ev WhyEvidence) {
		if a == b {
			return // one record carries both sides
		}
		if a > b {
			a, b = b, a
		}
		e := edges[[2]string{a, b}]
		if e == nil {
			e = &WhyEdge{A: a, B: b}
			edges[[2]string{a, b}] = e
		}
		e.Evidence = append(e.Evidence, ev)
	}
	// A shared identifier joins every carrier to the first one (the anchor
	// side), a star rather than a clique: k carriers give k-1 edges.
	keys := make([]string, 0, len(carriers))
	for k := range carriers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		recs := carriers[k]
		for _, rec := range recs[1:] {
			add(recs[0], rec, WhyEvidence{Kind: "identifier", Values: k, Occurrences: 1})
		}
	}
	// endpoint places an identifier on the graph: the first record of the
	// profile carrying it, or a node of its own.
	endpoint := func(key string) string {
		if recs := carriers[key]; len(recs) > 0 {
			return recs[0]
		}
		if _, ok := index[key]; !ok {
			index[key] = len(g.Nodes)
			g.Nodes = append(g.Nodes, WhyNode{ID: key, Keys: []Identifier{}})
		}
		return key
	}
	// Accepted and refused links are bounded apart, in one scan, so a
	// profile with many accepted links still shows its refusals.
	err = each(ctx, eng, `SELECT kind, rule, a, b, evidence, occurrences, accepted, reason, score, detail FROM (
  SELECT l.*, row_number() OVER (PARTITION BY accepted ORDER BY kind, rule, a, b) AS n FROM links l
  WHERE customer_a = ? OR customer_b = ?) x
WHERE n <= CASE WHEN accepted THEN `+strconv.Itoa(4*WhyLimit)+` ELSE `+strconv.Itoa(WhyLimit)+` END ORDER BY accepted DESC, kind, rule, a, b`,
		[]any{customerID, customerID}, func(rows *sql.Rows) error {
			var l Link
			var rule, ev, reason, detail sql.NullString
			var score sql.NullFloat64
			if err := rows.Scan(&l.Kind, &rule, &l.A, &l.B, &ev, &l.Occurrences, &l.Accepted, &reason, &score, &detail); err != nil {
				return err
			}
			l.Rule, l.Evidence, l.Reason = rule.String, ev.String, reason.String
			if !l.Accepted {
				g.Refused = append(g.Refused, WhyRefused{Link: l, Guard: GuardOf(l.Reason)})
				return nil
			}
			w := WhyEvidence{Kind: l.Kind, Rule: l.Rule, Values: l.Evidence, Detail: detail.String, Occurrences: l.Occurrences}
			if score.Valid {
				s := score.Float64
				w.Score = &s
			}
			a, b := l.A, l.B
			if l.Kind == "co-occurrence" || l.Kind == "identifier" {
				if w.Values == "" {
					w.Values = l.A + " + " + l.B
				} else {
					w.Values = l.A + " + " + l.B + " (" + w.Values + ")"
				}
				a, b = endpoint(l.A), endpoint(l.B)
			} else {
				_, okA := index[a]
				_, okB := index[b]
				if !okA || !okB {
					return nil // a record beyond the drawn ones
				}
				if w.Values == "" {
					w.Values = l.A + " + " + l.B
				}
			}
			add(a, b, w)
			return nil
		})
	if err != nil {
		return nil, err
	}
	for _, e := range edges {
		if index[e.A] > index[e.B] {
			e.A, e.B = e.B, e.A // the side nearer the anchor first
		}
		g.Edges = append(g.Edges, *e)
	}
	slices.SortFunc(g.Edges, func(x, y WhyEdge) int {
		return cmp.Or(cmp.Compare(index[x.A], index[y.A]), cmp.Compare(index[x.B], index[y.B]))
	})
	return g, nil
}
