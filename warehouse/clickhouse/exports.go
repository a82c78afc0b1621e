package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// RecordExports records the files of an export.
func (w *DB) RecordExports(ctx context.Context, files []warehouse.ExportFile) error {
	batch, err := w.conn.PrepareBatch(ctx, w.expand("INSERT INTO {db}.exports (as_of, exported_at, file, kind, segment_id, rows, sha256, previous_as_of, run_id) VALUES"))
	if err != nil {
		return fmt.Errorf("record exports: %w", err)
	}
	defer batch.Abort()
	for _, f := range files {
		if err := batch.Append(f.AsOf, f.ExportedAt.UTC(), f.File, f.Kind, f.SegmentID, f.Rows, f.SHA256, f.PreviousAsOf, f.RunID); err != nil {
			return fmt.Errorf("record exports: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("record exports: %w", err)
	}
	return nil
}

// LastExport is the newest as-of date exported before the date; ok is false
// when there was none.
func (w *DB) LastExport(ctx context.Context, before time.Time) (last time.Time, ok bool, err error) {
	var n uint64
	row := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT max(as_of), count() FROM %s.exports WHERE kind = 'manifest' AND as_of < toDate(?)", w.db), before.Format(time.DateOnly))
	if err := row.Scan(&last, &n); err != nil {
		return last, false, fmt.Errorf("read exports: %w", err)
	}
	return time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC), n > 0, nil
}
