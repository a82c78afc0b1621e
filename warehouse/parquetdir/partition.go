package parquetdir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/tessera-cdp/tessera/warehouse"
)

// ReadPartition reads the columns of schema from <table>/as_of=DATE.parquet.
func (p *Dir) ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error) {
	path := filepath.Join(p.dir, table, "as_of="+asOf.Format(time.DateOnly)+".parquet")
	rec, err := p.readFile(ctx, mem, path, schema)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s as of %s: %w", table, asOf.Format(time.DateOnly), warehouse.ErrNoPartition)
	}
	return rec, err
}

// readFile reads the columns of schema from one Parquet file.
func (p *Dir) readFile(ctx context.Context, mem memory.Allocator, path string, schema *arrow.Schema) (arrow.Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse: %w", err)
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded warehouse %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, mem)
	if err != nil {
		return nil, err
	}
	idx, err := columnIndices(fr, schema)
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, idx, nil)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for rr.Next() {
		rec := rr.Record()
		for r := 0; r < int(rec.NumRows()); r++ {
			for i := range schema.Fields() {
				copyValue(b.Field(i), rec.Column(i), r)
			}
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b.NewRecord(), nil
}
