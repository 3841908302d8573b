// Package lookup answers questions about the results of the last run:
// which customer a key belongs to, the whole profile, and why its records
// were linked. It reads the engine's tables through parameterised SQL only.
package lookup

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/standardize"
)

// Resolved says which customer a key belongs to and how it was found.
type Resolved struct {
	Key        string `json:"key"`
	CustomerID string `json:"customer_id"`
	// Via is "identifier", "record" or "customer_id"; PreviousID is set
	// when the key was a customer ID that has since been merged.
	Via        string `json:"via"`
	PreviousID string `json:"previous_id,omitempty"`
}

// Resolve finds the customer of a key: type:value, source/pk or a customer
// ID (current or previous).
func Resolve(ctx context.Context, eng engine.Engine, proj *config.Project, key string) (*Resolved, error) {
	k, err := knit.ParseKey(key)
	if err != nil {
		return nil, err
	}
	if err := requireResults(ctx, eng); err != nil {
		return nil, err
	}
	res := &Resolved{Key: key}
	switch {
	case k.Identifier != nil:
		it, ok := proj.Config.Identifiers[k.Identifier.Type]
		if !ok {
			return nil, knit.Errorf(knit.EINVALID, "unknown identifier type %q in %q; the project has: %s",
				k.Identifier.Type, key, strings.Join(proj.Config.IdentOrder, ", "))
		}
		std, err := standardize.For(it.Normalize, it.DefaultRegion)
		if err != nil {
			return nil, err
		}
		v, ok := std(k.Identifier.Value)
		if !ok {
			return nil, knit.Errorf(knit.EINVALID, "%q is not a valid %s value", k.Identifier.Value, k.Identifier.Type)
		}
		id, found, err := scanOne(ctx, eng, `SELECT customer_id FROM identifiers WHERE type = ? AND value = ?`, k.Identifier.Type, v)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, knit.Errorf(knit.ENOTFOUND, "no record carries %s:%s", k.Identifier.Type, v)
		}
		if id == "" {
			return nil, knit.Errorf(knit.ENOTFOUND, "%s:%s is known but belongs to no profile (its source does not include all records, or its links were refused: see knit explain)", k.Identifier.Type, v)
		}
		res.CustomerID, res.Via = id, "identifier"
	case k.Record != nil:
		id, found, err := scanOne(ctx, eng, `SELECT customer_id FROM records WHERE record_key = ?`, k.Record.String())
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, knit.Errorf(knit.ENOTFOUND, "no record %s", k.Record)
		}
		if id == "" {
			return nil, knit.Errorf(knit.ENOTFOUND, "record %s belongs to no profile (its source does not include all records and it matched nothing)", k.Record)
		}
		res.CustomerID, res.Via = id, "record"
	default:
		rows, err := eng.Query(ctx, engine.Rebind(eng.Dialect(), `SELECT status, merged_into FROM customer_ids WHERE customer_id = ?`), k.CustomerID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		if !rows.Next() {
			return nil, knit.Errorf(knit.ENOTFOUND, "no customer %s", k.CustomerID)
		}
		var status string
		var merged sql.NullString
		if err := rows.Scan(&status, &merged); err != nil {
			return nil, err
		}
		switch status {
		case "active":
			res.CustomerID, res.Via = k.CustomerID, "customer_id"
		case "merged":
			res.CustomerID, res.Via, res.PreviousID = merged.String, "customer_id", k.CustomerID
		default:
			return nil, knit.Errorf(knit.ENOTFOUND, "customer %s was retired: none of its records belongs to a profile any more", k.CustomerID)
		}
	}
	return res, nil
}

func requireResults(ctx context.Context, eng engine.Engine) error {
	ok, err := eng.TableExists(ctx, "profiles")
	if err != nil {
		return err
	}
	if !ok {
		return knit.Errorf(knit.ENOTFOUND, "the project has no results yet: run `knit run` first")
	}
	return nil
}

func scanOne(ctx context.Context, eng engine.Engine, q string, args ...any) (string, bool, error) {
	rows, err := eng.Query(ctx, engine.Rebind(eng.Dialect(), q), args...)
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return "", false, rows.Err()
	}
	var s sql.NullString
	if err := rows.Scan(&s); err != nil {
		return "", false, err
	}
	return s.String, true, rows.Err()
}

