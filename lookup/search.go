package lookup

import (
	"context"
	"database/sql"
	"strings"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
)

// SearchQuery asks for a page of customers.
type SearchQuery struct {
	// Text is a name, an email, a phone, a customer ID or a type:value
	// key; empty lists every customer.
	Text string
	// Known is "", "known" or "unknown".
	Known string
	// Segment restricts the results to one segment's members.
	Segment string
	// Sort is "", "last_seen", "first_seen", "records" or "name"; a
	// leading "-" sorts descending.
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
	// Matched says what the text matched ("email:jane@…", "name").
	Matched string `json:"matched,omitempty"`
}

// SearchResult is a page of hits and the total number of matches.
type SearchResult struct {
	Hits  []SearchHit `json:"hits"`
	Total int64       `json:"total"`
}

// Search finds customers. This first version matches identifier values
// by prefix and customer IDs exactly; ranking, typo tolerance and names
// follow in the search index.
func Search(ctx context.Context, eng engine.Engine, proj *config.Project, q SearchQuery) (*SearchResult, error) {
	if err := requireResults(ctx, eng); err != nil {
		return nil, err
	}
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	if q.Known != "" && q.Known != "known" && q.Known != "unknown" {
		return nil, knit.Errorf(knit.EINVALID, "known filter %q: use known or unknown", q.Known)
	}
	var where []string
	var args []any
	if t := strings.TrimSpace(q.Text); t != "" {
		where = append(where, `(p.customer_id = ? OR p.customer_id IN (SELECT customer_id FROM identifiers WHERE lower(value) LIKE ? ESCAPE '\'))`)
		args = append(args, t, likePrefix(strings.ToLower(valueOf(t))))
	}
	switch q.Known {
	case "known":
		where = append(where, "p.known")
	case "unknown":
		where = append(where, "NOT p.known")
	}
	if q.Segment != "" {
		where = append(where, "p.customer_id IN (SELECT customer_id FROM segment_members WHERE segment = ?)")
		args = append(args, q.Segment)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	order, err := searchOrder(q.Sort)
	if err != nil {
		return nil, err
	}
	res := &SearchResult{}
	err = each(ctx, eng, "SELECT count(*) FROM profiles p"+cond, args, func(rows *sql.Rows) error { return rows.Scan(&res.Total) })
	if err != nil {
		return nil, err
	}
	page := append(append([]any{}, args...), q.Limit, q.Offset)
	err = each(ctx, eng, "SELECT p.customer_id, p.known, p.record_count, p.sources, CAST(p.last_seen AS VARCHAR) FROM profiles p"+cond+
		" ORDER BY "+order+", p.customer_id LIMIT ? OFFSET ?", page, func(rows *sql.Rows) error {
		var h SearchHit
		var last sql.NullString
		if err := rows.Scan(&h.CustomerID, &h.Known, &h.Records, &h.Sources, &last); err != nil {
			return err
		}
		h.LastSeen = last.String
		res.Hits = append(res.Hits, h)
		return nil
	})
	return res, err
}

// valueOf strips a type: prefix so "email:jane@" searches values.
func valueOf(t string) string {
	if i := strings.IndexByte(t, ':'); i > 0 && !strings.Contains(t[:i], " ") {
		return t[i+1:]
	}
	return t
}

func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

func searchOrder(sort string) (string, error) {
	desc := strings.HasPrefix(sort, "-")
	col := map[string]string{"": "p.last_seen", "last_seen": "p.last_seen", "first_seen": "p.first_seen", "records": "p.record_count"}[strings.TrimPrefix(sort, "-")]
	if col == "" {
		return "", knit.Errorf(knit.EINVALID, "sort %q: use last_seen, first_seen or records, with - for descending", sort)
	}
	if desc || sort == "" {
		return col + " DESC NULLS LAST", nil
	}
	return col + " NULLS LAST", nil
}
