package parquetdir

import (
	"context"
	"errors"
	"os"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Identities reads identities.jsonl of the embedded warehouse.
func (p *Dir) Identities(_ context.Context, fn func(warehouse.Identity)) error {
	if err := readJSONL(p, "identities.jsonl", fn); err != nil {
		return err
	}
	p.mu.Lock()
	pending := slices.Clone(p.identities)
	p.mu.Unlock()
	for _, id := range pending {
		fn(id)
	}
	return nil
}

// SaveIdentities appends to identities.jsonl.
//
// They are kept until the extract run ends (EndExtract), and written only
// when it succeeded.
func (p *Dir) SaveIdentities(_ context.Context, ls []warehouse.Identity, _ string, _ time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.identities = append(p.identities, ls...)
	return nil
}

// RawKeys reads the keys of an embedded raw table.
func (p *Dir) RawKeys(ctx context.Context, e canon.Entity, fn func(string)) error {
	col, err := warehouse.RefKey(e)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p.Path(warehouse.RawTable(e))); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	recs, err := p.Read(ctx, memory.DefaultAllocator, warehouse.Query{Entity: e, Columns: []string{col}}, 1<<16)
	if err != nil {
		return err
	}
	for _, r := range recs {
		a := canon.ArrayOf[*array.String](r, col)
		for i := 0; i < a.Len(); i++ {
			fn(a.Value(i))
		}
		r.Release()
	}
	return nil
}
