package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
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

// LinkWriter adds the identity links of one entity's extract: Write each
// chunk, then Close, or Abort on failure (chunks written stay).
type LinkWriter interface {
	Write(ls []Identity) error
	Close() error
	Abort()
}

// OpenIdentities starts adding links. They go through one INSERT, begun at
// the first chunk, whose column buffers are reused from chunk to chunk: an
// INSERT a chunk grew fresh buffers every time, and for a million customers
// that was half of all extract allocated.
func (w *ClickHouse) OpenIdentities(ctx context.Context, runID string, at time.Time) (LinkWriter, error) {
	return &chLinks{w: w, ctx: ctx, runID: runID, at: at.UTC()}, nil
}

type chLinks struct {
	w     *ClickHouse
	ctx   context.Context
	runID string
	at    time.Time
	batch driver.Batch

	kind, src, id, cust, run []string
	when                     []time.Time
}

func (l *chLinks) Write(ls []Identity) error {
	if len(ls) == 0 {
		return nil
	}
	if l.batch == nil {
		b, err := l.w.conn.PrepareBatch(l.ctx, fmt.Sprintf("INSERT INTO %s.identities (kind, source, id, customer_id, linked_at, run_id) VALUES", l.w.db))
		if err != nil {
			return fmt.Errorf("save identities: %w", err)
		}
		l.batch = b
	}
	l.kind, l.src, l.id, l.cust, l.when, l.run = l.kind[:0], l.src[:0], l.id[:0], l.cust[:0], l.when[:0], l.run[:0]
	for _, x := range ls {
		when := l.at
		if !x.At.IsZero() {
			when = x.At.UTC()
		}
		l.kind, l.src, l.id, l.cust = append(l.kind, x.Kind), append(l.src, x.Source), append(l.id, x.ID), append(l.cust, x.CustomerID)
		l.when, l.run = append(l.when, when), append(l.run, l.runID)
	}
	for i, col := range []any{l.kind, l.src, l.id, l.cust, l.when, l.run} {
		if err := l.batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("save identities: %w", err)
		}
	}
	if err := l.batch.Flush(); err != nil {
		return fmt.Errorf("save %d identities: %w", len(ls), err)
	}
	return nil
}

func (l *chLinks) Close() error {
	if l.batch == nil {
		return nil
	}
	if err := l.batch.Send(); err != nil {
		return fmt.Errorf("save identities: %w", err)
	}
	return nil
}

func (l *chLinks) Abort() {
	if l.batch != nil {
		l.batch.Abort()
	}
}

// Identities reads identities.jsonl of the embedded warehouse.
func (p *ParquetDir) Identities(_ context.Context, fn func(Identity)) error {
	return readJSONL(p, "identities.jsonl", fn)
}

// OpenIdentities adds links to identities.jsonl.
func (p *ParquetDir) OpenIdentities(context.Context, string, time.Time) (LinkWriter, error) {
	return jsonlLinks{p}, nil
}

type jsonlLinks struct{ p *ParquetDir }

func (l jsonlLinks) Write(ls []Identity) error {
	if len(ls) == 0 {
		return nil
	}
	return appendJSONL(l.p, "identities.jsonl", ls...)
}

func (jsonlLinks) Close() error { return nil }
func (jsonlLinks) Abort()       {}

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
