package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Identities calls fn with every link, the oldest first: the first link of
// an id is the one that holds.
func (w *DB) Identities(ctx context.Context, fn func(warehouse.Identity)) error {
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT kind, source, id, customer_id, linked_at FROM %s.identities ORDER BY linked_at", w.db))
	if err != nil {
		return fmt.Errorf("read identities: %w", unavailable(err))
	}
	defer rows.Close()
	var l warehouse.Identity
	for rows.Next() {
		if err := rows.Scan(&l.Kind, &l.Source, &l.ID, &l.CustomerID, &l.At); err != nil {
			return fmt.Errorf("read identities: %w", unavailable(err))
		}
		fn(l)
	}
	return rows.Err()
}

// SaveIdentities adds links.
func (w *DB) SaveIdentities(ctx context.Context, ls []warehouse.Identity, runID string, at time.Time) error {
	if len(ls) == 0 {
		return nil
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.identities (kind, source, id, customer_id, linked_at, run_id) VALUES", w.db))
	if err != nil {
		return fmt.Errorf("save identities: %w", unavailable(err))
	}
	defer batch.Abort()
	n := len(ls)
	kind, src, id, cust, when, run := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n), make([]string, n)
	for i, l := range ls {
		kind[i], src[i], id[i], cust[i], when[i], run[i] = l.Kind, l.Source, l.ID, l.CustomerID, at.UTC(), runID
		if !l.At.IsZero() {
			when[i] = l.At.UTC()
		}
	}
	for i, col := range []any{kind, src, id, cust, when, run} {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("save identities: %w", unavailable(err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save identities: %w", unavailable(err))
	}
	return nil
}

// RawKeys calls fn with the key of every row landed in an entity's raw table;
// extract checks references against them when it read the parents only in part.
// Only entities with a one-column text key are referred to.
func (w *DB) RawKeys(ctx context.Context, e canon.Entity, fn func(string)) error {
	col, err := warehouse.RefKey(e)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("SELECT DISTINCT %s FROM %s.%s", col, w.db, warehouse.RawTable(e))
	if e == canon.Orders {
		// Their lines land under their customers (owners.go): learn them too,
		// of the live row of each order.
		q = fmt.Sprintf("SELECT order_id, customer_hash FROM %s.raw_orders FINAL WHERE _deleted = 0", w.db)
	}
	rows, err := w.conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("read the keys of %s: %w", warehouse.RawTable(e), err)
	}
	defer rows.Close()
	var k string
	var hash uint64
	dest := []any{&k}
	if e == canon.Orders {
		dest = append(dest, &hash)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read the keys of %s: %w", warehouse.RawTable(e), err)
		}
		if e == canon.Orders {
			w.owners.put(k, hash, true)
		}
		fn(k)
	}
	return rows.Err()
}
