package lookup

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/standardize"
)

// SearchQuery asks for a page of customers.
type SearchQuery struct {
	// Text is a name, an email, a phone, a customer ID, a record key
	// (source/pk) or a type:value key; empty lists every customer.
	Text string
	// Known is "", "known" or "unknown".
	Known string
	// Segment restricts the results to one segment's members.
	Segment string
	// Sort is "", "last_seen", "first_seen", "records" or "name"; a
	// leading "-" sorts descending. "" ranks text matches by quality
	// (exact, then prefix, then one typo away), then newest first.
	Sort          string
	Limit, Offset int
}

// SearchHit is one customer in a result page.
type SearchHit struct {
	CustomerID string `json:"customer_id"`
	Known      bool   `json:"known"`
	// Name is the unified display name (first and last name fields when
	// the project has them); Email and Phone are one identifier of each.
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Records  int64  `json:"records"`
	Sources  string `json:"sources"`
	LastSeen string `json:"last_seen,omitempty"`
	// Matched says what the text matched ("email:jane@example.com",
	// "name:jane", "customer_id", "previous_id:…", "record:loyalty/707").
	Matched string `json:"matched,omitempty"`
	// Match is the match quality: "exact", "prefix" or "typo".
	Match string `json:"match,omitempty"`
}

// SearchResult is a page of hits and the total number of matches.
type SearchResult struct {
	Hits  []SearchHit `json:"hits"`
	Total int64       `json:"total"`
}

// Limits on a search: longer text is refused rather than truncated, so
// what is searched is always what was typed.
const (
	MaxSearchText  = 200 // characters
	MaxSearchLimit = 200 // hits per page
	maxSearchWords = 8
	minTypoLength  = 4  // shorter words match too much at one edit
	maxTypoLength  = 64 // longer values are keys, pasted rather than typed
)

