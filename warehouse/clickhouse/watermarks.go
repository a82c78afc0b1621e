package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// Watermark is the newest version saved for a source's entity; ok is false
// when there is none yet.
func (w *DB) Watermark(ctx context.Context, source, entity string) (value time.Time, ok bool, err error) {
	var n uint64
	row := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT argMax(value, (saved_at, value)), count() FROM %s.watermarks WHERE source = ? AND entity = ?", w.db), source, entity)
	if err := row.Scan(&value, &n); err != nil {
		return value, false, fmt.Errorf("read watermark of %s %s: %w", source, entity, err)
	}
	return value.UTC(), n > 0, nil
}

// SaveWatermark records the newest version read of a source's entity.
func (w *DB) SaveWatermark(ctx context.Context, source, entity string, value time.Time, runID string) error {
	return w.insertRow(ctx, "INSERT INTO {db}.watermarks (source, entity, value, run_id, saved_at) VALUES",
		source, entity, value.UTC(), runID, time.Now().UTC())
}
