package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet/file"

	"github.com/tessera-cdp/tessera/canon"
)

// Where names the folder for people.
func (p *ParquetDir) Where() string { return "embedded warehouse " + p.dir }

// Close does nothing: files are closed as they are written.
func (p *ParquetDir) Close() error { return nil }

// Migrate does nothing: each table's file is written whole with its schema.
func (p *ParquetDir) Migrate(context.Context) ([]string, error) { return nil, nil }

// EndExtract moves the run's files into place, or drops them when err is set.
func (p *ParquetDir) EndExtract(err error) error {
	if err != nil {
		p.Abort()
		return err
	}
	return p.Commit()
}

// OnePerKey: a raw file keeps every row landed, so extract keeps every key
// to land each once.
func (p *ParquetDir) OnePerKey() bool { return false }

// LandedTwice is never asked of a store that lands each key once.
func (p *ParquetDir) LandedTwice(context.Context, canon.Entity, string) (int64, error) { return 0, nil }

// RecordRun appends what a run did to runs.jsonl.
func (p *ParquetDir) RecordRun(_ context.Context, r Run) error {
	return appendJSONL(p, "runs.jsonl", r)
}

// RawCounts returns the rows of each raw table's file.
func (p *ParquetDir) RawCounts(context.Context) ([]Count, error) {
	var out []Count
	for _, t := range canon.Tables {
		name := RawTable(t.Entity)
		r, err := file.OpenParquetFile(p.Path(name), false)
		if errors.Is(err, os.ErrNotExist) {
			out = append(out, Count{name, 0})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", name, err)
		}
		out = append(out, Count{name, uint64(r.NumRows())})
		r.Close()
	}
	return out, nil
}

// RejectedByRule counts the rejected rows of a run by entity and rule.
func (p *ParquetDir) RejectedByRule(ctx context.Context, runID string) ([]Count, error) {
	rec, err := p.readFile(ctx, p.mem, p.Path("rejected_rows"), rejectedSchema)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	entity, rule, run := rec.Column(1).(*array.String), rec.Column(4).(*array.String), rec.Column(7).(*array.String)
	n := map[string]uint64{}
	for i := 0; i < int(rec.NumRows()); i++ {
		if run.Value(i) == runID {
			n[entity.Value(i)+" "+rule.Value(i)]++
		}
	}
	out := make([]Count, 0, len(n))
	for name, c := range n {
		out = append(out, Count{name, c})
	}
	slices.SortFunc(out, func(a, b Count) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
