package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/warehouse"
)

// ReadPartition reads the columns of schema from one as-of date of a published
// table (customer_features, customer_scores) into one record, ordered by the
// first column, which the caller releases. Column types: String, Int64,
// Int32, Float64 and Date32 (each also nullable), Boolean.
func (w *DB) ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error) {
	return w.readPartition(ctx, mem, table, schema, asOf, "")
}

// ReadRun is ReadPartition of the rows of one run.
func (w *DB) ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error) {
	return w.readPartition(ctx, mem, table, schema, asOf, runID)
}

// ReadRunSlice is ReadRun of the rows of a slice's customers.
func (w *DB) ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s warehouse.Slice) (arrow.Record, error) {
	return w.readSlice(ctx, mem, table, schema, asOf, runID, s)
}

// readPartition reads a date's rows of a table, of one run unless runID is "".
func (w *DB) readPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error) {
	return w.readSlice(ctx, mem, table, schema, asOf, runID, warehouse.Slice{})
}

// readSlice is readPartition of a slice's customers.
func (w *DB) readSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s warehouse.Slice) (arrow.Record, error) {
	names := make([]string, schema.NumFields())
	dest := make([]any, schema.NumFields())
	for i, f := range schema.Fields() {
		var ok bool
		if names[i], dest[i], ok = scanDest(f); !ok {
			return nil, fmt.Errorf("read %s: column %s of type %s", table, f.Name, f.Type)
		}
	}
	slice := ""
	if !s.Whole() {
		slice = " AND " + s.Filter("customer_id")
	}
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s.%s WHERE as_of = toDate(?) AND (? = '' OR run_id = ?)%s ORDER BY %s",
		strings.Join(names, ", "), w.db, table, slice, warehouse.KeyColumn(schema)), asOf.Format(time.DateOnly), runID, runID)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		for i, d := range dest {
			appendScanned(b.Field(i), d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	rec := b.NewRecord()
	if rec.NumRows() == 0 {
		rec.Release()
		return nil, fmt.Errorf("%s as of %s: %w", table, asOf.Format(time.DateOnly), warehouse.ErrNoPartition)
	}
	return rec, nil
}

// scanDest is what a published column is selected as (cast to the Go type
// scanned, whatever the integer width) and scanned into; a nullable column
// into a pointer to a pointer.
func scanDest(f arrow.Field) (expr string, dest any, ok bool) {
	expr = f.Name
	switch f.Type.ID() {
	case arrow.STRING:
		dest = new(string)
	case arrow.INT64:
		expr, dest = "toInt64("+f.Name+")", nullable[int64](f.Nullable)
	case arrow.INT32:
		expr, dest = "toInt32("+f.Name+")", nullable[int32](f.Nullable)
	case arrow.FLOAT64:
		dest = nullable[float64](f.Nullable)
	case arrow.DATE32:
		dest = nullable[time.Time](f.Nullable)
	case arrow.BOOL:
		expr, dest = "toUInt8("+f.Name+")", new(uint8)
	default:
		return "", nil, false
	}
	return expr, dest, true
}

func nullable[T any](null bool) any {
	if null {
		return new(*T)
	}
	return new(T)
}

// appendScanned appends a scanned value to its column's builder.
func appendScanned(b array.Builder, d any) {
	switch x := d.(type) {
	case *string:
		b.(*array.StringBuilder).Append(*x)
	case *int64:
		b.(*array.Int64Builder).Append(*x)
	case *int32:
		b.(*array.Int32Builder).Append(*x)
	case *float64:
		b.(*array.Float64Builder).Append(*x)
	case *time.Time:
		b.(*array.Date32Builder).Append(arrow.Date32FromTime(*x))
	case *uint8:
		b.(*array.BooleanBuilder).Append(*x != 0)
	case **int64, **int32, **float64, **time.Time:
		if appendPointed(b, x) {
			return
		}
		b.AppendNull()
	}
}

// appendPointed appends the value a pointer to a pointer holds; false for nil.
func appendPointed(b array.Builder, d any) bool {
	switch x := d.(type) {
	case **int64:
		if *x != nil {
			b.(*array.Int64Builder).Append(**x)
			return true
		}
	case **int32:
		if *x != nil {
			b.(*array.Int32Builder).Append(**x)
			return true
		}
	case **float64:
		if *x != nil {
			b.(*array.Float64Builder).Append(**x)
			return true
		}
	case **time.Time:
		if *x != nil {
			b.(*array.Date32Builder).Append(arrow.Date32FromTime(**x))
			return true
		}
	}
	return false
}