// Profile is the whole customer.
type Profile struct {
	Resolved    *Resolved    `json:"resolved"`
	CustomerID  string       `json:"customer_id"`
	Known       bool         `json:"known"`
	Anchor      string       `json:"anchor_record"`
	FirstSeen   *time.Time   `json:"first_seen,omitempty"`
	LastSeen    *time.Time   `json:"last_seen,omitempty"`
	Fields      []Field      `json:"fields"`
	Records     []Record     `json:"records"`
	Identifiers []Identifier `json:"identifiers"`
	PreviousIDs []PreviousID `json:"previous_ids"`
	Measures    []Measure    `json:"measures,omitempty"` // customer measures: see measures.go
}

// Field is a unified field with its lineage.
type Field struct {
	Name         string `json:"name"`
	Value        string `json:"value"`
	Record       string `json:"record"`
	Policy       string `json:"policy"`
	Alternatives int64  `json:"alternatives"`
}

// Record is one source record of a profile.
type Record struct {
	Key          string     `json:"key"`
	Source       string     `json:"source"`
	Kind         string     `json:"kind"`
	DedupeWinner bool       `json:"dedupe_winner"`
	UpdatedAt    *time.Time `json:"updated_at,omitempty"`
	Rows         int64      `json:"rows"`
}

// Identifier is one key of the keyring.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// PreviousID is a customer ID that now resolves to this profile.
type PreviousID struct {
	ID  string `json:"id"`
	Run int64  `json:"merged_in_run"`
}

// Get returns the profile of a resolved customer.
func Get(ctx context.Context, eng engine.Engine, res *Resolved) (*Profile, error) {
	p := &Profile{Resolved: res, CustomerID: res.CustomerID}
	rows, err := eng.Query(ctx, engine.Rebind(eng.Dialect(), `SELECT known, anchor_record, first_seen, last_seen FROM profiles WHERE customer_id = ?`), res.CustomerID)
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		rows.Close()
		return nil, knit.Errorf(knit.ENOTFOUND, "no profile %s", res.CustomerID)
	}
	var first, last sql.NullTime
	err = rows.Scan(&p.Known, &p.Anchor, &first, &last)
	rows.Close()
	if err != nil {
		return nil, err
	}
	if first.Valid {
		p.FirstSeen = &first.Time
	}
	if last.Valid {
		p.LastSeen = &last.Time
	}
	err = each(ctx, eng, `SELECT field, value, record_key, policy, alternatives FROM field_lineage WHERE customer_id = ? ORDER BY field`,
		[]any{res.CustomerID}, func(rows *sql.Rows) error {
			var f Field
			err := rows.Scan(&f.Name, &f.Value, &f.Record, &f.Policy, &f.Alternatives)
			p.Fields = append(p.Fields, f)
			return err
		})
	if err != nil {
		return nil, err
	}
	err = each(ctx, eng, `SELECT record_key, source, kind, dedupe_winner, updated_at, row_count FROM records WHERE customer_id = ? ORDER BY source_rank, record_key`,
		[]any{res.CustomerID}, func(rows *sql.Rows) error {
			var r Record
			var upd sql.NullTime
			err := rows.Scan(&r.Key, &r.Source, &r.Kind, &r.DedupeWinner, &upd, &r.Rows)
			if upd.Valid {
				r.UpdatedAt = &upd.Time
			}
			p.Records = append(p.Records, r)
			return err
		})
	if err != nil {
		return nil, err
	}
	err = each(ctx, eng, `SELECT type, value FROM identifiers WHERE customer_id = ? ORDER BY type, value`,
		[]any{res.CustomerID}, func(rows *sql.Rows) error {
			var id Identifier
			err := rows.Scan(&id.Type, &id.Value)
			p.Identifiers = append(p.Identifiers, id)
			return err
		})
	if err != nil {
		return nil, err
	}
	err = each(ctx, eng, `SELECT customer_id, changed_run FROM customer_ids WHERE merged_into = ? ORDER BY changed_run, customer_id`,
		[]any{res.CustomerID}, func(rows *sql.Rows) error {
			var prev PreviousID
			err := rows.Scan(&prev.ID, &prev.Run)
			p.PreviousIDs = append(p.PreviousIDs, prev)
			return err
		})
	if err != nil {
		return nil, err
	}
	p.Measures, err = measures(ctx, eng, res.CustomerID)
	return p, err
}

