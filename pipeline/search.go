package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/standardize"
)

// The customer search index (see lookup.Search and docs/console.md):
//
//   - search_terms(term, kind, label, value, pos, …): one row per
//     normalised name token ("jane", kind name, label the field) and per
//     identifier value (kind id, label the type; phones without "+", the
//     rest lower-cased), with its customer's position in search_profiles
//     and the profile columns a search filters and sorts by (not the
//     ones it only shows), sorted by term so a DuckDB scan for a term or
//     a prefix skips every row group whose range cannot hold it;
//   - search_profiles: one row per profile with what a result list shows
//     and sorts by (display name, one email, one phone, counts, dates).
//
// Typo tolerance needs no table of its own: the query side spells out the
// few hundred strings one edit away from what was typed and looks them up
// as exact terms, which costs one scan (DuckDB) or a few hundred index
// probes (PostgreSQL) instead of an index many times the size of the data.
var searchTables = []string{"search_terms", "search_profiles"}

// nameParts ranks the fields that make a display name, by the last part of
// their name: first names, then middle, then last; a full name is used only
// when none of those exists.
var nameParts = map[string]int{
	"first_name": 0, "given_name": 0, "middle_name": 1,
	"last_name": 2, "family_name": 2, "surname": 2, "full_name": 3, "name": 3,
}

// NameFields returns the project's fields that make up a customer's display
// name, in display order.
func NameFields(cfg *config.Config) []string {
	var parts, full []string
	for rank := 0; rank <= 3; rank++ {
		for _, f := range cfg.FieldOrder {
			last := f[strings.LastIndexByte(f, '.')+1:]
			if r, ok := nameParts[last]; ok && r == rank {
				if rank == 3 {
					full = append(full, f)
				} else {
					parts = append(parts, f)
				}
			}
		}
	}
	if len(parts) > 0 {
		return parts
	}
	return full
}

// identifierTypesBy returns the identifier types standardised as kind.
func identifierTypesBy(cfg *config.Config, kind string) []string {
	var out []string
	for _, name := range cfg.IdentOrder {
		if strings.EqualFold(cfg.Identifiers[name].Normalize, kind) {
			out = append(out, name)
		}
	}
	return out
}

// inList renders "IN (?, ?…)" for values, or a condition that never holds
// when there are none.
func inList(expr string, values []string, args *engine.Args) string {
	if len(values) == 0 {
		return "(1 = 0)"
	}
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = args.Add(v)
	}
	return expr + " IN (" + strings.Join(ph, ", ") + ")"
}

// searchSource names the table a search stage reads: this run's staged
// results, or the live ones when only the search stage runs.
func (r *run) searchSource(table string) string {
	if r.partial() {
		return r.eng.Dialect().Quote(table)
	}
	return r.eng.Dialect().Quote(engine.StagedName(table))
}

// buildSearch writes the search tables, staged.
func (r *run) buildSearch(ctx context.Context) error {
	if err := r.searchNameTokens(ctx); err != nil {
		return err
	}
	if err := r.searchProfiles(ctx); err != nil {
		return err
	}
	if err := r.searchTerms(ctx); err != nil {
		return err
	}
	if ix, ok := r.eng.(engine.Indexer); ok {
		for _, x := range []struct {
			table string
			cols  []engine.IndexColumn
		}{
			{"search_terms", []engine.IndexColumn{{Name: "term", Prefix: true}}},
			{"search_profiles", []engine.IndexColumn{{Name: "customer_id"}}},
			{"search_profiles", []engine.IndexColumn{{Name: "pos"}}},
			{"search_profiles", []engine.IndexColumn{{Name: "known"}, {Name: "known_pos"}}},
			{"search_profiles", []engine.IndexColumn{{Name: "last_seen", Desc: true}, {Name: "customer_id"}}},
			{"search_profiles", []engine.IndexColumn{{Name: "first_seen", Desc: true}, {Name: "customer_id"}}},
			{"search_profiles", []engine.IndexColumn{{Name: "record_count", Desc: true}, {Name: "customer_id"}}},
			{"search_profiles", []engine.IndexColumn{{Name: "sort_name"}, {Name: "customer_id"}}},
		} {
			if err := ix.CreateIndex(ctx, engine.StagedName(x.table), x.cols); err != nil {
				return err
			}
		}
	}
	r.searchStaged = append(r.searchStaged, searchTables...)
	return nil
}

