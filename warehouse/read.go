package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/tessera-cdp/tessera/canon"
)

// Query says which rows and columns of a raw table to read into Arrow.
type Query struct {
	Entity  canon.Entity
	Columns []string // canonical columns, in the order wanted
	// TimeColumn and Before: only rows whose TimeColumn is before Before (point
	// in time); no filter when TimeColumn is empty.
	TimeColumn string
	Before     time.Time
	// NonEmpty: only rows where this text column is not empty, if set.
	NonEmpty string
}

// Schema is the Arrow schema of the query's records: the canonical types.
func (q Query) Schema() (*arrow.Schema, []canon.Column, error) {
	t, err := canon.Lookup(q.Entity)
	if err != nil {
		return nil, nil, err
	}
	var fields []arrow.Field
	var cols []canon.Column
	for _, name := range q.Columns {
		i := t.Index(name)
		if i < 0 {
			return nil, nil, fmt.Errorf("%s has no column %s", q.Entity, name)
		}
		fields = append(fields, t.Schema().Field(i))
		cols = append(cols, t.Columns[i])
	}
	return arrow.NewSchema(fields, nil), cols, nil
}

// appendValue appends one value of a canonical column; an unrated rating (0 in
// ClickHouse) is null.
func appendValue(b array.Builder, c canon.Column, v any) {
	switch x := v.(type) {
	case *string:
		b.(*array.StringBuilder).Append(*x)
	case *uint32:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(*x))
	case *float64:
		b.(*array.Float64Builder).Append(*x)
	case *int32:
		if c.Max > 0 && *x == 0 {
			b.AppendNull()
		} else {
			b.(*array.Int32Builder).Append(*x)
		}
	case *uint8:
		b.(*array.BooleanBuilder).Append(*x != 0)
	}
}

// collect gathers the records each hands over; the caller releases them.
func collect(each func(fn func(arrow.Record) error) error) ([]arrow.Record, error) {
	var out []arrow.Record
	err := each(func(r arrow.Record) error {
		r.Retain()
		out = append(out, r)
		return nil
	})
	if err != nil {
		for _, r := range out {
			r.Release()
		}
		return nil, err
	}
	return out, nil
}

// Read reads a raw table (FINAL: one version per key) into Arrow records of at
// most batch rows; at least one, empty when no row matches. The caller
// releases them.
func (w *ClickHouse) Read(ctx context.Context, mem memory.Allocator, q Query, batch int) ([]arrow.Record, error) {
	return collect(func(fn func(arrow.Record) error) error { return w.Each(ctx, mem, q, batch, fn) })
}

// Each reads a raw table as Read does, handing each record to fn as it is
// read and releasing it when fn returns: memory holds one batch, not the table.
func (w *ClickHouse) Each(ctx context.Context, mem memory.Allocator, q Query, batch int, fn func(arrow.Record) error) error {
	schema, cols, err := q.Schema()
	if err != nil {
		return err
	}
	exprs := make([]string, len(cols))
	dest := make([]any, len(cols))
	for i, c := range cols {
		switch c.Kind {
		case canon.String:
			exprs[i], dest[i] = c.Name, new(string)
		case canon.Timestamp:
			exprs[i], dest[i] = "toUInt32("+c.Name+")", new(uint32)
		case canon.Money:
			exprs[i], dest[i] = c.Name, new(float64)
		case canon.Int:
			exprs[i], dest[i] = "toInt32("+c.Name+")", new(int32)
		case canon.Bool:
			exprs[i], dest[i] = c.Name, new(uint8)
		}
	}
	var where []string
	if q.TimeColumn != "" {
		where = append(where, fmt.Sprintf("%s < toDateTime(%d)", q.TimeColumn, q.Before.Unix()))
	}
	if q.NonEmpty != "" {
		where = append(where, q.NonEmpty+" != ''")
	}
	sql := fmt.Sprintf("SELECT %s FROM %s.%s FINAL", strings.Join(exprs, ", "), w.db, RawTable(q.Entity))
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := w.conn.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("read %s: %w", q.Entity, err)
	}
	defer rows.Close()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	handed := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read %s: %w", q.Entity, err)
		}
		for i, c := range cols {
			appendValue(b.Field(i), c, dest[i])
		}
		if b.Field(0).Len() >= batch {
			if err := hand(b.NewRecord(), fn); err != nil {
				return err
			}
			handed++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", q.Entity, err)
	}
	return handLast(b, handed, fn)
}

