package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow/go/v17/arrow"
)

// ReplacePartition publishes rec as the as-of date's partition of table
// (partitioned by as_of): Stage, then Swap. A re-run of the date replaces it;
// a failure before the swap leaves the live partition as it was.
func (w *DB) ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error {
	if err := w.Stage(ctx, table, asOf, runID, rec); err != nil {
		return err
	}
	return w.Swap(ctx, table, asOf)
}

// Swap replaces the as-of date's partition of table with the one staged in
// <table>_staging: one ALTER, so readers see the old night or the new one.
func (w *DB) Swap(ctx context.Context, table string, asOf time.Time) error {
	return w.alterPartition(ctx, fmt.Sprintf("ALTER TABLE {db}.%s REPLACE PARTITION '%s' FROM {db}.%s_staging", table, asOf.Format(time.DateOnly), table))
}

// Stage writes rec, with as_of and run_id added, as the as-of date's partition
// of <table>_staging, replacing what was staged there before.
func (w *DB) Stage(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error {
	staging := table + "_staging"
	part := asOf.Format(time.DateOnly)
	if err := w.alterPartition(ctx, fmt.Sprintf("ALTER TABLE {db}.%s DROP PARTITION '%s'", staging, part)); err != nil {
		return err
	}
	return w.insertRecord(ctx, staging, asOf, runID, rec)
}

// insertRecord inserts rec's rows, with as_of and run_id added, into table.
func (w *DB) insertRecord(ctx context.Context, staging string, asOf time.Time, runID string, rec arrow.Record) error {
	return w.insertLike(ctx, staging, staging, asOf, runID, rec)
}

// insertLike is insertRecord into a table of the structure of like, whose
// column types it reads (once: a part's table is new each time).
func (w *DB) insertLike(ctx context.Context, staging, like string, asOf time.Time, runID string, rec arrow.Record) error {
	b, err := w.openRecordBatch(ctx, staging, like, asOf, runID, rec.Schema())
	if err != nil {
		return err
	}
	defer b.abort()
	if err := b.add(rec); err != nil {
		return err
	}
	return b.send()
}

// recordBatch is one INSERT of Arrow records, with as_of and run_id added to
// each row. Records added one after another go as blocks of one INSERT whose
// column buffers are kept: clickhouse-go grows them a value at a time and
// has no way to reserve, and growing them anew for each record of a part
// copied its strings about four times over.
type recordBatch struct {
	batch        driver.Batch
	table        string
	types        map[string]string
	schema       *arrow.Schema
	asOf         time.Time
	runID        string
	dates        []time.Time
	runs         []string
	sent, queued bool // queued: rows added since the last flush
}

// openRecordBatch starts an INSERT into table of records of schema; like
// names the table whose column types it takes.
func (w *DB) openRecordBatch(ctx context.Context, table, like string, asOf time.Time, runID string, schema *arrow.Schema) (*recordBatch, error) {
	types, err := w.columnTypes(ctx, like)
	if err != nil {
		return nil, err
	}
	cols := []string{"as_of", "run_id"}
	for _, f := range schema.Fields() {
		cols = append(cols, f.Name)
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s) VALUES", w.db, table, strings.Join(cols, ", ")))
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", table, err)
	}
	return &recordBatch{batch: batch, table: table, types: types, schema: schema, asOf: asOf, runID: runID}, nil
}

// blockRows bounds the rows of a block sent: a larger record (a whole
// date's features staged at once) goes in slices, whose buffers grow for the
// first alone.
const blockRows = 65536

// add appends rec's rows as blocks of their own.
func (b *recordBatch) add(rec arrow.Record) error {
	if !rec.Schema().Equal(b.schema) {
		return fmt.Errorf("stage %s: a record of columns %v in an insert of %v", b.table, rec.Schema(), b.schema)
	}
	n := rec.NumRows()
	for from := int64(0); from < n || from == 0; from += blockRows {
		block := rec.NewSlice(from, min(from+blockRows, n))
		err := b.addBlock(block)
		block.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// addBlock appends rec's rows as one block.
func (b *recordBatch) addBlock(rec arrow.Record) error {
	if b.queued {
		if err := b.batch.Flush(); err != nil {
			return fmt.Errorf("stage %s: %w", b.table, err)
		}
	}
	n := int(rec.NumRows())
	b.dates, b.runs = b.dates[:0], b.runs[:0]
	for range n {
		b.dates, b.runs = append(b.dates, b.asOf), append(b.runs, b.runID)
	}
	if err := b.batch.Column(0).Append(b.dates); err != nil {
		return err
	}
	if err := b.batch.Column(1).Append(b.runs); err != nil {
		return err
	}
	for i, f := range b.schema.Fields() {
		vals, err := columnValues(rec.Column(i), b.types[f.Name])
		if err != nil {
			return fmt.Errorf("%s.%s: %w", b.table, f.Name, err)
		}
		if err := b.batch.Column(i + 2).Append(vals); err != nil {
			return fmt.Errorf("%s.%s: %w", b.table, f.Name, err)
		}
	}
	b.queued = n > 0
	return nil
}

// send ends the INSERT: its last block goes, and the server answers for all.
func (b *recordBatch) send() error {
	b.sent = true
	if err := b.batch.Send(); err != nil {
		return fmt.Errorf("stage %s: %w", b.table, err)
	}
	return nil
}

// abort ends an INSERT not sent, releasing its connection.
func (b *recordBatch) abort() {
	if !b.sent {
		b.sent = true
		b.batch.Abort()
	}
}
