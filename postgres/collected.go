package postgres

import (
	"context"
	"fmt"

	"github.com/knit-cdp/knit"
)

// CollectedTable holds the events knit serve collected, one row per
// message, for batch runs in any process: a source with table:
// collected_events and json: message reads it as the NDJSON file of a
// DuckDB project is read. messageId is its primary key, so a message is
// stored once however often it is mirrored.
const CollectedTable = "collected_events"

// collectedPositions records, per event log (host and folder of a knit
// serve), how many of its records the table holds.
const collectedPositions = "collected_positions"

// CollectedPosition creates the collected events tables if needed and
// returns how many records of the event log logID they hold.
func (d *DB) CollectedPosition(ctx context.Context, logID string) (uint64, error) {
	for _, s := range []string{
		`CREATE TABLE IF NOT EXISTS ` + quote(CollectedTable) + ` ("messageId" TEXT PRIMARY KEY, message JSONB NOT NULL, log TEXT NOT NULL, seq BIGINT NOT NULL, stored_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		`CREATE TABLE IF NOT EXISTS ` + quote(collectedPositions) + ` (log TEXT PRIMARY KEY, position BIGINT NOT NULL)`,
	} {
		if err := d.Exec(ctx, s); err != nil {
			return 0, err
		}
	}
	var pos int64
	err := d.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM `+quote(collectedPositions)+` WHERE log = $1`, logID).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("postgres: collected position: %w", err)
	}
	return uint64(pos), nil
}

// AppendCollected stores the messages of the log's records from..to-1
// and moves the log's position to `to`, in one transaction. The position
// row is locked first, so two servers on one log (a mistake) cannot store
// a range twice, and a range that does not start at the position is
// refused rather than leaving a gap.
func (d *DB) AppendCollected(ctx context.Context, logID string, from, to uint64, messages [][]byte) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: collected events: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+quote(collectedPositions)+` (log, position) VALUES ($1, 0) ON CONFLICT (log) DO NOTHING`, logID); err != nil {
		return fmt.Errorf("postgres: collected events: %w", err)
	}
	var pos int64
	if err := tx.QueryRowContext(ctx, `SELECT position FROM `+quote(collectedPositions)+` WHERE log = $1 FOR UPDATE`, logID).Scan(&pos); err != nil {
		return fmt.Errorf("postgres: collected events: %w", err)
	}
	if uint64(pos) != from {
		return knit.Errorf(knit.ECONFLICT, "collected events: the table holds %d records of event log %s, not %d; is another knit serve using this log?", pos, logID, from)
	}
	if len(messages) > 0 {
		texts := make([]string, len(messages))
		for i, m := range messages {
			texts[i] = string(m)
		}
		// One statement for the batch; seq orders one log's messages.
		_, err = tx.ExecContext(ctx, `INSERT INTO `+quote(CollectedTable)+` ("messageId", message, log, seq)
			SELECT COALESCE(m->>'messageId', $2 || '#' || ($3 + o - 1)), m, $2, $3 + o - 1
			FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(m, o)
			ON CONFLICT ("messageId") DO NOTHING`, texts, logID, int64(from))
		if err != nil {
			return fmt.Errorf("postgres: store collected events: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+quote(collectedPositions)+` SET position = $2 WHERE log = $1`, logID, int64(to)); err != nil {
		return fmt.Errorf("postgres: collected events: %w", err)
	}
	return tx.Commit()
}
