package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// columnTypes returns the ClickHouse type of each column of a table.
func (w *DB) columnTypes(ctx context.Context, table string) (map[string]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.types[table]; ok {
		return t, nil
	}
	var types map[string]string
	if err := retryGone(ctx, func() error {
		rows, err := w.conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", w.db, table)
		if err != nil {
			return err
		}
		defer rows.Close()
		types = map[string]string{}
		for rows.Next() {
			var n, t string
			if err := rows.Scan(&n, &t); err != nil {
				return err
			}
			types[n] = t
		}
		return rows.Err() // cancelled, say: not a missing table
	}); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("table %s.%s does not exist: run `tessera migrate`", w.db, table)
	}
	if w.types == nil {
		w.types = map[string]map[string]string{}
	}
	w.types[table] = types
	return types, nil
}

// RawWriter lands batches of one entity in its raw table as blocks of one
// INSERT over the native protocol: the column buffers are reused from block to
// block (fresh ones cost page faults on every batch).
type RawWriter struct {
	t       *canon.Table
	table   string
	types   map[string]string
	batch   driver.Batch
	runID   string
	landed  uint64
	runs    []string
	version []uint64
	// hashes: the customer_hash column of a table laid out by customer (nil
	// for the others), from the DB (see customerHashes).
	hashes []uint64
	db     *DB
	ctx    context.Context
	// longest: the longest value text_lengths records of each text column
	// (see textLengths), raised before a longer one lands.
	longest map[string]uint64
}

// OpenRaw starts landing rows of e; Close sends the last block.
func (w *DB) OpenRaw(ctx context.Context, e canon.Entity, runID string, landedAt time.Time) (warehouse.BatchWriter, error) {
	t, err := canon.Lookup(e)
	if err != nil {
		return nil, err
	}
	table := warehouse.RawTable(e)
	types, err := w.columnTypes(ctx, table)
	if err != nil {
		return nil, err
	}
	cols := make([]string, 0, len(t.Columns)+2)
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	cols = append(cols, "run_id", "_version")
	_, byCustomer := types[hashColumn]
	if byCustomer {
		cols = append(cols, hashColumn)
	}
	longest, err := w.textLengths(ctx, e, textColumns(t))
	if err != nil {
		return nil, err
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s) VALUES", w.db, table, strings.Join(cols, ", ")))
	if err != nil {
		return nil, fmt.Errorf("insert into %s: %w", table, unavailable(err))
	}
	r := &RawWriter{t: t, table: table, types: types, batch: batch, runID: runID, landed: uint64(landedAt.Unix()), db: w, ctx: ctx, longest: longest}
	if byCustomer {
		r.hashes = []uint64{}
	}
	return r, nil
}

// Write sends a batch as one block.
func (r *RawWriter) Write(rec arrow.Record) error {
	n := int(rec.NumRows())
	if err := r.raiseTextLengths(rec); err != nil {
		return err
	}
	for i, c := range r.t.Columns {
		vals, err := columnValues(rec.Column(i), r.types[c.Name])
		if err != nil {
			return fmt.Errorf("%s.%s: %w", r.table, c.Name, err)
		}
		if err := r.batch.Column(i).Append(vals); err != nil {
			return fmt.Errorf("%s.%s: %w", r.table, c.Name, err)
		}
	}
	r.runs, r.version = r.runs[:0], r.version[:0]
	for range n {
		r.runs = append(r.runs, r.runID)
	}
	if r.t.Version != "" {
		for _, v := range rec.Column(r.t.Index(r.t.Version)).(*array.Timestamp).TimestampValues() {
			r.version = append(r.version, uint64(v))
		}
	} else {
		for range n {
			r.version = append(r.version, r.landed)
		}
	}
	if err := r.batch.Column(len(r.t.Columns)).Append(r.runs); err != nil {
		return err
	}
	if err := r.batch.Column(len(r.t.Columns) + 1).Append(r.version); err != nil {
		return err
	}
	if r.hashes != nil {
		var err error
		if r.hashes, err = r.db.customerHashes(r.ctx, r.t.Entity, rec, r.hashes); err != nil {
			return fmt.Errorf("%s: %w", r.table, err)
		}
		if err := r.batch.Column(len(r.t.Columns) + 2).Append(r.hashes); err != nil {
			return err
		}
	}
	if err := r.batch.Flush(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", n, r.table, unavailable(err))
	}
	return nil
}

