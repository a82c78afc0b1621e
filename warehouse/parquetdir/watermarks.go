package parquetdir

import (
	"context"
	"time"
)

type watermark struct {
	Source, Entity, RunID string
	Value, SavedAt        time.Time
}

// Watermark is the newest version in watermarks.jsonl for a source's entity.
func (p *Dir) Watermark(_ context.Context, source, entity string) (value time.Time, ok bool, err error) {
	var newest time.Time
	err = readJSONL(p, "watermarks.jsonl", func(m watermark) {
		if m.Source == source && m.Entity == entity && !m.SavedAt.Before(newest) {
			value, newest, ok = m.Value, m.SavedAt, true
		}
	})
	return value, ok, err
}

// SaveWatermark appends to watermarks.jsonl.
func (p *Dir) SaveWatermark(_ context.Context, source, entity string, value time.Time, runID string) error {
	return appendJSONL(p, "watermarks.jsonl", watermark{Source: source, Entity: entity, RunID: runID, Value: value.UTC(), SavedAt: time.Now().UTC()})
}
