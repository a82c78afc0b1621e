package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	table := staging
	types, err := w.columnTypes(ctx, like)
	if err != nil {
		return err
	}
	n := int(rec.NumRows())
	cols := []string{"as_of", "run_id"}
	for _, f := range rec.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s) VALUES", w.db, staging, strings.Join(cols, ", ")))
	if err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	defer batch.Abort()
	dates, runs := make([]time.Time, n), make([]string, n)
	for i := range dates {
		dates[i], runs[i] = asOf, runID
	}
	if err := batch.Column(0).Append(dates); err != nil {
		return err
	}
	if err := batch.Column(1).Append(runs); err != nil {
		return err
	}
	for i, f := range rec.Schema().Fields() {
		vals, err := columnValues(rec.Column(i), types[f.Name])
		if err != nil {
			return fmt.Errorf("%s.%s: %w", table, f.Name, err)
		}
		if err := batch.Column(i + 2).Append(vals); err != nil {
			return fmt.Errorf("%s.%s: %w", table, f.Name, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	return nil
}