func each(ctx context.Context, eng engine.Engine, q string, args []any, f func(*sql.Rows) error) error {
	rows, err := eng.Query(ctx, engine.Rebind(eng.Dialect(), q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return fmt.Errorf("lookup: %w", err)
		}
	}
	return rows.Err()
}

// Link is one decision that shaped a profile.
type Link struct {
	Kind        string `json:"kind"`
	Rule        string `json:"rule,omitempty"`
	A           string `json:"a"`
	B           string `json:"b"`
	Evidence    string `json:"evidence,omitempty"`
	Occurrences int64  `json:"occurrences"`
	Accepted    bool   `json:"accepted"`
	Reason      string `json:"reason,omitempty"`
}

// Explanation is how a profile was built.
type Explanation struct {
	Profile *Profile `json:"profile"`
	// Identifiers shows which record carries which identifier: each
	// shared identifier is a link between the records that carry it.
	Carried  []Carried `json:"carried"`
	Accepted []Link    `json:"links"`
	Refused  []Link    `json:"refused"`
}

// Carried says a record carries an identifier.
type Carried struct {
	Record string `json:"record"`
	Type   string `json:"type"`
	Value  string `json:"value"`
	Raw    string `json:"raw"`
}

// NodeLinks returns every decision that touched one record or identifier,
// for keys that belong to no profile: it says why (a generic value, a
// blocked value, a refused link, or simply no match).
func NodeLinks(ctx context.Context, eng engine.Engine, proj *config.Project, key string) (string, []Link, error) {
	k, err := knit.ParseKey(key)
	if err != nil {
		return "", nil, err
	}
	var name string
	switch {
	case k.Record != nil:
		name = k.Record.String()
	case k.Identifier != nil:
		it, ok := proj.Config.Identifiers[k.Identifier.Type]
		if !ok {
			return "", nil, knit.Errorf(knit.EINVALID, "unknown identifier type %q", k.Identifier.Type)
		}
		std, err := standardize.For(it.Normalize, it.DefaultRegion)
		if err != nil {
			return "", nil, err
		}
		v, _ := std(k.Identifier.Value)
		name = k.Identifier.Type + ":" + v
	default:
		return "", nil, knit.Errorf(knit.EINVALID, "give a record key or an identifier")
	}
	var links []Link
	err = each(ctx, eng, `SELECT kind, rule, a, b, evidence, occurrences, accepted, reason FROM links
WHERE a = ? OR b = ? ORDER BY accepted DESC, kind, rule, a, b`, []any{name, name}, func(rows *sql.Rows) error {
		var l Link
		var rule, ev, reason sql.NullString
		err := rows.Scan(&l.Kind, &rule, &l.A, &l.B, &ev, &l.Occurrences, &l.Accepted, &reason)
		l.Rule, l.Evidence, l.Reason = rule.String, ev.String, reason.String
		links = append(links, l)
		return err
	})
	return name, links, err
}

// Explain returns the links that built a profile and those refused.
func Explain(ctx context.Context, eng engine.Engine, res *Resolved) (*Explanation, error) {
	p, err := Get(ctx, eng, res)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Profile: p}
	err = each(ctx, eng, `SELECT record_key, type, value, raw FROM record_identifiers
WHERE customer_id = ? AND linked ORDER BY type, value, record_key`,
		[]any{res.CustomerID}, func(rows *sql.Rows) error {
			var c Carried
			err := rows.Scan(&c.Record, &c.Type, &c.Value, &c.Raw)
			ex.Carried = append(ex.Carried, c)
			return err
		})
	if err != nil {
		return nil, err
	}
	err = each(ctx, eng, `SELECT kind, rule, a, b, evidence, occurrences, accepted, reason FROM links
WHERE customer_a = ? OR customer_b = ? ORDER BY accepted DESC, kind, rule, a, b`,
		[]any{res.CustomerID, res.CustomerID}, func(rows *sql.Rows) error {
			var l Link
			var rule, ev, reason sql.NullString
			err := rows.Scan(&l.Kind, &rule, &l.A, &l.B, &ev, &l.Occurrences, &l.Accepted, &reason)
			l.Rule, l.Evidence, l.Reason = rule.String, ev.String, reason.String
			if l.Accepted {
				ex.Accepted = append(ex.Accepted, l)
			} else {
				ex.Refused = append(ex.Refused, l)
			}
			return err
		})
	return ex, err
}
