package parquetdir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/go-faster/city"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/tessera-cdp/tessera/warehouse"
)

// partsDir holds the parts of one job's as-of date of a table.
func (p *Dir) partsDir(table string, asOf time.Time, job string) string {
	return filepath.Join(p.dir, table+"_parts", "as_of="+asOf.Format(time.DateOnly), fmt.Sprintf("job=%016x", city.CH64([]byte(job))))
}

func partFile(s warehouse.Slice) string { return fmt.Sprintf("shard=%d_of_%d.parquet", s.Index, s.Of) }

// WritePart writes rec as the shard's part of the as-of date of table,
// through a temporary file and a rename.
func (p *Dir) WritePart(_ context.Context, table string, asOf time.Time, job string, s warehouse.Slice, runID string, rec arrow.Record) error {
	return p.writeWithRun(p.partsDir(table, asOf, job), partFile(s), runID, rec)
}

// PartsWritten counts the parts of the job written whole.
func (p *Dir) PartsWritten(_ context.Context, table string, asOf time.Time, job string, of int) (int, error) {
	n := 0
	for i := 0; i < of; i++ {
		if _, err := os.Stat(filepath.Join(p.partsDir(table, asOf, job), partFile(warehouse.Slice{Index: i, Of: of}))); err == nil {
			n++
		}
	}
	return n, nil
}

// PublishParts stages the job's parts as the date's partition of table,
// swaps it in, and returns the rows published.
func (p *Dir) PublishParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error) {
	dir := p.partsDir(table, asOf, job)
	staged := p.partitionPath(table+"_staging", asOf)
	if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(staged + ".tmp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(staged + ".tmp")
	var fw *pqarrow.FileWriter
	rows := 0
	for i := 0; i < of; i++ {
		rec, err := p.readWhole(ctx, filepath.Join(dir, partFile(warehouse.Slice{Index: i, Of: of})))
		if err != nil {
			f.Close()
			return 0, err
		}
		if fw == nil {
			props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithAllocator(p.mem))
			if fw, err = pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
				rec.Release()
				f.Close()
				return 0, err
			}
		}
		rows += int(rec.NumRows())
		err = fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return 0, fmt.Errorf("embedded warehouse: publish %s: %w", table, err)
		}
	}
	if err := fw.Close(); err != nil {
		return 0, fmt.Errorf("embedded warehouse: publish %s: %w", table, err)
	}
	if err := os.Rename(staged+".tmp", staged); err != nil {
		return 0, err
	}
	if err := p.Swap(ctx, table, asOf); err != nil {
		return 0, err
	}
	return rows, p.dropStaleParts(table)
}

// dropStaleParts removes the parts of table written more than a day ago (a
// job's own stay after it publishes, for a re-run of its shard 0).
func (p *Dir) dropStaleParts(table string) error {
	dirs, _ := filepath.Glob(filepath.Join(p.dir, table+"_parts", "as_of=*", "job=*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// readWhole reads every column of one Parquet file.
func (p *Dir) readWhole(ctx context.Context, path string) (arrow.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse: %w", err)
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded warehouse %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, p.mem)
	if err != nil {
		pf.Close()
		return nil, err
	}
	schema, err := fr.Schema()
	pf.Close()
	if err != nil {
		return nil, err
	}
	return p.readFile(ctx, p.mem, path, schema)
}
