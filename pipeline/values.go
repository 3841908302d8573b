package pipeline

import (
	"context"
	"strconv"
	"unicode/utf8"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/standardize"
)

// fieldStandardizer returns the standardiser of a field's normalize kind;
// first_name is Name followed by the nickname table (Bob → robert).
func fieldStandardizer(kind string) (standardize.Func, error) {
	if kind == "first_name" {
		return func(raw string) (string, bool) {
			v := standardize.FirstName(raw)
			return v, v != ""
		}, nil
	}
	return standardize.For(kind, "US")
}

// fieldLists reads a field's alias and bypass files.
func (r *run) fieldLists(f *config.Field) (*standardize.Lists, error) {
	if f.Aliases == "" && f.Bypass == "" {
		return nil, nil
	}
	return standardize.LoadLists(config.Resolve(r.proj.Dir, f.Aliases), config.Resolve(r.proj.Dir, f.Bypass))
}

// withLists applies a field's lists after its standardiser: a bypassed
// value becomes null (it matches nothing, not even itself), an alias
// becomes its canonical value (so aliases are always equal).
func withLists(std standardize.Func, lists *standardize.Lists) standardize.Func {
	if lists == nil {
		return std
	}
	return func(raw string) (string, bool) {
		v, ok := std(raw)
		if !ok || lists.Bypassed(v) || lists.Bypassed(raw) {
			return "", false
		}
		if c := lists.Canonical(v); c != v {
			return c, true
		}
		return v, true
	}
}

// asciiValue is the form of a standardised value the engine's SQL
// compares. Every text-like standardiser (text, name, first_name, address,
// organization, digits, phone) already yields ASCII; values that are not
// (normalize: exact, internationalised emails) are folded by
// standardize.Text, so that engines whose string functions count bytes
// (DuckDB's levenshtein and jaro_winkler_similarity) count characters.
func asciiValue(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			folded, _ := standardize.Text(v)
			return folded
		}
	}
	return v
}

// valueColumn is one column of a staged table of match values.
type valueColumn struct {
	name  string
	typ   engine.Type
	value func(rec *record) any
}

// matchTable is the name prefix of the engine tables that hold the
// standardised values of the records being matched. They live only during
// a match stage (or training) and are dropped after.
const matchTable = "knit_match_values"

// stageValues writes one row per record of recs into a fresh table: rid
// (index in r.recs), src (source rank), rkey (record key), then cols.
func (r *run) stageValues(ctx context.Context, table string, recs []int32, cols []valueColumn) error {
	all := []engine.Column{{Name: "rid", Type: engine.BigInt}, {Name: "src", Type: engine.BigInt}, {Name: "rkey", Type: engine.Text}}
	for _, c := range cols {
		all = append(all, engine.Column{Name: c.name, Type: c.typ})
	}
	if err := r.eng.CreateTable(ctx, table, all); err != nil {
		return err
	}
	i := 0
	_, err := r.eng.Load(ctx, table, all, func(out []any) (bool, error) {
		if i >= len(recs) {
			return false, nil
		}
		rec := r.recs[recs[i]]
		out[0], out[1], out[2] = int64(recs[i]), int64(rec.source), r.g.Nodes[rec.node].Value
		for j, c := range cols {
			out[3+j] = c.value(rec)
		}
		i++
		return true, nil
	})
	return err
}

// textColumn stages a field's standardised value (ASCII, null when empty).
func (r *run) textColumn(name, field string) valueColumn {
	return valueColumn{name: name, typ: engine.Text, value: func(rec *record) any {
		return nullString(asciiValue(r.ruleValue(rec, field)))
	}}
}

// recordsOf lists the records of the given sources (all when nil).
func (r *run) recordsOf(sources map[int]bool) []int32 {
	out := make([]int32, 0, len(r.recs))
	for i, rec := range r.recs {
		if sources == nil || sources[rec.source] {
			out = append(out, int32(i))
		}
	}
	return out
}

func (r *run) dropTable(ctx context.Context, table string) {
	_ = r.eng.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+r.eng.Dialect().Quote(table))
}

// sqlFloat renders a number of knit's own (a threshold or a weight) as an
// SQL literal; user text never goes through here.
func sqlFloat(f float64) string {
	// Always with an exponent: DuckDB reads a plain decimal literal as
	// DECIMAL(p,s) sized to its digits, and a CASE mixing -2.44… and
	// -19.3… then overflows the narrower type; an exponent makes it DOUBLE.
	return strconv.FormatFloat(f, 'e', -1, 64)
}
