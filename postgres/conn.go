package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// liveConn returns a dedicated connection that answered a ping. After the
// server killed sessions or restarted, the pool still holds their dead
// connections; database/sql retries a dead one only for statements on the
// pool, not for a dedicated connection, so a run lock taken on one would
// fail the next run too. Dead ones are discarded, a few times at most.
func (d *DB) liveConn(ctx context.Context) (*sql.Conn, error) {
	var err error
	for range 6 {
		var conn *sql.Conn
		if conn, err = d.db.Conn(ctx); err != nil {
			return nil, err
		}
		if err = conn.PingContext(ctx); err == nil {
			return conn, nil
		}
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discard, not back to the pool
		conn.Close()
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// idleConns is how many idle connections the pool keeps (Open).
const idleConns = 4

// dropIdle closes the pool's idle connections. A run starts with it: a
// connection the server killed since the last run looks alive until a
// statement is sent on it, and then fails that statement, so without it
// the first statements of the next run in the same process (knit serve's
// scheduled runs) would fail on the dead connections one by one.
func (d *DB) dropIdle() {
	d.db.SetMaxIdleConns(0)
	d.db.SetMaxIdleConns(idleConns)
}
