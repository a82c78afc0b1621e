// Package warehouse is what the stages know of the warehouse: the Store
// interface they talk through, its row types (runs, models, identities,
// exports, queries of the raw tables) and the one list of tables published by
// as-of date, with their Arrow schemas. It knows the canonical model, not the
// models built on it, and no driver: the stores are in its clickhouse and
// parquetdir packages.
package warehouse

import (
	"context"
	"errors"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/canon"
)

// Store is the warehouse the stages talk through: ClickHouse (package
// clickhouse), or the embedded Parquet folder (package parquetdir: the default
// without a ClickHouse, and the in-process store of tests). Stages never ask
// which one they have.
type Store interface {
	// Where names the store for people: "ClickHouse database tessera".
	Where() string
	Close() error
	// Migrate brings the tables up to date; it returns the migrations applied.
	Migrate(ctx context.Context) ([]string, error)
	RecordRun(ctx context.Context, r Run) error
	// Lock takes the run lock of names (stages, score shards) for a date
	// where no Kubernetes API is there to hold it; unlock frees it.
	Lock(ctx context.Context, names []string, asOf time.Time, o LockOptions) (unlock func(context.Context) error, where string, err error)

	// Extract's side: raw tables, rejected rows, watermarks, identities.
	OpenRaw(ctx context.Context, e canon.Entity, runID string, landedAt time.Time) (BatchWriter, error)
	InsertRejected(ctx context.Context, runID string, at time.Time, rs []canon.Rejection) error
	// EndExtract ends an extract run: what it landed stays (err nil) or, where
	// the store can, is dropped (err not nil). It returns err, or what failed.
	EndExtract(err error) error
	// OnePerKey says whether raw tables keep one row per key (the newest
	// version): then extract may land a key twice, and counts it.
	OnePerKey() bool
	Watermark(ctx context.Context, source, entity string) (time.Time, bool, error)
	SaveWatermark(ctx context.Context, source, entity string, value time.Time, runID string) error
	Identities(ctx context.Context, fn func(Identity)) error
	SaveIdentities(ctx context.Context, ls []Identity, runID string, at time.Time) error
	RawKeys(ctx context.Context, e canon.Entity, fn func(string)) error
	RawCounts(ctx context.Context) ([]Count, error)
	// RejectedByRule counts a run's rejected rows (every run's: "") by entity and rule.
	RejectedByRule(ctx context.Context, runID string) ([]Count, error)

	// Reading raw tables point in time.
	Read(ctx context.Context, mem memory.Allocator, q Query, batch int) ([]arrow.Record, error)
	// Customers counts the distinct customers of the rows a query reads.
	Customers(ctx context.Context, q Query) (int, error)
	Each(ctx context.Context, mem memory.Allocator, q Query, batch int, fn func(arrow.Record) error) error

	// Models.
	InsertModel(ctx context.Context, m Model) error
	LatestModel(ctx context.Context, asOf time.Time, kinds ...string) (Model, error)

	// Tables published by as-of date.
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
	ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	Stage(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	Swap(ctx context.Context, table string, asOf time.Time) error
	// OpenPart writes one shard's part of a sharded stage's date batch by
	// batch, in place whole or not at all once the writer is closed;
	// PartsWritten counts the job's whole parts; PublishParts publishes them
	// as the date's partition in one swap (they stay a day).
	OpenPart(ctx context.Context, table string, schema *arrow.Schema, asOf time.Time, job string, s Slice, runID string) (PartWriter, error)
	PartsWritten(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
	PublishParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
	// StageParts is PublishParts up to the swap: the parts make the date's
	// partition of <table>_staging.
	StageParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
	// PartRows counts the rows of the named parts of the job.
	PartRows(ctx context.Context, table string, asOf time.Time, job string, parts []Slice) (int, error)
	// EachPart reads the named parts of the job in customer order (the
	// schema's first column), batch rows at a time.
	EachPart(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, job string, parts []Slice, batch int, fn func(arrow.Record) error) error
	// ReadRun is ReadPartition of one run's rows.
	ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error)
	// ReadRunSlice is ReadRun of the rows of a slice's customers.
	ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s Slice) (arrow.Record, error)
	// PartitionRuns counts a date's rows of a table by run.
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
	// RecordPublication records, last, what publish made the date's tables.
	RecordPublication(ctx context.Context, p Publication) error
	// Publication is the date's newest publication (ErrNotPublished without one).
	Publication(ctx context.Context, asOf time.Time) (Publication, error)
	// PublicationDates are the dates with a publication, oldest first.
	PublicationDates(ctx context.Context) ([]time.Time, error)
	// RunRecord is a run's record in runs; ok is false without one.
	RunRecord(ctx context.Context, id string) (r Run, ok bool, err error)
	// ExtractedThrough is the newest as-of date of a successful extract: the
	// sources were read as they stood for it. ok is false without one.
	ExtractedThrough(ctx context.Context) (asOf time.Time, ok bool, err error)

	// Exports.
	RecordExports(ctx context.Context, files []ExportFile) error
	LastExport(ctx context.Context, before time.Time) (time.Time, bool, error)
}

// ErrUnavailable is wrapped by errors of a warehouse that did not answer (it
// restarts, the network drops): worth a retry once it is back.
var ErrUnavailable = errors.New("the warehouse did not answer")

// PartWriter writes one shard's part of a sharded stage's date batch by
// batch. Close puts it in place whole; Abort drops what was written.
type PartWriter interface {
	Write(ctx context.Context, rec arrow.Record) error
	Close(ctx context.Context) error
	Abort(ctx context.Context)
}

// partOpener opens a shard's part.
type partOpener interface {
	OpenPart(ctx context.Context, table string, schema *arrow.Schema, asOf time.Time, job string, s Slice, runID string) (PartWriter, error)
}

// WritePart writes rec as the shard's part of the as-of date of table, whole
// or not at all.
func WritePart(ctx context.Context, st partOpener, table string, asOf time.Time, job string, s Slice, runID string, rec arrow.Record) error {
	pw, err := st.OpenPart(ctx, table, rec.Schema(), asOf, job, s, runID)
	if err != nil {
		return err
	}
	if err := pw.Write(ctx, rec); err != nil {
		pw.Abort(ctx)
		return err
	}
	return pw.Close(ctx)
}
