package clickhouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// valueAppender appends the value scanned into v of canonical column i:
// found once a read, not a type switch (and a copy of the column) a value.
// Times come as seconds, and an unrated rating (0 in ClickHouse) is null;
// the other kinds are appended as scannedAppender appends them.
func valueAppender(s *scannedRows, i int, c canon.Column, v any) func() {
	switch x := v.(type) {
	case *uint32:
		b := s.builders[i].(*array.TimestampBuilder)
		return func() { b.Append(arrow.Timestamp(*x)) }
	case *int32:
		if c.Max > 0 {
			b := s.builders[i].(*array.Int32Builder)
			return func() {
				if *x == 0 {
					b.AppendNull()
				} else {
					b.Append(*x)
				}
			}
		}
	}
	return scannedAppender(s, i, v)
}

// Read reads a raw table (FINAL: one version per key) into Arrow records of at
// most batch rows; at least one, empty when no row matches. The caller
// releases them.
func (w *DB) Read(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int) ([]arrow.Record, error) {
	return warehouse.Collect(func(fn func(arrow.Record) error) error { return w.Each(ctx, mem, q, batch, fn) })
}

// Customers counts the distinct customers of the rows q reads.
func (w *DB) Customers(ctx context.Context, q warehouse.Query) (int, error) {
	where, err := w.where(ctx, q)
	if err != nil {
		return 0, err
	}
	var n uint64
	sql := fmt.Sprintf("SELECT uniqExact(customer_id) FROM %s.%s FINAL%s", w.db, warehouse.RawTable(q.Entity), where)
	if err := w.conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s customers: %w", q.Entity, err)
	}
	return int(n), nil
}

// Each reads a raw table as Read does, handing each record to fn as it is
// read and releasing it when fn returns: memory holds one batch, not the table.
func (w *DB) Each(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int, fn func(arrow.Record) error) error {
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
			for _, u := range q.UsedWhen {
				if u.Column == c.Name {
					exprs[i] = usedWhen(q, u)
				}
			}
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
	where, err := w.where(ctx, q)
	if err != nil {
		return err
	}
	if err := w.fixStrings(ctx, q, cols, exprs, dest); err != nil {
		return err
	}
	sql := fmt.Sprintf("SELECT %s FROM %s.%s FINAL%s", strings.Join(exprs, ", "), w.db, warehouse.RawTable(q.Entity), where)
	rows, err := w.conn.Query(ctx, sql)
	if err != nil {
		return w.readFailed(ctx, q.Entity, err)
	}
	defer rows.Close()
	err = handRows(rows, mem, schema, dest, batch, func(s *scannedRows) []func() {
		add := make([]func(), len(cols))
		for i, c := range cols {
			add[i] = valueAppender(s, i, c, dest[i])
		}
		return add
	}, fn)
	if err != nil {
		return w.readFailed(ctx, q.Entity, err)
	}
	return nil
}

// readFailed says why a read of e failed. A text value longer than
// text_lengths recorded (landed by a Tessera before migration 0036, or
// written by hand) fails it: the lengths are measured again for the stage's
// next run.
func (w *DB) readFailed(ctx context.Context, e canon.Entity, err error) error {
	if !tooLong(err) {
		return fmt.Errorf("read %s: %w", e, err)
	}
	t, lerr := canon.Lookup(e)
	if lerr == nil {
		_, lerr = w.measureTextLengths(context.WithoutCancel(ctx), e, textColumns(t))
	}
	if lerr != nil {
		return fmt.Errorf("read %s: a text value is longer than text_lengths records, and measuring them again failed (%v): %w", e, lerr, err)
	}
	return fmt.Errorf("read %s: a text value is longer than text_lengths recorded (rows landed other than by this extract): measured again, run the stage again: %w", e, err)
}

// tooLargeStringSize is ClickHouse's error for a value longer than its
// FixedString.
const tooLargeStringSize = 131

// fixStrings selects the text columns whose values are short as
// FixedStrings as long as their longest (see textLengths). Extract rejects
// text holding a NUL byte, so trimming the padding gives each value back
// as it was.
func (w *DB) fixStrings(ctx context.Context, q warehouse.Query, cols []canon.Column, exprs []string, dest []any) error {
	var text []string
	for _, c := range cols {
		if c.Kind == canon.String {
			text = append(text, c.Name)
		}
	}
	if len(text) == 0 {
		return nil
	}
	lengths, err := w.textLengths(ctx, q.Entity, text)
	if err != nil {
		return err
	}
	for i, c := range cols {
		// A column's expression (usedWhen) is never longer than the column.
		if fixed, ok := asFixedString(exprs[i], lengths[c.Name]); c.Kind == canon.String && ok {
			exprs[i], dest[i] = fixed, new([]byte)
		}
	}
	return nil
}

// usedWhen is the expression of a column read only where u says: "" on
// the other rows.
func usedWhen(q warehouse.Query, u warehouse.UsedWhen) string {
	var conds []string
	if !u.Since.IsZero() && q.TimeColumn != "" {
		conds = append(conds, fmt.Sprintf("%s >= toDateTime(%d)", q.TimeColumn, u.Since.Unix()))
	}
	if u.When != "" {
		conds = append(conds, fmt.Sprintf("%s = %s", u.When, quote(u.Is)))
	}
	if len(conds) == 0 {
		return u.Column
	}
	return fmt.Sprintf("if(%s, %s, '')", strings.Join(conds, " AND "), u.Column)
}

// where is the WHERE clause of the rows q reads ("" for all).
func (w *DB) where(ctx context.Context, q warehouse.Query) (string, error) {
	var where []string
	if q.TimeColumn != "" {
		where = append(where, fmt.Sprintf("%s < toDateTime(%d)", q.TimeColumn, q.Before.Unix()))
	}
	if q.NonEmpty != "" {
		where = append(where, q.NonEmpty+" != ''")
	}
	if c := liveOnly(q.Entity); c != "" {
		where = append(where, c)
	}
	for _, o := range q.OneOf {
		values := make([]string, len(o.Values))
		for i, v := range o.Values {
			values[i] = quote(v)
		}
		where = append(where, fmt.Sprintf("%s IN (%s)", o.Column, strings.Join(values, ", ")))
	}
	if !q.Slice.Whole() {
		s, err := w.sliceFilter(ctx, q)
		if err != nil {
			return "", err
		}
		where = append(where, s)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), nil
}

// sliceFilter is the condition of the rows of a slice's customers: by the
// customer column's hash where the entity has one, by the hash itself where
// the table is sorted by it (orders, and lines, which carry their order's).
// A cluster's tables made before migration 0032 keep their old sorting key,
// and their older rows no hash: there orders are read by their customer
// column and lines through their orders.
func (w *DB) sliceFilter(ctx context.Context, q warehouse.Query) (string, error) {
	switch q.Entity {
	case canon.Customers, canon.Events, canon.CampaignEvents:
		return q.Slice.Filter("customer_id"), nil
	case canon.Orders, canon.OrderLines:
		byHash, err := w.ordersByCustomerHash(ctx)
		switch {
		case err != nil:
			return "", err
		case byHash:
			return q.Slice.FilterHashed(hashColumn), nil
		case q.Entity == canon.Orders:
			return q.Slice.Filter("customer_id"), nil
		}
		return fmt.Sprintf("order_id IN (SELECT order_id FROM %s.%s FINAL WHERE _deleted = 0 AND %s)", w.db, warehouse.RawTable(canon.Orders), q.Slice.Filter("customer_id")), nil
	}
	return "", fmt.Errorf("read %s: it has no customers to slice by", q.Entity)
}
