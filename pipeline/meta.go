package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/knit-cdp/knit/engine"
)

// The runs table is the run history. Unlike result tables it is written in
// place: a run is recorded as running when it starts, so a run that was
// killed shows up as interrupted at the next start.
func (r *run) ensureMetaTables(ctx context.Context) error {
	return r.eng.Exec(ctx, `CREATE TABLE IF NOT EXISTS runs (
  run_id BIGINT, started TIMESTAMP, finished TIMESTAMP, status VARCHAR, error VARCHAR, report VARCHAR)`)
}

func (r *run) nextRunID(ctx context.Context) (int64, error) {
	if err := r.eng.Exec(ctx, `UPDATE runs SET status = 'interrupted' WHERE status = 'running'`); err != nil {
		return 0, err
	}
	rows, err := r.eng.Query(ctx, `SELECT COALESCE(MAX(run_id), 0) + 1 FROM runs`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var id int64
	if rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	return id, r.eng.Exec(ctx, engine.Rebind(r.eng.Dialect(), `INSERT INTO runs (run_id, started, status) VALUES (?, ?, 'running')`), id, r.rep.Started)
}

func (r *run) recordRun(ctx context.Context) error {
	js, err := json.Marshal(r.rep)
	if err != nil {
		return err
	}
	var msg sql.NullString
	if r.rep.Error != "" {
		msg = sql.NullString{String: r.rep.Error, Valid: true}
	}
	return r.eng.Exec(ctx, engine.Rebind(r.eng.Dialect(), `UPDATE runs SET finished = ?, status = ?, error = ?, report = ? WHERE run_id = ?`),
		r.rep.Finished, r.rep.Status, msg, string(js), r.runID)
}