// searchNameTokens writes search_name_tokens (value, token): the name
// tokens of every distinct value of the name fields among the records of
// a profile, folded by standardize.Text in Go (the engines' lower() does
// not fold accents alike). A million records carry far fewer distinct
// names, so only those cross from the engine to Go and back; the engine
// then pairs them with every record of a profile (searchTerms), and a
// customer is also found by a name only an older record carries.
func (r *run) searchNameTokens(ctx context.Context) error {
	cols := []engine.Column{{Name: "value", Type: engine.Text}, {Name: "token", Type: engine.Text}}
	staged := engine.StagedName("search_name_tokens")
	if err := r.eng.CreateTable(ctx, staged, cols); err != nil {
		return err
	}
	fields := NameFields(&r.proj.Config)
	if len(fields) == 0 {
		return nil
	}
	q := r.eng.Dialect().Quote
	sel := make([]string, len(fields))
	for i, f := range fields {
		sel[i] = "SELECT " + q(f) + " FROM " + r.searchSource("records") + " WHERE customer_id IS NOT NULL AND " + q(f) + " IS NOT NULL"
	}
	rows, err := r.eng.Query(ctx, strings.Join(sel, " UNION "))
	if err != nil {
		return err
	}
	defer rows.Close()
	b := startBulk(ctx, r.eng, staged, cols)
	var seen []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			b.abort()
			return fmt.Errorf("search names: %w", err)
		}
		folded, ok := standardize.Text(v)
		if !ok {
			continue
		}
		seen = seen[:0]
		for _, tok := range strings.Fields(folded) {
			if slices.Contains(seen, tok) {
				continue // "Anna Anna": one row is enough
			}
			seen = append(seen, tok)
			if err := b.add([]any{v, tok}); err != nil {
				b.abort()
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		b.abort()
		return err
	}
	return b.close()
}

// searchTerms writes search_terms from the name tokens and the keyring,
// each term with its customer's position in search_profiles and the
// columns a text search filters and sorts by (searchTermColumns): a
// search then filters, counts, sorts and pages its hits from this one
// table, without joining a million profiles (a scan that costs more than
// the search itself), and reads the columns it only shows (name, email,
// phone, sources) for the page's positions alone. Those four strings are
// not copied into the millions of terms: writing them was most of the
// stage. Rows are grouped by kind and label and ordered by term, so
// DuckDB's zone maps skip every row group that cannot hold a looked-up
// term or prefix.
func (r *run) searchTerms(ctx context.Context) error {
	d := r.eng.Dialect()
	q := d.Quote
	text := d.TypeName(engine.Text)
	args := engine.NewArgs(d)
	// One record's name fields, a row per field with a value.
	var names []string
	for _, f := range NameFields(&r.proj.Config) {
		names = append(names, "SELECT customer_id, CAST("+args.Add(f)+" AS "+text+") AS label, "+q(f)+" AS v FROM "+
			r.searchSource("records")+" WHERE customer_id IS NOT NULL AND "+q(f)+" IS NOT NULL")
	}
	if len(names) == 0 {
		names = append(names, "SELECT customer_id, CAST(NULL AS "+text+") AS label, CAST(NULL AS "+text+") AS v FROM "+
			r.searchSource("records")+" WHERE 1 = 0")
	}
	phones := inList("type", identifierTypesBy(&r.proj.Config, "phone"), args)
	// The kind and label sort as one small number: keys that start with
	// two strings of the same few values cost a third more to sort.
	whens := ""
	for i, f := range NameFields(&r.proj.Config) {
		whens += " WHEN t.kind = 'name' AND t.label = " + args.Add(f) + " THEN " + fmt.Sprint(i)
	}
	for i, typ := range r.proj.Config.IdentOrder {
		whens += " WHEN t.kind = 'id' AND t.label = " + args.Add(typ) + " THEN " + fmt.Sprint(len(names)+i)
	}
	order := "t.term" // a project with neither name fields nor identifier types
	if whens != "" {
		order = "CASE" + whens + " ELSE " + fmt.Sprint(len(names)+len(r.proj.Config.IdentOrder)) + " END, t.term"
	}
	terms, tokens := q(engine.StagedName("search_terms")), q(engine.StagedName("search_name_tokens"))
	if err := r.eng.Exec(ctx, "DROP TABLE IF EXISTS "+terms); err != nil {
		return err
	}
	// The sort is the statement's last step: an ORDER BY inside a
	// subquery need not survive the join after it, and an index whose
	// terms are not in order makes every search scan the whole table.
	// The profile columns it copies are the few a search filters and
	// sorts by (searchTermColumns), so sorting the joined rows stays
	// within DuckDB's memory limit at millions of terms.
	stmt := `CREATE TABLE ` + terms + ` AS
SELECT t.term, t.kind, t.label, t.value, ` + searchTermColumns("s") + `
FROM (
  SELECT DISTINCT n.token AS term, r.customer_id, CAST('name' AS ` + text + `) AS kind, r.label, CAST(NULL AS ` + text + `) AS value
  FROM (` + strings.Join(names, " UNION ALL ") + `) r JOIN ` + tokens + ` n ON n.value = r.v
  UNION ALL
  SELECT CASE WHEN ` + phones + ` THEN ltrim(value, '+') ELSE lower(value) END, customer_id, CAST('id' AS ` + text + `), type, value
  FROM ` + r.searchSource("identifiers") + ` WHERE customer_id IS NOT NULL
) t JOIN ` + q(engine.StagedName("search_profiles")) + ` s ON s.customer_id = t.customer_id
ORDER BY ` + order
	if err := r.eng.Exec(ctx, stmt, args.List...); err != nil {
		return err
	}
	return r.eng.Exec(ctx, "DROP TABLE "+tokens)
}

