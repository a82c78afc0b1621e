package parquetdir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/go-faster/city"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// partsDir holds the parts of one job's as-of date of a table.
func (p *Dir) partsDir(table string, asOf time.Time, job string) string {
	return filepath.Join(p.dir, table+"_parts", "as_of="+asOf.Format(time.DateOnly), fmt.Sprintf("job=%016x", city.CH64([]byte(job))))
}

func partFile(s warehouse.Slice) string { return fmt.Sprintf("shard=%d_of_%d.parquet", s.Index, s.Of) }

// partWriter writes a part's file batch by batch, with a run_id column.
type partWriter struct {
	p           *Dir
	table, path string
	run         string
	f           *os.File
	fw          *pqarrow.FileWriter
}

// OpenPart starts writing the shard's part of the as-of date of table as a
// temporary file, renamed into place on Close.
func (p *Dir) OpenPart(_ context.Context, table string, schema *arrow.Schema, asOf time.Time, job string, s warehouse.Slice, runID string) (warehouse.PartWriter, error) {
	dir := p.partsDir(table, asOf, job)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	pw := &partWriter{p: p, table: table, path: filepath.Join(dir, partFile(s)), run: runID}
	var err error
	if pw.f, err = os.Create(pw.path + ".tmp"); err != nil {
		return nil, err
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithAllocator(p.mem))
	withRun := arrow.NewSchema(append(slices.Clone(schema.Fields()), runIDField), nil)
	if pw.fw, err = pqarrow.NewFileWriter(withRun, pw.f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		pw.f.Close()
		os.Remove(pw.path + ".tmp")
		return nil, err
	}
	return pw, nil
}

// Write appends rec with the run's id.
func (pw *partWriter) Write(_ context.Context, rec arrow.Record) error {
	ids := array.NewStringBuilder(pw.p.mem)
	defer ids.Release()
	for i := int64(0); i < rec.NumRows(); i++ {
		ids.Append(pw.run)
	}
	idArr := ids.NewArray()
	defer idArr.Release()
	schema := arrow.NewSchema(append(slices.Clone(rec.Schema().Fields()), runIDField), nil)
	out := array.NewRecord(schema, append(append([]arrow.Array{}, rec.Columns()...), idArr), rec.NumRows())
	defer out.Release()
	if err := pw.fw.Write(out); err != nil {
		return fmt.Errorf("embedded warehouse: part of %s: %w", pw.table, err)
	}
	return nil
}

// Close puts the part in place.
func (pw *partWriter) Close(context.Context) error {
	if err := pw.fw.Close(); err != nil {
		os.Remove(pw.path + ".tmp")
		return fmt.Errorf("embedded warehouse: part of %s: %w", pw.table, err)
	}
	if err := os.Rename(pw.path+".tmp", pw.path); err != nil {
		return err
	}
	return pw.p.dropStaleParts(pw.table)
}

// Abort drops what was written.
func (pw *partWriter) Abort(context.Context) {
	pw.fw.Close()
	os.Remove(pw.path + ".tmp")
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

// PartRows counts the rows of the job's parts named.
func (p *Dir) PartRows(_ context.Context, table string, asOf time.Time, job string, parts []warehouse.Slice) (int, error) {
	total := 0
	for _, s := range parts {
		pf, err := file.OpenParquetFile(filepath.Join(p.partsDir(table, asOf, job), partFile(s)), false)
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("count the rows of the parts of %s: %w: %w", table, warehouse.ErrPartGone, err)
		}
		if err != nil {
			return 0, fmt.Errorf("embedded warehouse: count the rows of the parts of %s: %w", table, err)
		}
		total += int(pf.NumRows())
		pf.Close()
	}
	return total, nil
}

// PublishParts stages the job's parts as the date's partition of table,
// swaps it in, and returns the rows published.
func (p *Dir) PublishParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error) {
	rows, err := p.StageParts(ctx, table, asOf, job, of)
	if err != nil {
		return 0, err
	}
	return rows, p.Swap(ctx, table, asOf)
}

// StageParts stages the job's parts as the date's partition of table and
// returns its rows.
func (p *Dir) StageParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error) {
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
	return rows, p.dropStaleParts(table)
}

// EachPart hands over, batch rows at a time, the columns of schema of the
// job's parts named, in the order of the schema's first column (the customer
// id). Each part is read whole: the embedded store is for shops one process
// holds.
func (p *Dir) EachPart(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, job string, parts []warehouse.Slice, batch int, fn func(arrow.Record) error) error {
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	type row struct{ rec, i int }
	var rows []row
	for _, s := range parts {
		rec, err := p.readFile(ctx, mem, filepath.Join(p.partsDir(table, asOf, job), partFile(s)), schema)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read the parts of %s: %w: %w", table, warehouse.ErrPartGone, err)
		}
		if err != nil {
			return fmt.Errorf("read the parts of %s: %w", table, err)
		}
		recs = append(recs, rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			rows = append(rows, row{len(recs) - 1, i})
		}
	}
	keyCol := warehouse.KeyColumn(schema)
	key := func(r row) string { return canon.ArrayOf[*array.String](recs[r.rec], keyCol).Value(r.i) }
	slices.SortStableFunc(rows, func(a, b row) int { return strings.Compare(key(a), key(b)) })
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	handed := 0
	for _, r := range rows {
		for c := range schema.Fields() {
			copyValue(b.Field(c), recs[r.rec].Column(c), r.i)
		}
		if canon.Len(b) >= batch {
			if err := warehouse.Hand(b.NewRecord(), fn); err != nil {
				return err
			}
			handed++
		}
	}
	return warehouse.HandLast(b, handed, fn)
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
