package console

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/insights"
)

// Reads of one customer for the profile page that package lookup does not
// answer. Every query filters on customer_id and has a LIMIT, so a page
// costs the same whatever the number of profiles.

const (
	maxProfileRecords = 500  // records read for field alternatives and the keyring
	maxKeyringRows    = 2000 // identifiers read for the keyring
	maxSegmentRows    = 200  // segment memberships, current and past
)

// fieldValue is one record's value of a unified field.
type fieldValue struct {
	Record    string
	Source    string
	UpdatedAt *time.Time
	Value     string
}

// fieldValues returns, per unified field, the values of every record of
// the customer that has one (the winner among them): the alternatives
// that the field's policy weighed. Field names come from knit.yaml and
// are quoted by the dialect.
func (c *Console) fieldValues(ctx context.Context, customerID string) (map[string][]fieldValue, error) {
	fields := c.proj.Config.FieldOrder
	if len(fields) == 0 {
		return nil, nil
	}
	d := c.eng.Dialect()
	cols := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = "CAST(" + d.Quote(f) + " AS " + d.TypeName(engine.Text) + ")"
	}
	out := map[string][]fieldValue{}
	q := fmt.Sprintf(`SELECT record_key, source, updated_at, %s FROM records WHERE customer_id = ? ORDER BY source_rank, record_key LIMIT %d`,
		strings.Join(cols, ", "), maxProfileRecords)
	err := c.each(ctx, q, []any{customerID}, func(rows *sql.Rows) error {
		var key, src string
		var upd sql.NullTime
		vals := make([]sql.NullString, len(fields))
		dest := []any{&key, &src, &upd}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, v := range vals {
			if !v.Valid {
				continue
			}
			fv := fieldValue{Record: key, Source: src, Value: v.String}
			if upd.Valid {
				t := upd.Time
				fv.UpdatedAt = &t
			}
			out[fields[i]] = append(out[fields[i]], fv)
		}
		return nil
	})
	return out, err
}

// keyringSource is the part of a keyring one source contributed: its
// records and the identifiers they carry.
type keyringSource struct {
	Source  string
	Records []keyringRecord
}

type keyringRecord struct {
	Key         string
	Identifiers []keyringIdent
}

type keyringIdent struct {
	Type, Value string
	// Linked is false for a value that was read but did not link (a
	// generic or blocked value).
	Linked bool
}

// keyring groups a customer's identifiers by the source and record that
// carry them, in the project's source order.
func (c *Console) keyring(ctx context.Context, customerID string) ([]keyringSource, error) {
	var out []keyringSource
	q := fmt.Sprintf(`SELECT r.source, r.record_key, ri.type, ri.value, ri.linked
FROM (SELECT record_key, source, source_rank FROM records WHERE customer_id = ? ORDER BY source_rank, record_key LIMIT %d) r
LEFT JOIN (SELECT * FROM record_identifiers WHERE customer_id = ?) ri ON ri.record_key = r.record_key
ORDER BY r.source_rank, r.record_key, ri.type, ri.value LIMIT %d`, maxProfileRecords, maxKeyringRows)
	err := c.each(ctx, q, []any{customerID, customerID}, func(rows *sql.Rows) error {
		var src, key string
		var typ, val sql.NullString
		var linked sql.NullBool
		if err := rows.Scan(&src, &key, &typ, &val, &linked); err != nil {
			return err
		}
		if len(out) == 0 || out[len(out)-1].Source != src {
			out = append(out, keyringSource{Source: src})
		}
		s := &out[len(out)-1]
		if len(s.Records) == 0 || s.Records[len(s.Records)-1].Key != key {
			s.Records = append(s.Records, keyringRecord{Key: key})
		}
		if typ.Valid {
			rec := &s.Records[len(s.Records)-1]
			rec.Identifiers = append(rec.Identifiers, keyringIdent{Type: typ.String, Value: val.String, Linked: linked.Bool})
		}
		return nil
	})
	return out, err
}

// membership is one interval of a customer in a segment.
type membership struct {
	Segment    string
	EnteredRun int64
	EnteredAt  *time.Time
	LeftRun    int64 // 0: still a member
	LeftAt     *time.Time
}

// memberships lists a customer's segment intervals from segment_history,
// current ones first, newest first.
func (c *Console) memberships(ctx context.Context, customerID string) ([]membership, error) {
	if ok, err := c.hasTable(ctx, insights.SegmentHistoryTable); err != nil || !ok {
		return nil, err
	}
	var out []membership
	q := fmt.Sprintf(`SELECT segment, entered_run, entered_at, left_run, left_at FROM segment_history WHERE customer_id = ?
ORDER BY CASE WHEN left_run IS NULL THEN 0 ELSE 1 END, entered_run DESC, segment LIMIT %d`, maxSegmentRows)
	err := c.each(ctx, q, []any{customerID}, func(rows *sql.Rows) error {
		var m membership
		var left sql.NullInt64
		var enteredAt, leftAt sql.NullTime
		if err := rows.Scan(&m.Segment, &m.EnteredRun, &enteredAt, &left, &leftAt); err != nil {
			return err
		}
		m.LeftRun = left.Int64
		m.EnteredAt, m.LeftAt = timePtr(enteredAt), timePtr(leftAt)
		out = append(out, m)
		return nil
	})
	return out, err
}

// knownSince returns when a customer became known (nil: unknown, or no
// activities stage).
func (c *Console) knownSince(ctx context.Context, customerID string) (*time.Time, error) {
	if ok, err := c.hasTable(ctx, insights.KnownSinceTable); err != nil || !ok {
		return nil, err
	}
	var t sql.NullTime
	err := c.each(ctx, `SELECT first_known FROM known_since WHERE customer_id = ? LIMIT 1`, []any{customerID},
		func(rows *sql.Rows) error { return rows.Scan(&t) })
	return timePtr(t), err
}

// activityTypes counts a customer's activities by type, for the filter.
type activityType struct {
	Type  string
	Count int64
}

func (c *Console) activityTypes(ctx context.Context, customerID string) ([]activityType, error) {
	if ok, err := c.hasTable(ctx, insights.ActivitiesTable); err != nil || !ok {
		return nil, err
	}
	var out []activityType
	err := c.each(ctx, `SELECT type, count(*) FROM activities WHERE `+insights.CustomerKeyIs(c.eng.Dialect(), "?")+` GROUP BY type ORDER BY type LIMIT 200`, []any{customerID},
		func(rows *sql.Rows) error {
			var a activityType
			var typ sql.NullString
			err := rows.Scan(&typ, &a.Count)
			a.Type = typ.String
			out = append(out, a)
			return err
		})
	return out, err
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
