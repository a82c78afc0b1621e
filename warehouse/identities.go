package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
)

// Identity links an id a customer is known by to the canonical customer_id.
type Identity struct {
	Kind       string `json:"kind"`   // customer_id, email_hash or anonymous_id
	Source     string `json:"source"` // the source system, for kind customer_id
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// At is when the link holds from: for an anonymous_id, the time of the
	// login event; zero for the time of the run.
	At time.Time `json:"at"`
}

// Identities calls fn with every link, the oldest first: the first link of
// an id is the one that holds.
func (w *ClickHouse) Identities(ctx context.Context, fn func(Identity)) error {
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT kind, source, id, customer_id, linked_at FROM %s.identities ORDER BY linked_at", w.db))
	if err != nil {
		return fmt.Errorf("read identities: %w", err)
	}
	defer rows.Close()
	var l Identity
	for rows.Next() {
		if err := rows.Scan(&l.Kind, &l.Source, &l.ID, &l.CustomerID, &l.At); err != nil {
			return fmt.Errorf("read identities: %w", err)
		}
		fn(l)
	}
	return rows.Err()
}

// SaveIdentities adds links.
func (w *ClickHouse) SaveIdentities(ctx context.Context, ls []Identity, runID string, at time.Time) error {
	if len(ls) == 0 {
		return nil
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.identities (kind, source, id, customer_id, linked_at, run_id) VALUES", w.db))
	if err != nil {
		return fmt.Errorf("save identities: %w", err)
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
			return fmt.Errorf("save identities: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save identities: %w", err)
	}
	return nil
}

// Identities reads identities.jsonl of the embedded warehouse.
func (p *ParquetDir) Identities(_ context.Context, fn func(Identity)) error {
	return readJSONL(p, "identities.jsonl", fn)
}

// SaveIdentities appends to identities.jsonl.
func (p *ParquetDir) SaveIdentities(_ context.Context, ls []Identity, _ string, _ time.Time) error {
	if len(ls) == 0 {
		return nil
	}
	return appendJSONL(p, "identities.jsonl", ls...)
}

// RawKeys calls fn with the key of every row landed in an entity's raw table;
// extract checks references against them when it read the parents only in part.
// Only entities with a one-column text key are referred to.
func (w *ClickHouse) RawKeys(ctx context.Context, e canon.Entity, fn func(string)) error {
	col, err := refKey(e)
	if err != nil {
		return err
	}
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT %s FROM %s.%s", col, w.db, RawTable(e)))
	if err != nil {
		return fmt.Errorf("read the keys of %s: %w", RawTable(e), err)
	}
	defer rows.Close()
	var k string
	for rows.Next() {
		if err := rows.Scan(&k); err != nil {
			return fmt.Errorf("read the keys of %s: %w", RawTable(e), err)
		}
		fn(k)
	}
	return rows.Err()
}

// RawKeys reads the keys of an embedded raw table.
func (p *ParquetDir) RawKeys(ctx context.Context, e canon.Entity, fn func(string)) error {
	col, err := refKey(e)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p.Path(RawTable(e))); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	recs, err := p.Read(ctx, memory.DefaultAllocator, Query{Entity: e, Columns: []string{col}}, 1<<16)
	if err != nil {
		return err
	}
	for _, r := range recs {
		a := r.Column(0).(*array.String)
		for i := 0; i < a.Len(); i++ {
			fn(a.Value(i))
		}
		r.Release()
	}
	return nil
}

func refKey(e canon.Entity) (string, error) {
	t, err := canon.Lookup(e)
	if err != nil {
		return "", err
	}
	if len(t.Key) != 1 || t.Columns[t.Index(t.Key[0])].Kind != canon.String {
		return "", fmt.Errorf("%s has no one-column text key", e)
	}
	return t.Key[0], nil
}
