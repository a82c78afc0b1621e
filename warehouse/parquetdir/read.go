package parquetdir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Read reads an embedded raw table into Arrow records of at most batch rows;
// at least one, empty when no row matches. An optional entity that was never
// written (a shop without site events) reads as empty.
func (p *Dir) Read(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int) ([]arrow.Record, error) {
	return warehouse.Collect(func(fn func(arrow.Record) error) error { return p.Each(ctx, mem, q, batch, fn) })
}

// Customers counts the distinct customers of the rows q reads.
func (p *Dir) Customers(ctx context.Context, q warehouse.Query) (int, error) {
	at := slices.Index(q.Columns, "customer_id")
	if at < 0 {
		q.Columns = append(slices.Clone(q.Columns), "customer_id")
		at = len(q.Columns) - 1
	}
	seen := map[string]struct{}{}
	err := p.Each(ctx, p.mem, q, 1<<16, func(rec arrow.Record) error {
		ids := rec.Column(at).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if _, ok := seen[ids.Value(i)]; !ok {
				seen[strings.Clone(ids.Value(i))] = struct{}{}
			}
		}
		return nil
	})
	return len(seen), err
}

// Each reads an embedded raw table as Read does, handing each record to fn as
// it is read and releasing it when fn returns.
func (p *Dir) Each(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int, fn func(arrow.Record) error) error {
	schema, cols, err := q.Schema()
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	f, err := os.Open(p.Path(warehouse.RawTable(q.Entity)))
	if errors.Is(err, os.ErrNotExist) {
		switch q.Entity {
		case canon.Customers, canon.Orders, canon.OrderLines: // extract always writes these
			return fmt.Errorf("embedded warehouse has no %s: run extract first", warehouse.RawTable(q.Entity))
		}
		return warehouse.HandLast(b, 0, fn) // a shop without this entity
	}
	if err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("embedded warehouse %s: %w", warehouse.RawTable(q.Entity), err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batch)}, mem)
	if err != nil {
		return err
	}
	idx, err := columnIndices(fr, schema)
	if err != nil {
		return fmt.Errorf("embedded warehouse %s: %w", warehouse.RawTable(q.Entity), err)
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
	owns, err := p.sliceFilter(ctx, mem, q, cols)
	if err != nil {
		return err
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
			if owns != nil && !owns(rec, r) {
				continue
			}
			for i := range cols {
				copyValue(b.Field(i), rec.Column(i), r)
			}
		}
		if canon.Len(b) >= batch {
			if err := warehouse.Hand(b.NewRecord(), fn); err != nil {
				return err
			}
			handed++
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return warehouse.HandLast(b, handed, fn)
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

// sliceFilter says which rows of a record belong to the query's slice (nil:
// all): by the customer column, which must be read, or for order lines by
// their orders' customers.
func (p *Dir) sliceFilter(ctx context.Context, mem memory.Allocator, q warehouse.Query, cols []canon.Column) (func(arrow.Record, int) bool, error) {
	if q.Slice.Whole() {
		return nil, nil
	}
	key := "customer_id"
	if q.Entity == canon.OrderLines {
		key = "order_id"
	}
	at := slices.IndexFunc(cols, func(c canon.Column) bool { return c.Name == key })
	if at < 0 {
		return nil, fmt.Errorf("read %s: a slice needs %s among the columns read", q.Entity, key)
	}
	switch q.Entity {
	case canon.Customers, canon.Orders, canon.Events, canon.CampaignEvents:
		return func(rec arrow.Record, r int) bool { return q.Slice.Owns(rec.Column(at).(*array.String).Value(r)) }, nil
	case canon.OrderLines:
		orders := map[string]bool{}
		all := warehouse.Query{Entity: canon.Orders, Columns: []string{"order_id"}, Slice: q.Slice}
		all.Columns = append(all.Columns, "customer_id")
		if err := p.Each(ctx, mem, all, 1<<16, func(rec arrow.Record) error {
			ids := canon.ArrayOf[*array.String](rec, "order_id")
			for i := 0; i < int(rec.NumRows()); i++ {
				orders[strings.Clone(ids.Value(i))] = true
			}
			return nil
		}); err != nil {
			return nil, err
		}
		return func(rec arrow.Record, r int) bool { return orders[rec.Column(at).(*array.String).Value(r)] }, nil
	}
	return nil, fmt.Errorf("read %s: it has no customers to slice by", q.Entity)
}
