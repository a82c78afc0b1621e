package parquetdir

import (
	"context"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// RecordExports appends the files of an export to exports.jsonl.
func (p *Dir) RecordExports(_ context.Context, files []warehouse.ExportFile) error {
	return appendJSONL(p, "exports.jsonl", files...)
}

// LastExport is the newest as-of date of exports.jsonl before the date.
func (p *Dir) LastExport(_ context.Context, before time.Time) (last time.Time, ok bool, err error) {
	err = readJSONL(p, "exports.jsonl", func(e warehouse.ExportFile) {
		if e.Kind == "manifest" && e.AsOf.Before(before) && (!ok || e.AsOf.After(last)) {
			last, ok = e.AsOf, true
		}
	})
	return last, ok, err
}