// hand gives rec to fn and releases it.
func hand(rec arrow.Record, fn func(arrow.Record) error) error {
	defer rec.Release()
	return fn(rec)
}

// handLast hands the builder's last rows over, or an empty record when
// nothing was handed yet (the reader then still sees the schema).
func handLast(b *array.RecordBuilder, handed int, fn func(arrow.Record) error) error {
	rec := b.NewRecord()
	if rec.NumRows() == 0 && handed > 0 {
		rec.Release()
		return nil
	}
	return hand(rec, fn)
}

// Read reads an embedded raw table into Arrow records of at most batch rows;
// at least one, empty when no row matches. An optional entity that was never
// written (a shop without site events) reads as empty.
func (p *ParquetDir) Read(ctx context.Context, mem memory.Allocator, q Query, batch int) ([]arrow.Record, error) {
	return collect(func(fn func(arrow.Record) error) error { return p.Each(ctx, mem, q, batch, fn) })
}

// Each reads an embedded raw table as Read does, handing each record to fn as
// it is read and releasing it when fn returns.
func (p *ParquetDir) Each(ctx context.Context, mem memory.Allocator, q Query, batch int, fn func(arrow.Record) error) error {
	schema, cols, err := q.Schema()
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	f, err := os.Open(p.Path(RawTable(q.Entity)))
	if errors.Is(err, os.ErrNotExist) {
		switch q.Entity {
		case canon.Customers, canon.Orders, canon.OrderLines: // extract always writes these
			return fmt.Errorf("embedded warehouse has no %s: run extract first", RawTable(q.Entity))
		}
		return handLast(b, 0, fn) // a shop without this entity
	}
	if err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("embedded warehouse %s: %w", RawTable(q.Entity), err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batch)}, mem)
	if err != nil {
		return err
	}
	idx, err := columnIndices(fr, schema)
	if err != nil {
		return fmt.Errorf("embedded warehouse %s: %w", RawTable(q.Entity), err)
	}
	rr, err := fr.GetRecordReader(ctx, idx, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	timeCol, textCol := -1, -1
	for i, c := range cols {
		if c.Name == q.TimeColumn {
			timeCol = i
		}
		if c.Name == q.NonEmpty {
			textCol = i
		}
	}
	if (q.TimeColumn != "" && timeCol < 0) || (q.NonEmpty != "" && textCol < 0) {
		return fmt.Errorf("read %s: the filter columns must be among the columns read", q.Entity)
	}
	limit := q.Before.Unix()
	handed := 0
	for rr.Next() {
		rec := rr.Record()
		for r := 0; r < int(rec.NumRows()); r++ {
			if timeCol >= 0 && seconds(rec.Column(timeCol), r) >= limit {
				continue
			}
			if textCol >= 0 && rec.Column(textCol).(*array.String).Value(r) == "" {
				continue
			}
			for i := range cols {
				copyValue(b.Field(i), rec.Column(i), r)
			}
		}
		if b.Field(0).Len() >= batch {
			if err := hand(b.NewRecord(), fn); err != nil {
				return err
			}
			handed++
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return handLast(b, handed, fn)
}

// seconds reads a timestamp as Unix seconds, whatever unit Parquet gave it
// (it has no second unit: they come back in milliseconds).
func seconds(a arrow.Array, i int) int64 {
	ts := a.(*array.Timestamp)
	perSecond := int64(arrow.Second.Multiplier() / ts.DataType().(*arrow.TimestampType).Unit.Multiplier())
	return int64(ts.Value(i)) / perSecond
}

func copyValue(b array.Builder, a arrow.Array, i int) {
	if a.IsNull(i) {
		b.AppendNull()
		return
	}
	switch a := a.(type) {
	case *array.String:
		b.(*array.StringBuilder).Append(a.Value(i))
	case *array.Timestamp:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(seconds(a, i)))
	case *array.Float64:
		b.(*array.Float64Builder).Append(a.Value(i))
	case *array.Int32:
		b.(*array.Int32Builder).Append(a.Value(i))
	case *array.Int64:
		b.(*array.Int64Builder).Append(a.Value(i))
	case *array.Date32:
		b.(*array.Date32Builder).Append(a.Value(i))
	case *array.Boolean:
		b.(*array.BooleanBuilder).Append(a.Value(i))
	}
}
