package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Publication is what a date's published tables hold: the runs whose rows
// they are, recorded last by publish. Readers read only those rows, so that a
// night is one run or none: after a publish cut short between two swaps, the
// date's publication still names the runs of the night before it; after a
// ClickHouse restart that brings a replaced part back, that part's rows are
// another run's.
type Publication struct {
	AsOf     time.Time `json:"as_of"`
	ScoreRun string    `json:"score_run"`
	// PublishRun is the run whose rows segment_changes holds: the publish
	// run before publish was sharded, the score run since (each shard of
	// publish stamps its part with the score run's id).
	PublishRun  string         `json:"publish_run"`
	Rows        map[string]int `json:"rows"` // per table, as published; empty for dates published before publications
	PublishedAt time.Time      `json:"published_at"`
}

// RunOf is the run whose rows a published table holds for the date.
func (p Publication) RunOf(table string) string {
	if table == SegmentChanges.Name {
		return p.PublishRun
	}
	return p.ScoreRun
}

// ErrNotPublished is wrapped when a date has no publication.
var ErrNotPublished = errors.New("nothing published for this date")

// ErrIncomplete is wrapped when a published table does not hold what its
// publication says: a publish was cut short.
var ErrIncomplete = errors.New("the date's publication is incomplete")

// publishedReader reads what publish recorded and the rows of one run.
type publishedReader interface {
	Publication(ctx context.Context, asOf time.Time) (Publication, error)
	ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error)
}

// runCounter counts a date's rows of a table by run.
type runCounter interface {
	Publication(ctx context.Context, asOf time.Time) (Publication, error)
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
}

// CheckPublished checks that every published table of the date holds what
// its publication says (the rows of the run it names, as many as were
// published): a reader that delivers part of a night, such as export,
// checks the whole night first, so that it never delivers a date a publish
// left half done.
func CheckPublished(ctx context.Context, st runCounter, asOf time.Time) (Publication, error) {
	p, err := st.Publication(ctx, asOf)
	if err != nil {
		return p, err
	}
	for _, t := range Published {
		want, ok := p.Rows[t.Name]
		if !ok {
			continue // published before publications recorded rows
		}
		runs, err := st.PartitionRuns(ctx, t.Name, asOf)
		if err != nil {
			return p, err
		}
		if got := runs[p.RunOf(t.Name)]; got != want {
			return p, fmt.Errorf("%s as of %s holds %d rows of run %s, its publication %d: %w (run publish for the date again)",
				t.Name, asOf.Format(time.DateOnly), got, p.RunOf(t.Name), want, ErrIncomplete)
		}
	}
	return p, nil
}

// ReadPublished reads the columns of schema of a published table's date as
// its publication has it: the rows of the run it names, which must be as
// many as were published.
func ReadPublished(ctx context.Context, st publishedReader, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error) {
	p, err := st.Publication(ctx, asOf)
	if err != nil {
		return nil, err
	}
	run := p.RunOf(table)
	rec, err := st.ReadRun(ctx, mem, table, schema, asOf, run)
	if want, ok := p.Rows[table]; errors.Is(err, ErrNoPartition) && ((ok && want == 0) || (!ok && table == SegmentChanges.Name)) {
		return nil, err // published empty (no changes since the night before)
	}
	if errors.Is(err, ErrNoPartition) {
		return nil, fmt.Errorf("%s as of %s holds no row of run %s, which its publication names: %w (run publish for the date again)",
			table, asOf.Format(time.DateOnly), run, ErrIncomplete)
	}
	if err != nil {
		return nil, err
	}
	if want, ok := p.Rows[table]; ok && int64(want) != rec.NumRows() {
		n := rec.NumRows()
		rec.Release()
		return nil, fmt.Errorf("%s as of %s holds %d rows of run %s, its publication %d: %w (run publish for the date again)",
			table, asOf.Format(time.DateOnly), n, run, want, ErrIncomplete)
	}
	return rec, nil
}

// sliceReader reads what publish recorded, counts a date's rows by run and
// reads the rows of one run's slice of customers.
type sliceReader interface {
	runCounter
	ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s Slice) (arrow.Record, error)
}

// ReadPublishedSlice is ReadPublished of a slice's customers (customer_id is
// the schema's first column): the table must hold as many rows of the run its
// publication names as were published, and the slice's are read. A slice
// without rows is an empty record.
func ReadPublishedSlice(ctx context.Context, st sliceReader, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, s Slice) (arrow.Record, error) {
	p, err := st.Publication(ctx, asOf)
	if err != nil {
		return nil, err
	}
	runs, err := st.PartitionRuns(ctx, table, asOf)
	if err != nil {
		return nil, err
	}
	run := p.RunOf(table)
	if want, ok := p.Rows[table]; ok && runs[run] != want {
		return nil, fmt.Errorf("%s as of %s holds %d rows of run %s, its publication %d: %w (run publish for the date again)",
			table, asOf.Format(time.DateOnly), runs[run], run, want, ErrIncomplete)
	}
	rec, err := st.ReadRunSlice(ctx, mem, table, schema, asOf, run, s)
	if errors.Is(err, ErrNoPartition) {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		return b.NewRecord(), nil
	}
	return rec, err
}

// SegmentPurchases is what a pod counted of one segment's members' baskets:
// its members among the pod's customers and, for each product they bought,
// how many of them did. A product is named by its place among the ids of
// the pod's base: the row of Segment "", the pod's every buyer with a basket
// (Members) and the buyers of each product, whose ids it names (IDs; its
// Products are their places, 0, 1, 2, …). Products ascend. The counts of a
// segment's rows of every pod add up to its counts over all its members.
type SegmentPurchases struct {
	Shard    int // the pod whose counts these are
	Segment  string
	Members  int
	Products []uint32
	Buyers   []uint32
	IDs      []string // the base's only
}
