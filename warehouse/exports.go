package warehouse

import (
	"context"
	"fmt"
	"time"
)

// ExportFile is one file an export wrote: a row of the exports table.
type ExportFile struct {
	AsOf         time.Time `json:"as_of"`
	ExportedAt   time.Time `json:"exported_at"`
	File         string    `json:"file"`
	Kind         string    `json:"kind"` // segment, joined, left, manifest
	SegmentID    string    `json:"segment_id,omitempty"`
	Rows         uint64    `json:"rows"`
	SHA256       string    `json:"sha256"`
	PreviousAsOf time.Time `json:"previous_as_of"`
	RunID        string    `json:"run_id"`
}

// RecordExports records the files of an export.
func (w *ClickHouse) RecordExports(ctx context.Context, files []ExportFile) error {
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
func (w *ClickHouse) LastExport(ctx context.Context, before time.Time) (last time.Time, ok bool, err error) {
	var n uint64
	row := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT max(as_of), count() FROM %s.exports WHERE kind = 'manifest' AND as_of < toDate(?)", w.db), before.Format(time.DateOnly))
	if err := row.Scan(&last, &n); err != nil {
		return last, false, fmt.Errorf("read exports: %w", err)
	}
	return time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC), n > 0, nil
}

// RecordExports appends the files of an export to exports.jsonl.
func (p *ParquetDir) RecordExports(_ context.Context, files []ExportFile) error {
	return appendJSONL(p, "exports.jsonl", files...)
}

// LastExport is the newest as-of date of exports.jsonl before the date.
func (p *ParquetDir) LastExport(_ context.Context, before time.Time) (last time.Time, ok bool, err error) {
	err = readJSONL(p, "exports.jsonl", func(e ExportFile) {
		if e.Kind == "manifest" && e.AsOf.Before(before) && (!ok || e.AsOf.After(last)) {
			last, ok = e.AsOf, true
		}
	})
	return last, ok, err
}
