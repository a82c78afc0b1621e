package clickhouse

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Recorder is told every statement sent to the server, with its arguments
// and the database's name in it, so that a test can run them again on
// another ClickHouse release (sql/chdb runs them on a current one).
type Recorder func(query string, args []any)

// Record makes every statement from now on go past rec too.
func (w *DB) Record(rec Recorder) { w.conn = recordingConn{w.conn, rec} }

// recordingConn is a connection that tells a Recorder what it sends.
type recordingConn struct {
	driver.Conn
	rec Recorder
}

func (c recordingConn) Exec(ctx context.Context, q string, args ...any) error {
	c.rec(q, args)
	return c.Conn.Exec(ctx, q, args...)
}

func (c recordingConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	c.rec(q, args)
	return c.Conn.Query(ctx, q, args...)
}

func (c recordingConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	c.rec(q, args)
	return c.Conn.QueryRow(ctx, q, args...)
}

func (c recordingConn) Select(ctx context.Context, dest any, q string, args ...any) error {
	c.rec(q, args)
	return c.Conn.Select(ctx, dest, q, args...)
}

func (c recordingConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	c.rec(q, nil)
	return c.Conn.PrepareBatch(ctx, q, opts...)
}
