package clickhouse

import (
	"context"
	"fmt"
	"math"
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
	cols, err := publishedColumns(table, schema)
	if err != nil {
		return nil, err
	}
	slice := ""
	if !s.Whole() {
		slice = " AND " + s.Filter("customer_id")
	}
	from := fmt.Sprintf("{db}.%s WHERE as_of = toDate(?) AND (? = '' OR run_id = ?)%s", table, slice)
	var rec arrow.Record
	err = w.readPublished(ctx, mem, cols, schema, from, math.MaxInt, func(r arrow.Record) error {
		r.Retain()
		rec = r
		return nil
	}, asOf.Format(time.DateOnly), runID, runID)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	if rec.NumRows() == 0 {
		rec.Release()
		return nil, fmt.Errorf("%s as of %s: %w", table, asOf.Format(time.DateOnly), warehouse.ErrNoPartition)
	}
	return rec, nil
}

// readPublished hands over the columns p selects of the rows of from (a
// FROM clause, {db} for the database, with its arguments), in the order of
// the schema's first column, batch rows at a time.
func (w *DB) readPublished(ctx context.Context, mem memory.Allocator, p published, schema *arrow.Schema, from string, batch int, fn func(arrow.Record) error, args ...any) error {
	rows, err := w.conn.Query(ctx, w.expand(fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(p.exprs, ", "), from, warehouse.KeyColumn(schema))), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return handRows(rows, mem, schema, p.scan, batch, func(s *scannedRows) []func() {
		add := make([]func(), len(p.holders))
		for i, d := range p.holders {
			add[i] = scannedAppender(s, i, d)
		}
		return add
	}, fn)
}

// published is how the columns of a published table are selected and
// scanned. A nullable column is selected as two, whether it is NULL and its
// value otherwise: clickhouse-go allocates each value of a Nullable column
// it scans into a pointer.
type published struct {
	exprs   []string // the select list
	holders []any    // each column's value: *T, or *nullValue[T]
	scan    []any    // what each expression of the list is scanned into
	at      []int    // each column's value's place in exprs and scan
}

// nullValue is a nullable column's value.
type nullValue[T any] struct {
	null uint8
	v    T
}

// publishedColumns selects the columns of schema (cast to the Go type
// scanned, whatever the integer width).
func publishedColumns(table string, schema *arrow.Schema) (published, error) {
	var p published
	for _, f := range schema.Fields() {
		var expr string
		var holder any
		var scan []any
		switch f.Type.ID() {
		case arrow.STRING:
			expr = "%s"
			holder, scan = scanned[string](false)
		case arrow.INT64:
			expr = "toInt64(%s)"
			holder, scan = scanned[int64](f.Nullable)
		case arrow.INT32:
			expr = "toInt32(%s)"
			holder, scan = scanned[int32](f.Nullable)
		case arrow.FLOAT64:
			expr = "%s"
			holder, scan = scanned[float64](f.Nullable)
		case arrow.DATE32:
			expr = "%s"
			holder, scan = scanned[time.Time](f.Nullable)
		case arrow.BOOL:
			expr = "toUInt8(%s)"
			holder, scan = scanned[uint8](false)
		default:
			return published{}, fmt.Errorf("read %s: column %s of type %s", table, f.Name, f.Type)
		}
		p.holders, p.scan = append(p.holders, holder), append(p.scan, scan...)
		p.at = append(p.at, len(p.scan)-1)
		if len(scan) == 1 {
			p.exprs = append(p.exprs, fmt.Sprintf(expr, f.Name))
			continue
		}
		zero := "0"
		if f.Type.ID() == arrow.DATE32 {
			zero = "toDate(0)"
		}
		p.exprs = append(p.exprs, "isNull("+f.Name+")", fmt.Sprintf(expr, "ifNull("+f.Name+", "+zero+")"))
	}
	return p, nil
}

// scanned is a column's value (*T, or *nullValue[T]) and what its
// expressions are scanned into.
func scanned[T any](null bool) (any, []any) {
	if null {
		v := new(nullValue[T])
		return v, []any{&v.null, &v.v}
	}
	v := new(T)
	return v, []any{v}
}

// scannedAppender appends the value scanned into d of column i (found once
// a read, as valueAppender).
func scannedAppender(s *scannedRows, i int, d any) func() {
	b := s.builders[i]
	switch x := d.(type) {
	case *string:
		return func() { s.str(i, *x) }
	case *[]byte:
		return func() { s.fixed(i, *x) }
	case *int64:
		b := b.(*array.Int64Builder)
		return func() { b.Append(*x) }
	case *int32:
		b := b.(*array.Int32Builder)
		return func() { b.Append(*x) }
	case *float64:
		b := b.(*array.Float64Builder)
		return func() { b.Append(*x) }
	case *time.Time:
		b := b.(*array.Date32Builder)
		return func() { b.Append(arrow.Date32FromTime(*x)) }
	case *uint8:
		b := b.(*array.BooleanBuilder)
		return func() { b.Append(*x != 0) }
	case *nullValue[int64]:
		b := b.(*array.Int64Builder)
		return func() { appendNullable(b, x.null, x.v) }
	case *nullValue[int32]:
		b := b.(*array.Int32Builder)
		return func() { appendNullable(b, x.null, x.v) }
	case *nullValue[float64]:
		b := b.(*array.Float64Builder)
		return func() { appendNullable(b, x.null, x.v) }
	case *nullValue[time.Time]:
		b := b.(*array.Date32Builder)
		return func() { appendNullable(b, x.null, arrow.Date32FromTime(x.v)) }
	}
	panic(fmt.Sprintf("column %d scanned into %T", i, d))
}

func appendNullable[T any](b interface {
	Append(T)
	AppendNull()
}, null uint8, v T) {
	if null != 0 {
		b.AppendNull()
		return
	}
	b.Append(v)
}
