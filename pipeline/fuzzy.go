package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/identity"
	"github.com/knit-cdp/knit/similarity"
)

// needsSQL reports whether a rule has a fuzzy condition or an exception:
// such rules are compiled to SQL (fuzzyRule); purely exact rules are
// grouped in Go (matchRule).
func needsSQL(rule *config.Rule) bool {
	if len(rule.Except) > 0 {
		return true
	}
	for _, c := range rule.Conditions {
		if c.Threshold() < 1 {
			return true
		}
	}
	return false
}

// conditionScore is one fuzzy condition's result on a linked pair, kept as
// the link's detail.
type conditionScore struct {
	Field      string  `json:"field"`
	Metric     string  `json:"metric"`
	Similarity float64 `json:"similarity"`
	Threshold  float64 `json:"threshold"`
}

// scoredEvidence is what a scored link stores beside its evidence text.
type scoredEvidence struct {
	score  float64
	detail string
}

// blockPrefix is the length of the key a rule without exact conditions
// blocks on: the first (and, in a second pass, the last) blockPrefix
// characters of its first fuzzy field.
const blockPrefix = 3

// fuzzyRule links the pairs of records (of the given sources) that meet
// every condition of a rule and none of its exceptions. Exact conditions
// are the blocking keys of a self-join in the engine; fuzzy conditions are
// scored in the same SQL (edit and jaro_winkler), or in Go on the joined
// pairs (token, which needs the corpus's word weights). A rule with no
// exact condition blocks on the first and last blockPrefix characters of
// its first fuzzy field (two passes, pairs unioned without duplicates).
func (r *run) fuzzyRule(ctx context.Context, rule *config.Rule, sources map[int]bool, kind identity.Kind, group int32, ruleIdx int32) (int, error) {
	d := r.eng.Dialect()
	table := matchTable + "_rule"
	var cols []valueColumn
	colOf := map[string]string{}
	col := func(field string) string {
		if c, ok := colOf[field]; ok {
			return c
		}
		c := fmt.Sprintf("f%d", len(cols))
		colOf[field] = c
		cols = append(cols, r.textColumn(c, field))
		return c
	}
	var blockKeys []string // SQL equalities of exact conditions
	var fuzzy []*config.Condition
	var tokenConds []*config.Condition
	var where []string
	var scores, tokenScores []string
	for _, c := range rule.Conditions {
		q := d.Quote(col(c.Field))
		if c.Threshold() >= 1 {
			blockKeys = append(blockKeys, "l."+q+" = r."+q)
			continue
		}
		if c.Metric == "token" {
			tokenConds = append(tokenConds, c)
			where = append(where, "l."+q+" IS NOT NULL AND r."+q+" IS NOT NULL")
			tokenScores = append(tokenScores, "l."+q, "r."+q)
			continue
		}
		fuzzy = append(fuzzy, c)
		sim := d.Similarity(c.Metric, "l."+q, "r."+q)
		where = append(where, sim+" >= "+sqlFloat(c.Threshold()))
		scores = append(scores, sim)
	}
	for _, c := range rule.Except {
		q := d.Quote(col(c.Field))
		agree := "l." + q + " = r." + q
		if c.Threshold() < 1 && c.Metric != "token" {
			agree = d.Similarity(c.Metric, "l."+q, "r."+q) + " >= " + sqlFloat(c.Threshold())
		}
		// An exception fires only when both values are present: a missing
		// value is no evidence that the records differ.
		where = append(where, "NOT (l."+q+" IS NOT NULL AND r."+q+" IS NOT NULL AND NOT ("+agree+"))")
	}
	scores = append(scores, tokenScores...)
	passes := [][]string{blockKeys}
	if len(blockKeys) == 0 {
		first := rule.Conditions[0].Field
		q := d.Quote(col(first))
		n := fmt.Sprint(blockPrefix)
		passes = [][]string{
			{"left(l." + q + ", " + n + ") = left(r." + q + ", " + n + ")"},
			{"right(l." + q + ", " + n + ") = right(r." + q + ", " + n + ")"},
		}
	}
	recs := r.recordsOf(sources)
	if err := r.stageValues(ctx, table, recs, cols); err != nil {
		return 0, err
	}
	defer r.dropTable(ctx, table)

	var selects []string
	for i, keys := range passes {
		conds := append([]string{}, keys...)
		conds = append(conds, "l.rid < r.rid")
		for _, prev := range passes[:i] {
			conds = append(conds, "NOT coalesce("+strings.Join(prev, " AND ")+", false)")
		}
		sel := "SELECT l.rid, r.rid"
		for _, s := range scores {
			sel += ", " + s
		}
		sel += " FROM " + d.Quote(table) + " l JOIN " + d.Quote(table) + " r ON " + strings.Join(conds, " AND ")
		if len(where) > 0 {
			sel += " WHERE " + strings.Join(where, " AND ")
		}
		selects = append(selects, sel)
	}
	rows, err := r.eng.Query(ctx, strings.Join(selects, " UNION ALL ")+" ORDER BY 1, 2")
	if err != nil {
		return 0, err
	}
	defer rows.Close()

	var corpora []*similarity.Corpus
	for _, c := range tokenConds {
		corpora = append(corpora, r.corpus(recs, c.Field))
	}
	vals := make([]any, 2+len(scores))
	var a, b int64
	sims := make([]float64, len(fuzzy))
	toks := make([]string, 2*len(tokenConds))
	vals[0], vals[1] = &a, &b
	for i := range fuzzy {
		vals[2+i] = &sims[i]
	}
	for i := range toks {
		vals[2+len(fuzzy)+i] = &toks[i]
	}
	// Scores come back as selected: the fuzzy similarities, then each
	// token condition's two values.
	links := 0
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return links, err
		}
		detail := make([]conditionScore, 0, len(fuzzy)+len(tokenConds))
		score := 1.0
		for i, c := range fuzzy {
			detail = append(detail, conditionScore{Field: c.Field, Metric: c.Metric, Similarity: round4(sims[i]), Threshold: c.Threshold()})
			score = math.Min(score, sims[i])
		}
		ok := true
		for i, c := range tokenConds {
			s := corpora[i].TokenSimilarity(toks[2*i], toks[2*i+1])
			if s < c.Threshold() {
				ok = false
				break
			}
			detail = append(detail, conditionScore{Field: c.Field, Metric: c.Metric, Similarity: round4(s), Threshold: c.Threshold()})
			score = math.Min(score, s)
		}
		if !ok {
			continue
		}
		ra, rb := r.recs[a], r.recs[b]
		r.g.Link(identity.Edge{A: ra.node, B: rb.node, Kind: kind, Group: group, Rule: ruleIdx})
		k := edgeKey(ra.node, rb.node, ruleIdx)
		r.ruleEvidence[k] = r.ruleEvidenceText(rule, ra, rb, detail)
		js, _ := json.Marshal(detail)
		r.ruleScores[k] = scoredEvidence{score: score, detail: string(js)}
		links++
	}
	return links, rows.Err()
}

// ruleEvidenceText renders why a fuzzy rule linked two records:
// "person.last_name jaro_winkler 0.93 ≥ 0.8 + person.birth_date = 1971-06-24".
func (r *run) ruleEvidenceText(rule *config.Rule, a, b *record, detail []conditionScore) string {
	var parts []string
	for _, c := range rule.Conditions {
		if c.Threshold() >= 1 {
			parts = append(parts, c.Field+" = "+r.ruleValue(a, c.Field))
			continue
		}
		for _, d := range detail {
			if d.Field == c.Field && d.Metric == c.Metric {
				parts = append(parts, fmt.Sprintf("%s %s %.2f ≥ %g (%q ~ %q)", c.Field, c.Metric, d.Similarity, d.Threshold, r.ruleValue(a, c.Field), r.ruleValue(b, c.Field)))
				break
			}
		}
	}
	return strings.Join(parts, " + ")
}

// corpus builds the word statistics of a field over some records, for the
// IDF-weighted token similarity.
func (r *run) corpus(recs []int32, field string) *similarity.Corpus {
	c := similarity.NewCorpus()
	for _, i := range recs {
		if v := r.ruleValue(r.recs[i], field); v != "" {
			c.Add(v)
		}
	}
	return c
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
