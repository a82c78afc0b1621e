package parquetdir

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// ReadRun is ReadPartition of the rows of one run.
func (p *Dir) ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error) {
	return p.ReadRunSlice(ctx, mem, table, schema, asOf, runID, warehouse.Slice{})
}

// ReadRunSlice is ReadRun of the rows of a slice's customers (customer_id is
// the schema's first column).
func (p *Dir) ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s warehouse.Slice) (arrow.Record, error) {
	withRun, runCol := schema, schema.NumFields()
	if k := schema.FieldIndices(runIDField.Name); len(k) == 1 {
		runCol = k[0] // the reader asks for run_id itself
	} else {
		withRun = arrow.NewSchema(append(slices.Clone(schema.Fields()), runIDField), nil)
	}
	all, err := p.ReadPartition(ctx, mem, table, withRun, asOf)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	runs := all.Column(runCol).(*array.String)
	var ids *array.String
	if !s.Whole() {
		ids = canon.ArrayOf[*array.String](all, warehouse.KeyColumn(schema)) // customer_id
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for r := 0; r < int(all.NumRows()); r++ {
		if (runID != "" && runs.Value(r) != runID) || (!s.Whole() && !s.Owns(ids.Value(r))) {
			continue
		}
		for i := range schema.Fields() {
			copyValue(b.Field(i), all.Column(i), r)
		}
	}
	rec := b.NewRecord()
	if rec.NumRows() == 0 {
		rec.Release()
		return nil, fmt.Errorf("%s as of %s, run %s: %w", table, asOf.Format(time.DateOnly), runID, warehouse.ErrNoPartition)
	}
	return rec, nil
}

// PartitionRuns counts a date's rows of a table by run.
func (p *Dir) PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error) {
	out := map[string]int{}
	rec, err := p.ReadPartition(ctx, p.mem, table, arrow.NewSchema([]arrow.Field{runIDField}, nil), asOf)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	runs := canon.ArrayOf[*array.String](rec, "run_id")
	for i := 0; i < runs.Len(); i++ {
		out[runs.Value(i)]++
	}
	return out, nil
}

// RecordPublication appends what publish made the date's tables to
// publications.jsonl.
func (p *Dir) RecordPublication(_ context.Context, pub warehouse.Publication) error {
	return appendJSONL(p, "publications.jsonl", pub)
}

// Publication is the date's newest publication.
func (p *Dir) Publication(_ context.Context, asOf time.Time) (warehouse.Publication, error) {
	var out warehouse.Publication
	found := false
	err := readJSONL(p, "publications.jsonl", func(pub warehouse.Publication) {
		if pub.AsOf.Equal(asOf) && (!found || newer(pub, out)) {
			out, found = pub, true
		}
	})
	if err == nil && !found {
		err = fmt.Errorf("%s: %w", asOf.Format(time.DateOnly), warehouse.ErrNotPublished)
	}
	return out, err
}

// newer: the publication recorded later (a later line wins a tie).
func newer(a, b warehouse.Publication) bool { return !a.PublishedAt.Before(b.PublishedAt) }

// PublicationDates are the dates with a publication, oldest first.
func (p *Dir) PublicationDates(context.Context) ([]time.Time, error) {
	var out []time.Time
	err := readJSONL(p, "publications.jsonl", func(pub warehouse.Publication) {
		if !slices.ContainsFunc(out, pub.AsOf.Equal) {
			out = append(out, pub.AsOf)
		}
	})
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out, err
}

// RunRecord is a run's newest record in runs.jsonl.
func (p *Dir) RunRecord(_ context.Context, id string) (warehouse.Run, bool, error) {
	var out warehouse.Run
	found := false
	err := readJSONL(p, "runs.jsonl", func(r warehouse.Run) {
		if r.ID == id {
			out, found = r, true
		}
	})
	return out, found, err
}

// ExtractedThrough is the newest as-of date of a successful extract run.
func (p *Dir) ExtractedThrough(_ context.Context) (time.Time, bool, error) {
	var newest time.Time
	found := false
	err := readJSONL(p, "runs.jsonl", func(r warehouse.Run) {
		if r.Stage == "extract" && r.Status == "ok" && (!found || r.AsOf.After(newest)) {
			newest, found = r.AsOf.UTC(), true
		}
	})
	return newest, found, err
}