// raiseTextLengths records the longer values of rec's text columns before
// they land: a read selects each text column as long as recorded.
func (r *RawWriter) raiseTextLengths(rec arrow.Record) error {
	var longer map[string]uint64
	for i, c := range r.t.Columns {
		if c.Kind != canon.String {
			continue
		}
		if n := longestValue(rec.Column(i).(*array.String)); n > r.longest[c.Name] {
			if longer == nil {
				longer = map[string]uint64{}
			}
			longer[c.Name] = n
		}
	}
	if longer == nil {
		return nil
	}
	if err := r.db.saveTextLengths(r.ctx, r.t.Entity, longer); err != nil {
		return err
	}
	for c, n := range longer {
		r.longest[c] = n
	}
	return nil
}

// Close ends the INSERT.
func (r *RawWriter) Close() error {
	if err := r.batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", r.table, unavailable(err))
	}
	return nil
}

// Abort gives the INSERT up; blocks already written stay.
func (r *RawWriter) Abort() { r.batch.Abort() }

// InsertRaw lands one batch of an entity's rows in its raw table.
func (w *DB) InsertRaw(ctx context.Context, e canon.Entity, rec arrow.Record, runID string, landedAt time.Time) error {
	r, err := w.OpenRaw(ctx, e, runID, landedAt)
	if err != nil {
		return err
	}
	if err := r.Write(rec); err != nil {
		r.Abort()
		return err
	}
	return r.Close()
}

