package parquetdir

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
	"github.com/tessera-cdp/tessera/warehouse"
)

// Where names the folder for people.
func (p *Dir) Where() string { return "embedded warehouse " + p.dir }

// Close does nothing: files are closed as they are written.
func (p *Dir) Close() error { return nil }

// Migrate does nothing: each table's file is written whole with its schema.
func (p *Dir) Migrate(context.Context) ([]string, error) { return nil, nil }

// EndExtract moves the run's files into place, or drops them when err is set.
func (p *Dir) EndExtract(err error) error {
	if err != nil {
		// What a user needs to see why: the run's rejected rows; nothing
		// else of the run lands.
		kept := p.commitOnly("rejected_rows")
		p.Abort()
		p.mu.Lock()
		p.identities = nil
		p.mu.Unlock()
		if kept != nil {
			return errors.Join(err, kept)
		}
		return fmt.Errorf("%w (nothing of the run landed: the embedded warehouse keeps its tables as they were; the run's rejected rows are in %s)", err, p.Path("rejected_rows"))
	}
	p.mu.Lock()
	pending := p.identities
	p.identities = nil
	p.mu.Unlock()
	if len(pending) > 0 {
		if err := appendJSONL(p, "identities.jsonl", pending...); err != nil {
			p.Abort()
			return err
		}
	}
	return p.Commit()
}

// OnePerKey: a raw file keeps every row landed, so extract keeps every key
// to land each once.
func (p *Dir) OnePerKey() bool { return false }

// RecordRun appends what a run did to runs.jsonl.
func (p *Dir) RecordRun(_ context.Context, r warehouse.Run) error {
	return appendJSONL(p, "runs.jsonl", r)
}

// RawCounts returns the rows of each raw table's file.
func (p *Dir) RawCounts(context.Context) ([]warehouse.Count, error) {
	var out []warehouse.Count
	for _, t := range canon.Tables {
		name := warehouse.RawTable(t.Entity)
		r, err := file.OpenParquetFile(p.Path(name), false)
		if errors.Is(err, os.ErrNotExist) {
			out = append(out, warehouse.Count{Name: name, N: 0})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", name, err)
		}
		out = append(out, warehouse.Count{Name: name, N: uint64(r.NumRows())})
		r.Close()
	}
	return out, nil
}

// RejectedByRule counts the rejected rows of a run by entity and rule.
func (p *Dir) RejectedByRule(ctx context.Context, runID string) ([]warehouse.Count, error) {
	rec, err := p.readFile(ctx, p.mem, p.Path("rejected_rows"), rejectedSchema)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	entity, rule, run := canon.ArrayOf[*array.String](rec, "entity"), canon.ArrayOf[*array.String](rec, "rule"), canon.ArrayOf[*array.String](rec, "run_id")
	n := map[string]uint64{}
	for i := 0; i < int(rec.NumRows()); i++ {
		if runID == "" || run.Value(i) == runID { // "": every run's
			n[entity.Value(i)+" "+rule.Value(i)]++
		}
	}
	out := make([]warehouse.Count, 0, len(n))
	for name, c := range n {
		out = append(out, warehouse.Count{Name: name, N: c})
	}
	slices.SortFunc(out, func(a, b warehouse.Count) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