// Search finds customers by the search index the pipeline writes
// (search_terms, search_profiles: see pipeline/search.go). The text is
// read two ways at once: as one value (an identifier, a phone in any
// format, a single name) matched against every term, and as words that
// must each match a name token of the same customer ("jane doe"). Each
// comparison is exact, a prefix, or one edit away (a deletion, insertion,
// substitution or swap of two neighbours), for words of four characters or
// more; a customer ranks by its best reading, then by recency. A
// customer ID (current or previous), a record key and a type:value key
// are matched exactly as well.
func Search(ctx context.Context, eng engine.Engine, proj *config.Project, q SearchQuery) (*SearchResult, error) {
	if err := checkSearch(ctx, eng, proj, &q); err != nil {
		return nil, err
	}
	filters, fargs := searchFilters(q)
	order, err := searchOrder(q.Sort, q.Text != "")
	if err != nil {
		return nil, err
	}
	if q.Text == "" {
		return listProfiles(ctx, eng, filters, fargs, order, q)
	}
	plan, err := parseSearch(proj, q.Text)
	if err != nil {
		return nil, err
	}
	cte, args := plan.sql()
	// The hits carry their profile's position and the columns filters and
	// sorts use (see pipeline/search.go); a sort by name, or a tie broken
	// by customer ID, joins the profiles for those.
	from := " FROM cand c JOIN best s ON s.pos = c.pos AND s.rn = 1"
	order = textOrder(q.Sort)
	if strings.Contains(order, "p.") {
		from += " JOIN search_profiles p ON p.pos = c.pos"
	}
	res := &SearchResult{}
	var pos []int64
	page := append(append(append([]any{}, args...), fargs...), q.Limit, q.Offset)
	err = each(ctx, eng, cte+`
SELECT s.pos, s.known, s.record_count, CAST(s.last_seen AS VARCHAR),
  c.score, s.kind, s.label, s.term, s.value, count(*) OVER () AS total`+from+filters+`
ORDER BY `+order+` LIMIT ? OFFSET ?`, page, func(rows *sql.Rows) error {
		var h SearchHit
		var p int64
		var last, label, term, value sql.NullString
		var kind string
		var score int
		if err := rows.Scan(&p, &h.Known, &h.Records, &last, &score, &kind, &label, &term, &value, &res.Total); err != nil {
			return err
		}
		h.LastSeen = last.String
		h.Matched, h.Match = matched(kind, label.String, term.String, value.String), quality(score)
		res.Hits = append(res.Hits, h)
		pos = append(pos, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(res.Hits) == 0 && q.Offset > 0 {
		// Past the last page the window total is not computed: count.
		err = each(ctx, eng, cte+" SELECT count(*)"+from+filters, append(append([]any{}, args...), fargs...),
			func(rows *sql.Rows) error { return rows.Scan(&res.Total) })
	}
	if err != nil {
		return nil, err
	}
	return res, showHits(ctx, eng, res.Hits, pos)
}

// textOrder is the ORDER BY of a text search, s being the hit (with the
// columns search_terms copies) and p the profile, joined only when the
// order names it. Profiles are numbered by last seen, newest first, then
// customer ID: in that order, the position is the whole sort key.
func textOrder(sort string) string {
	switch sort {
	case "":
		return "c.score DESC, s.pos"
	case "-last_seen":
		return "s.pos"
	}
	col := map[string]string{"last_seen": "s.last_seen", "first_seen": "s.first_seen", "records": "s.record_count", "name": "p.sort_name"}[strings.TrimPrefix(sort, "-")]
	if strings.HasPrefix(sort, "-") {
		col += " DESC"
	}
	return col + " NULLS LAST, p.customer_id"
}

// posRun is how far apart two positions of a page may be and still be
// read by one range scan of search_profiles: farther apart, a scan of its
// own (DuckDB skips the row groups between; a range of positions costs
// about as much as the rows it spans, a scan of its own a millisecond).
const posRun = 8192

// showHits fills in the columns a page only shows, read from
// search_profiles for the page's positions (pos[i] is hits[i]'s): a range
// per run of nearby positions, because DuckDB skips row groups by a range
// but reads every row to test a list of positions alone.
func showHits(ctx context.Context, eng engine.Engine, hits []SearchHit, pos []int64) error {
	if len(pos) == 0 {
		return nil
	}
	sorted := slices.Clone(pos)
	slices.Sort(sorted)
	var parts []string
	var args []any
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1]-sorted[j] <= posRun {
			j++
		}
		parts = append(parts, "SELECT pos, customer_id, name, email, phone, sources FROM search_profiles WHERE pos >= ? AND pos <= ? AND pos IN ("+
			strings.TrimSuffix(strings.Repeat("?, ", j+1-i), ", ")+")")
		args = append(args, sorted[i], sorted[j])
		for _, p := range sorted[i : j+1] {
			args = append(args, p)
		}
		i = j + 1
	}
	at := make(map[int64]int, len(pos))
	for i, p := range pos {
		at[p] = i
	}
	found := 0
	err := each(ctx, eng, strings.Join(parts, " UNION ALL "), args, func(rows *sql.Rows) error {
		var p int64
		var id string
		var name, email, phone, sources sql.NullString
		if err := rows.Scan(&p, &id, &name, &email, &phone, &sources); err != nil {
			return err
		}
		h := &hits[at[p]]
		h.CustomerID, h.Name, h.Email, h.Phone, h.Sources = id, name.String, email.String, phone.String, sources.String
		found++
		return nil
	})
	if err == nil && found != len(pos) {
		err = knit.Errorf(knit.EINTERNAL, "search: %d of %d hits have no row in search_profiles, so the search index is out of step with itself: run `knit run --only search` to rebuild it", len(pos)-found, len(pos))
	}
	return err
}

// checkSearch validates a query and that the index exists.
func checkSearch(ctx context.Context, eng engine.Engine, proj *config.Project, q *SearchQuery) error {
	q.Text = strings.TrimSpace(q.Text)
	if n := utf8.RuneCountInString(q.Text); n > MaxSearchText {
		return knit.Errorf(knit.EINVALID, "search text is %d characters long; at most %d are allowed", n, MaxSearchText)
	}
	if !utf8.ValidString(q.Text) {
		return knit.Errorf(knit.EINVALID, "search text is not valid UTF-8")
	}
	switch {
	case q.Limit == 0:
		q.Limit = 50
	case q.Limit < 0 || q.Limit > MaxSearchLimit:
		return knit.Errorf(knit.EINVALID, "page size %d: use 1 to %d", q.Limit, MaxSearchLimit)
	}
	if q.Offset < 0 {
		return knit.Errorf(knit.EINVALID, "page offset %d: must not be negative", q.Offset)
	}
	if q.Known != "" && q.Known != "known" && q.Known != "unknown" {
		return knit.Errorf(knit.EINVALID, "known filter %q: use known or unknown", q.Known)
	}
	if q.Segment != "" {
		if _, ok := proj.Config.Segments[q.Segment]; !ok {
			names := make([]string, 0, len(proj.Config.Segments))
			for n := range proj.Config.Segments {
				names = append(names, n)
			}
			slices.Sort(names)
			return knit.Errorf(knit.EINVALID, "unknown segment %q; the project has: %s", q.Segment, strings.Join(names, ", "))
		}
	}
	if err := requireResults(ctx, eng); err != nil {
		return err
	}
	ok, err := eng.TableExists(ctx, "search_profiles")
	if err != nil {
		return err
	}
	if !ok {
		return knit.Errorf(knit.ENOTFOUND, "the project's results have no search index yet (they predate it): run `knit run --only search` to build it")
	}
	return nil
}

// listProfiles pages through profiles when there is no text. In the
// default order, without a segment, a page is a range of the positions
// the pipeline numbered the profiles with (see pipeline/search.go).
func listProfiles(ctx context.Context, eng engine.Engine, filters string, args []any, order string, q SearchQuery) (*SearchResult, error) {
	res := &SearchResult{}
	err := each(ctx, eng, "SELECT count(*) FROM search_profiles s"+filters, args, func(rows *sql.Rows) error { return rows.Scan(&res.Total) })
	if err != nil {
		return nil, err
	}
	page := append(append([]any{}, args...), q.Limit, q.Offset)
	tail := " ORDER BY " + order + ", s.customer_id LIMIT ? OFFSET ?"
	if (q.Sort == "" || q.Sort == "-last_seen") && q.Segment == "" {
		pos := "s.pos"
		if q.Known != "" {
			pos = "s.known_pos"
		}
		cond := " WHERE "
		if filters != "" {
			cond = filters + " AND "
		}
		filters = cond + pos + " > ? AND " + pos + " <= ?"
		tail = " ORDER BY " + pos
		page = append(append([]any{}, args...), q.Offset, q.Offset+q.Limit)
	}
	err = each(ctx, eng, `SELECT s.customer_id, s.known, s.name, s.email, s.phone, s.record_count, s.sources, CAST(s.last_seen AS VARCHAR)
FROM search_profiles s`+filters+tail, page, func(rows *sql.Rows) error {
		var h SearchHit
		var name, email, phone, last sql.NullString
		if err := rows.Scan(&h.CustomerID, &h.Known, &name, &email, &phone, &h.Records, &h.Sources, &last); err != nil {
			return err
		}
		h.Name, h.Email, h.Phone, h.LastSeen = name.String, email.String, phone.String, last.String
		res.Hits = append(res.Hits, h)
		return nil
	})
	return res, err
}

func searchFilters(q SearchQuery) (string, []any) {
	var where []string
	var args []any
	switch q.Known {
	case "known":
		where = append(where, "s.known")
	case "unknown":
		where = append(where, "NOT s.known")
	}
	if q.Segment != "" {
		// segments lists a profile's segments as "|a|b|"; names hold no "|".
		where = append(where, "strpos(s.segments, ?) > 0")
		args = append(args, "|"+q.Segment+"|")
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

func searchOrder(sort string, ranked bool) (string, error) {
	key := strings.TrimPrefix(sort, "-")
	col := map[string]string{"": "s.last_seen", "last_seen": "s.last_seen", "first_seen": "s.first_seen",
		"records": "s.record_count", "name": "s.sort_name"}[key]
	if col == "" {
		return "", knit.Errorf(knit.EINVALID, "sort %q: use last_seen, first_seen, records or name, with - for descending", sort)
	}
	switch {
	case sort == "" && ranked:
		return "c.score DESC, s.last_seen DESC NULLS LAST", nil
	case sort == "" || strings.HasPrefix(sort, "-"):
		return col + " DESC NULLS LAST", nil
	}
	return col + " NULLS LAST", nil
}

func quality(score int) string {
	switch {
	case score >= 3:
		return "exact"
	case score == 2:
		return "prefix"
	}
	return "typo"
}

func matched(kind, label, term, value string) string {
	switch kind {
	case "name":
		return "name:" + term
	case "id":
		return label + ":" + value
	case "customer_id":
		return "customer_id"
	}
	return kind + ":" + value
}

// Scores of a hit: a key matched exactly outranks every text match.
const (
	scoreKey    = 4
	scoreExact  = 3
	scorePrefix = 2
	scoreTypo   = 1
)

// searchWord is one word of a reading with the terms it may match.
type searchWord struct {
	exact  []string // whole terms (each is also a prefix)
	prefix []string // term prefixes
	typos  []string // terms one edit away
}

// searchReading is one way of reading the text: every word must match a
// term of the customer, within kind and label when they are set.
type searchReading struct {
	kind, label string
	words       []searchWord
}

// searchPlan is what a text searches for.
type searchPlan struct {
	keys     []keyLookup // exact customer ID, previous ID or record key
	readings []searchReading
	// emails are the email identifier types: besides names, the only
	// terms a typo may reach (nobody types an anonymous ID by hand).
	emails []string
}

type keyLookup struct{ query, arg string }

var (
	uuidShape = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	typedKey  = regexp.MustCompile(`^([a-z_][a-z0-9_]*):(\S.*)$`)
	phoneLike = regexp.MustCompile(`^\+?[0-9 ().\-]+$`)
)

// parseSearch turns text into a plan. Control characters are word breaks.
func parseSearch(proj *config.Project, text string) (*searchPlan, error) {
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	text = strings.TrimSpace(text)
	cfg := &proj.Config
	plan := &searchPlan{}
	for _, name := range cfg.IdentOrder {
		if strings.EqualFold(cfg.Identifiers[name].Normalize, "email") {
			plan.emails = append(plan.emails, name)
		}
	}
	if m := typedKey.FindStringSubmatch(text); m != nil {
		if it, ok := cfg.Identifiers[m[1]]; ok {
			w, err := identifierWord(it, m[2])
			if err != nil {
				return nil, err
			}
			plan.readings = append(plan.readings, searchReading{kind: "id", label: m[1], words: []searchWord{w}})
			return plan, nil
		}
		if !strings.Contains(m[2], "/") { // not a URL
			return nil, knit.Errorf(knit.EINVALID, "unknown identifier type %q in %q; the project has: %s",
				m[1], text, strings.Join(cfg.IdentOrder, ", "))
		}
	}
	if uuidShape.MatchString(text) {
		id := strings.ToLower(text)
		plan.keys = append(plan.keys,
			keyLookup{`SELECT customer_id, 'customer_id' AS kind, CAST(NULL AS VARCHAR) AS label, customer_id AS term, customer_id AS value FROM search_profiles WHERE customer_id = ?`, id},
			keyLookup{`SELECT merged_into AS customer_id, 'previous_id' AS kind, CAST(NULL AS VARCHAR) AS label, customer_id AS term, customer_id AS value FROM customer_ids WHERE customer_id = ? AND status = 'merged'`, id})
	}
	if src, pk, ok := strings.Cut(text, "/"); ok && pk != "" {
		if _, known := cfg.Sources[src]; known {
			plan.keys = append(plan.keys, keyLookup{`SELECT customer_id, 'record' AS kind, source AS label, record_key AS term, record_key AS value FROM records WHERE record_key = ? AND customer_id IS NOT NULL`, text})
		}
	}
	// The whole text as one value, against every term. Typos are looked
	// for in what people type by hand: names and emails, not numbers and
	// keys (phones, IDs), which are pasted or read out digit by digit.
	whole := strings.ToLower(text)
	w := searchWord{exact: []string{whole}, prefix: []string{whole}}
	email := strings.Contains(whole, "@")
	if !strings.ContainsFunc(whole, unicode.IsSpace) && (email || !strings.ContainsFunc(whole, unicode.IsDigit)) {
		w.typos = typos(whole)
	}
	if phoneLike.MatchString(text) {
		addPhoneForms(cfg, text, &w)
	}
	plan.readings = append(plan.readings, searchReading{words: []searchWord{w}})
	// Its words as name tokens, unless it is an email or holds digits
	// (a key or a phone: its pieces are not names).
	folded, ok := standardize.Text(text)
	if !ok || email || strings.ContainsFunc(folded, unicode.IsDigit) {
		return plan, nil
	}
	words := strings.Fields(folded)
	if len(words) > maxSearchWords {
		return nil, knit.Errorf(knit.EINVALID, "search text has %d words; at most %d are allowed", len(words), maxSearchWords)
	}
	if len(words) > 1 || words[0] != whole {
		r := searchReading{kind: "name"}
		for _, x := range words {
			r.words = append(r.words, searchWord{exact: []string{x}, prefix: []string{x}, typos: typos(x)})
		}
		plan.readings = append(plan.readings, r)
	}
	return plan, nil
}

// identifierWord is the word of a type:value search: the standardised value
// (exact, prefix and typos) and, while the value is still being typed and
// does not standardise yet, its lower-cased text as a prefix.
func identifierWord(it *config.Identifier, value string) (searchWord, error) {
	raw := strings.ToLower(strings.TrimSpace(value))
	w := searchWord{prefix: []string{raw}}
	std, err := standardize.For(it.Normalize, it.DefaultRegion)
	if err != nil {
		return w, err
	}
	if strings.EqualFold(it.Normalize, "phone") {
		w.prefix = phonePrefixes(it.DefaultRegion, value)
	}
	if v, ok := std(value); ok {
		v = searchTerm(it, v)
		w.exact = append(w.exact, v)
		w.prefix = appendNew(w.prefix, v)
		w.typos = typos(v)
	}
	return w, nil
}

// searchTerm is how the pipeline stores an identifier value as a term.
func searchTerm(it *config.Identifier, v string) string {
	if strings.EqualFold(it.Normalize, "phone") {
		return strings.TrimPrefix(v, "+")
	}
	return strings.ToLower(v)
}

// addPhoneForms lets a phone typed in any format find the stored number:
// the number standardised by each phone type, and its digits as a prefix,
// with the default region's calling code when no "+" was typed.
func addPhoneForms(cfg *config.Config, text string, w *searchWord) {
	for _, name := range cfg.IdentOrder {
		it := cfg.Identifiers[name]
		if !strings.EqualFold(it.Normalize, "phone") {
			continue
		}
		if std, err := standardize.For("phone", it.DefaultRegion); err == nil {
			if v, ok := std(text); ok {
				w.exact = appendNew(w.exact, searchTerm(it, v))
				w.prefix = appendNew(w.prefix, searchTerm(it, v))
			}
		}
		for _, p := range phonePrefixes(it.DefaultRegion, text) {
			w.prefix = appendNew(w.prefix, p)
		}
	}
}

func phonePrefixes(region, text string) []string {
	digits, ok := standardize.Digits(text)
	if !ok || len(digits) < 3 {
		return nil
	}
	out := []string{digits}
	if cc := standardize.PhoneCountryCode(region); cc != "" && !strings.HasPrefix(strings.TrimSpace(text), "+") && !strings.HasPrefix(digits, cc) {
		out = append(out, cc+digits)
	}
	return out
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// typoAlphabet is what a substitution or insertion may put in: the
// characters of folded names and of normalised identifiers.
const typoAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789@.-_"

// typos returns the strings one edit (Damerau: deletion, insertion,
// substitution, transposition of neighbours) away from w that keep its
// first character: a few hundred for a name, about 1,300 for an email.
// People rarely mistype the first letter, and keeping it lets the lookup
// read only the terms that start with it. Words too short to tell apart at
// one edit, too long to be typed, or not ASCII get none.
func typos(w string) []string {
	n := len(w)
	if n < minTypoLength || n > maxTypoLength {
		return nil
	}
	for i := 0; i < n; i++ {
		if w[i] >= utf8.RuneSelf {
			return nil
		}
	}
	seen := make(map[string]bool, n*(2*len(typoAlphabet)+2))
	add := func(s string) {
		if s != w {
			seen[s] = true
		}
	}
	for i := 1; i < n; i++ {
		add(w[:i] + w[i+1:])
		if i+1 < n {
			add(w[:i] + string(w[i+1]) + string(w[i]) + w[i+2:])
		}
		for j := 0; j < len(typoAlphabet); j++ {
			add(w[:i] + string(typoAlphabet[j]) + w[i+1:])
		}
	}
	for i := 1; i <= n; i++ {
		for j := 0; j < len(typoAlphabet); j++ {
			add(w[:i] + string(typoAlphabet[j]) + w[i:])
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out) // the same query text for the same search
	return out
}

// prefixMatch returns the condition and argument matching terms that
// start with p. A plain LIKE 'p%' is what both engines turn into a range
// (DuckDB's zone maps, PostgreSQL's pattern index); an ESCAPE clause
// makes DuckDB test every row, so it is used only when p holds a wildcard.
func prefixMatch(p string) (string, string) {
	if !strings.ContainsAny(p, `%_\`) {
		return "t.term LIKE ?", p + "%"
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return `t.term LIKE ? ESCAPE '\'`, r.Replace(p) + "%"
}

// profileColumns are the search_profiles columns every hit carries (the
// search_terms table repeats them), after pos.
const profileColumns = "known, record_count, first_seen, last_seen, segments"

func qualified(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + "." + c
	}
	return strings.Join(parts, ", ")
}

// sql renders the plan as common table expressions ending in cand
// (pos, score) and best (the customer's best hit, rn = 1, with the
// profile's columns search_terms copies), a customer being named by its
// position in search_profiles.
func (p *searchPlan) sql() (string, []any) {
	var hits []string
	var args []any
	ph := func(vals []string) string {
		for _, v := range vals {
			args = append(args, v)
		}
		return strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")
	}
	var need strings.Builder
	need.WriteString("CASE grp")
	for _, k := range p.keys {
		hits = append(hits, fmt.Sprintf("SELECT s.pos, k.kind, k.label, k.term, k.value, 0 AS grp, 0 AS tok, %d AS quality, %s FROM (%s) k JOIN search_profiles s ON s.customer_id = k.customer_id",
			scoreKey, qualified("s", profileColumns), k.query))
		args = append(args, k.arg)
	}
	for g, r := range p.readings {
		g++ // group 0 is the keys
		fmt.Fprintf(&need, " WHEN %d THEN %d", g, len(r.words))
		for i, w := range r.words {
			cols := fmt.Sprintf("t.pos, t.kind, t.label, t.term, t.value, %d AS grp, %d AS tok", g, i)
			restrict := func() string {
				cond := ""
				if r.kind != "" {
					cond += " AND t.kind = ?"
					args = append(args, r.kind)
				}
				if r.label != "" {
					cond += " AND t.label = ?"
					args = append(args, r.label)
				}
				return cond
			}
			for _, pre := range w.prefix {
				exact := "1 = 0"
				if len(w.exact) > 0 {
					exact = "t.term IN (" + ph(w.exact) + ")"
				}
				cond, arg := prefixMatch(pre)
				args = append(args, arg)
				hits = append(hits, fmt.Sprintf("SELECT %s, CASE WHEN %s THEN %d ELSE %d END AS quality, %s FROM search_terms t WHERE %s%s",
					cols, exact, scoreExact, scorePrefix, qualified("t", profileColumns), cond, restrict()))
			}
			if len(w.typos) > 0 {
				// Every typo keeps the first character: the range, with
				// the kind and label, lets DuckDB read only the row groups
				// of names (and of emails) that start with it.
				scopes := [][2]string{{r.kind, r.label}}
				if r.kind == "" && r.label == "" {
					scopes = [][2]string{{"name", ""}}
					for _, e := range p.emails {
						scopes = append(scopes, [2]string{"id", e})
					}
				}
				for _, sc := range scopes {
					cond := "t.term IN (" + ph(w.typos) + ") AND t.term >= ? AND t.term < ?"
					args = append(args, w.typos[0][:1], string(w.typos[0][0]+1))
					if sc[0] != "" {
						cond += " AND t.kind = ?"
						args = append(args, sc[0])
					}
					if sc[1] != "" {
						cond += " AND t.label = ?"
						args = append(args, sc[1])
					}
					hits = append(hits, fmt.Sprintf("SELECT %s, %d AS quality, %s FROM search_terms t WHERE %s",
						cols, scoreTypo, qualified("t", profileColumns), cond))
				}
			}
		}
	}
	need.WriteString(" ELSE 1 END")
	cte := `WITH hits AS (
` + strings.Join(hits, "\nUNION ALL ") + `
), tok AS (
  SELECT pos, grp, tok, max(quality) AS q FROM hits GROUP BY pos, grp, tok
), grp AS (
  SELECT pos, grp, min(q) AS score FROM tok GROUP BY pos, grp HAVING count(*) = ` + need.String() + `
), cand AS (
  SELECT pos, max(score) AS score FROM grp GROUP BY pos
), best AS (
  SELECT h.*, ROW_NUMBER() OVER (PARTITION BY h.pos ORDER BY g.score DESC, h.grp, h.quality DESC, h.kind, h.label, h.term) AS rn
  FROM hits h JOIN grp g ON g.pos = h.pos AND g.grp = h.grp
)`
	return cte, args
}