// searchTermColumns lists the search_profiles columns search_terms
// copies, qualified: the customer's position and what a text search
// filters and sorts by, except the customer ID and the name (lookup
// joins those when a sort needs them).
func searchTermColumns(alias string) string {
	cols := []string{"pos", "known", "record_count", "first_seen", "last_seen", "segments"}
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// searchProfiles writes search_profiles: the columns a result page shows
// and sorts by, one row per profile. pos and known_pos number the profiles
// in the console's default order (last seen, newest first) among all and
// among the known or the unknown: a page of that list is then a range of
// positions, which DuckDB finds in one row group of the table written in
// that order, instead of sorting a million rows to skip to an offset.
func (r *run) searchProfiles(ctx context.Context) error {
	d := r.eng.Dialect()
	q := d.Quote
	text := d.TypeName(engine.Text)
	name := "CAST(NULL AS " + text + ")"
	if fields := NameFields(&r.proj.Config); len(fields) > 0 {
		cols := make([]string, len(fields))
		for i, f := range fields {
			cols[i] = "p." + q(f)
		}
		name = "NULLIF(concat_ws(' ', " + strings.Join(cols, ", ") + "), '')"
	}
	args := engine.NewArgs(d)
	out := q(engine.StagedName("search_profiles"))
	if err := r.eng.Exec(ctx, "DROP TABLE IF EXISTS "+out); err != nil {
		return err
	}
	// Each profile's segments as "|a|b|", so a segment filter is a string
	// test on the rows at hand rather than a join of hundreds of thousands
	// of members by customer ID. The configured segments are tested one by
	// one, in name order: an aggregate ordered per customer
	// (string_agg … ORDER BY) costs ten times as much on DuckDB.
	members := "segment_members"
	if r.wants("segments") {
		members = engine.StagedName(members)
	}
	segments, segJoin := "CAST(NULL AS "+text+")", ""
	if ok, err := r.eng.TableExists(ctx, members); err != nil {
		return err
	} else if ok && len(r.proj.Config.Segments) > 0 {
		names := make([]string, 0, len(r.proj.Config.Segments))
		for name := range r.proj.Config.Segments {
			names = append(names, name)
		}
		slices.Sort(names)
		each := make([]string, len(names))
		for i, name := range names {
			each[i] = "CASE WHEN bool_or(segment = " + args.Add(name) + ") THEN CAST(" + args.Add(name+"|") + " AS " + text + ") END"
		}
		segments = "g.segments"
		segJoin = ` LEFT JOIN (SELECT customer_id, NULLIF('|' || concat(` + strings.Join(each, ", ") + `), '|') AS segments FROM ` + q(members) +
			` GROUP BY customer_id) g ON g.customer_id = p.customer_id`
	}
	// After the segments' parameters: DuckDB binds "?" in text order.
	emails := inList("type", identifierTypesBy(&r.proj.Config, "email"), args)
	phones := inList("type", identifierTypesBy(&r.proj.Config, "phone"), args)
	// Only those identifiers are grouped, not the anonymous IDs and the
	// rest: the grouping by customer is a third of the statement.
	emailsOrPhones := inList("type", append(identifierTypesBy(&r.proj.Config, "email"), identifierTypesBy(&r.proj.Config, "phone")...), args)
	// known_pos comes from a running count of the known profiles in the
	// same window as pos: one sort of the profiles instead of two.
	stmt := `CREATE TABLE ` + out + ` AS
SELECT customer_id, known, record_count, sources, first_seen, last_seen, name, sort_name, email, phone,
  pos, CASE WHEN known THEN known_before ELSE pos - known_before END AS known_pos, segments
FROM (
  SELECT p.customer_id, p.known, p.record_count, p.sources, p.first_seen, p.last_seen,
    ` + name + ` AS name, lower(` + name + `) AS sort_name, c.email, c.phone,
    ROW_NUMBER() OVER w AS pos, count(CASE WHEN p.known THEN 1 END) OVER w AS known_before,
    ` + segments + ` AS segments
  FROM ` + r.searchSource("profiles") + ` p` + segJoin + ` LEFT JOIN (
    SELECT customer_id, min(CASE WHEN ` + emails + ` THEN value END) AS email, min(CASE WHEN ` + phones + ` THEN value END) AS phone
    FROM ` + r.searchSource("identifiers") + ` WHERE customer_id IS NOT NULL AND (` + emailsOrPhones + `) GROUP BY customer_id
  ) c ON c.customer_id = p.customer_id
  WINDOW w AS (ORDER BY p.last_seen DESC NULLS LAST, p.customer_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
) x
ORDER BY pos`
	return r.eng.Exec(ctx, stmt, args.List...)
}
