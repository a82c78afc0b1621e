package warehouse

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Watermark is the newest version saved for a source's entity; ok is false
// when there is none yet.
func (w *ClickHouse) Watermark(ctx context.Context, source, entity string) (value time.Time, ok bool, err error) {
	var n uint64
	row := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT argMax(value, (saved_at, value)), count() FROM %s.watermarks WHERE source = ? AND entity = ?", w.db), source, entity)
	if err := row.Scan(&value, &n); err != nil {
		return value, false, fmt.Errorf("read watermark of %s %s: %w", source, entity, err)
	}
	return value.UTC(), n > 0, nil
}

// SaveWatermark records the newest version read of a source's entity.
func (w *ClickHouse) SaveWatermark(ctx context.Context, source, entity string, value time.Time, runID string) error {
	return w.insertRow(ctx, "INSERT INTO {db}.watermarks (source, entity, value, run_id, saved_at) VALUES",
		source, entity, value.UTC(), runID, time.Now().UTC())
}

type watermark struct {
	Source, Entity, RunID string
	Value, SavedAt        time.Time
}

// Watermark is the newest version in watermarks.jsonl for a source's entity.
func (p *ParquetDir) Watermark(_ context.Context, source, entity string) (value time.Time, ok bool, err error) {
	f, err := os.Open(filepath.Join(p.dir, "watermarks.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return value, false, nil
	}
	if err != nil {
		return value, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var newest time.Time
	for sc.Scan() {
		var m watermark
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return value, false, fmt.Errorf("embedded warehouse watermarks.jsonl: %w", err)
		}
		if m.Source == source && m.Entity == entity && !m.SavedAt.Before(newest) {
			value, newest, ok = m.Value, m.SavedAt, true
		}
	}
	return value, ok, sc.Err()
}

// SaveWatermark appends to watermarks.jsonl.
func (p *ParquetDir) SaveWatermark(_ context.Context, source, entity string, value time.Time, runID string) error {
	f, err := os.OpenFile(filepath.Join(p.dir, "watermarks.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	b, _ := json.Marshal(watermark{Source: source, Entity: entity, RunID: runID, Value: value.UTC(), SavedAt: time.Now().UTC()})
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