// columnValues converts an Arrow column into the Go slice clickhouse-go appends to
// a column of type chType. Nulls become the type's zero (ClickHouse columns of
// the raw layer are not Nullable: 0 means "not rated", "" means absent), except
// in a Nullable(Float64) column.
func columnValues(a arrow.Array, chType string) (any, error) {
	n := a.Len()
	switch a := a.(type) {
	case *array.String:
		out := make([]string, n)
		for i := range out {
			out[i] = a.Value(i) // a view of Arrow's buffer; the batch copies it
		}
		return out, nil
	case *array.Timestamp:
		out := make([]int64, n)
		for i, v := range a.TimestampValues() {
			if a.IsValid(i) {
				out[i] = int64(v)
			}
		}
		return out, nil
	case *array.Float64:
		if chType == "Nullable(Float64)" {
			out := make([]*float64, n)
			vals := a.Float64Values()
			for i := range out {
				if a.IsValid(i) {
					out[i] = &vals[i]
				}
			}
			return out, nil
		}
		out := make([]float64, n)
		copy(out, a.Float64Values())
		zeroNulls(a, out)
		return out, nil
	case *array.Int32:
		if out := int32Values(a, chType); out != nil {
			return out, nil
		}
	case *array.Int64:
		if chType == "Int64" {
			out := make([]int64, n)
			copy(out, a.Int64Values())
			zeroNulls(a, out)
			return out, nil
		}
	case *array.Date32:
		if out := dateValues(a, chType); out != nil {
			return out, nil
		}
	case *array.Boolean:
		if chType == "UInt8" {
			out := make([]uint8, n)
			for i := range out {
				if a.IsValid(i) && a.Value(i) {
					out[i] = 1
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("no conversion from Arrow %s to ClickHouse %s", a.DataType(), chType)
}

// int32Values converts an Int32 column for a ClickHouse column of type
// chType, nil for a type it does not convert to.
func int32Values(a *array.Int32, chType string) any {
	n := a.Len()
	switch chType {
	case "Nullable(Int32)":
		out := make([]*int32, n)
		vals := a.Int32Values()
		for i := range out {
			if a.IsValid(i) {
				out[i] = &vals[i]
			}
		}
		return out
	case "UInt32":
		out := make([]uint32, n)
		for i, v := range a.Int32Values() {
			if a.IsValid(i) {
				out[i] = uint32(v)
			}
		}
		return out
	case "UInt8":
		out := make([]uint8, n)
		for i, v := range a.Int32Values() {
			if a.IsValid(i) {
				out[i] = uint8(v)
			}
		}
		return out
	case "Int32":
		out := make([]int32, n)
		copy(out, a.Int32Values())
		zeroNulls(a, out)
		return out
	}
	return nil
}

// dateValues converts a Date32 column for a ClickHouse column of type chType,
// nil for a type it does not convert to.
func dateValues(a *array.Date32, chType string) any {
	n := a.Len()
	if chType == "Nullable(Date)" {
		out := make([]*time.Time, n)
		for i, d := range a.Date32Values() {
			if a.IsValid(i) {
				t := dayTime(d)
				out[i] = &t
			}
		}
		return out
	}
	if chType == "Date" {
		out := make([]time.Time, n)
		for i, d := range a.Date32Values() {
			out[i] = dayTime(d)
		}
		return out
	}
	return nil
}

// dayTime is d.ToTime() (midnight UTC) by arithmetic: Arrow's adds d days
// to 1970-01-01 through the calendar (publish's dates at a million
// customers took 0.3 s of CPU that way).
func dayTime(d arrow.Date32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func zeroNulls[T any](a arrow.Array, out []T) {
	if a.NullN() == 0 {
		return
	}
	var zero T
	for i := range out {
		if a.IsNull(i) {
			out[i] = zero
		}
	}
}

// InsertRejected lands rejected rows.
func (w *DB) InsertRejected(ctx context.Context, runID string, at time.Time, rs []canon.Rejection) error {
	if len(rs) == 0 {
		return nil
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.rejected_rows (source, entity, position, row_key, rule, detail, raw, run_id, rejected_at, _version) VALUES", w.db))
	if err != nil {
		return fmt.Errorf("insert into rejected_rows: %w", unavailable(err))
	}
	defer batch.Abort()
	for _, r := range rs {
		if err := batch.Append(r.Source, string(r.Entity), uint64(r.Position), r.Key, string(r.Rule), r.Detail, r.Raw, runID, at, uint64(at.Unix())); err != nil {
			return fmt.Errorf("rejected row: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rejected rows: %w", len(rs), unavailable(err))
	}
	return nil
}

// RecordRun writes what a run did, again after a pause while the server
// does not answer (a run that failed because ClickHouse restarted is
// recorded once it is back).
func (w *DB) RecordRun(ctx context.Context, r warehouse.Run) error {
	for attempt := 0; ; attempt++ {
		err := w.insertRow(ctx, `INSERT INTO {db}.runs (run_id, stage, as_of, started_at, finished_at, status, rows_read, rows_landed, rows_rejected, rows_blank, message, detail, tessera_version, invocation_id) VALUES`,
			r.ID, r.Stage, r.AsOf, r.Started.UTC(), r.Finished.UTC(), r.Status, r.Read, r.Landed, r.Rejected, r.Blank, r.Message, r.Detail, r.Version, r.Invocation)
		if err == nil || !errors.Is(err, warehouse.ErrUnavailable) || attempt == len(w.Backoff) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(w.Backoff[attempt]):
		}
	}
}

// RawCounts returns the rows of each raw table, one per key (FINAL).
func (w *DB) RawCounts(ctx context.Context) ([]warehouse.Count, error) {
	var out []warehouse.Count
	for _, t := range canon.Tables {
		var n uint64
		if err := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.%s FINAL%s", w.db, warehouse.RawTable(t.Entity), whereLive(t.Entity))).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", warehouse.RawTable(t.Entity), err)
		}
		out = append(out, warehouse.Count{Name: warehouse.RawTable(t.Entity), N: n})
	}
	return out, nil
}

// RejectedByRule counts the rejected rows of a run (every run's: "") by
// entity and rule.
func (w *DB) RejectedByRule(ctx context.Context, runID string) ([]warehouse.Count, error) {
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT concat(entity, ' ', rule), count() FROM %s.rejected_rows FINAL WHERE ? = '' OR run_id = ? GROUP BY entity, rule ORDER BY entity, rule", w.db), runID, runID)
	if err != nil {
		return nil, fmt.Errorf("count rejected rows: %w", err)
	}
	defer rows.Close()
	var out []warehouse.Count
	for rows.Next() {
		var c warehouse.Count
		if err := rows.Scan(&c.Name, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
