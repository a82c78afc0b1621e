package warehouse

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
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
	// Slice: only the rows of the slice's customers (order lines: of their
	// orders). Products belong to every slice.
	Slice Slice
	// UsedWhen: text columns whose value the reader uses only on some rows
	// (a site event's type only in the last 90 days, its session only where
	// it put something in the cart). A store may hand "" on the other rows:
	// it then sends fewer bytes.
	UsedWhen []UsedWhen
	// OneOf: the reader uses only rows whose column holds one of the values
	// (campaign events delivered, opened or clicked, not those sent). A
	// store may leave the others out.
	OneOf []OneOf
}

// OneOf says only rows whose Column is one of Values are used.
type OneOf struct {
	Column string
	Values []string
}

// UsedWhen says Column is used only on rows where column When is Is (When
// "": any row) and the query's TimeColumn is at or after Since (zero: any
// time).
type UsedWhen struct {
	Column, When, Is string
	Since            time.Time
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

// Collect gathers the records each hands over; the caller releases them.
func Collect(each func(fn func(arrow.Record) error) error) ([]arrow.Record, error) {
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

// Hand gives rec to fn and releases it.
func Hand(rec arrow.Record, fn func(arrow.Record) error) error {
	defer rec.Release()
	return fn(rec)
}

// HandLast hands the builder's last rows over, or an empty record when
// nothing was handed yet (the reader then still sees the schema).
func HandLast(b *array.RecordBuilder, handed int, fn func(arrow.Record) error) error {
	rec := b.NewRecord()
	if rec.NumRows() == 0 && handed > 0 {
		rec.Release()
		return nil
	}
	return Hand(rec, fn)
}
