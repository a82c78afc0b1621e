package parquetdir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/tessera-cdp/tessera/warehouse"
)

// columnIndices finds the file's columns of a schema, by name.
func columnIndices(fr *pqarrow.FileReader, schema *arrow.Schema) ([]int, error) {
	var cols []int
	for _, fld := range schema.Fields() {
		found := -1
		for i, mf := range fr.Manifest.Fields {
			if mf.Field.Name == fld.Name {
				found = i
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("no column %s", fld.Name)
		}
		cols = append(cols, found)
	}
	return cols, nil
}

// InsertModel appends a model to models.jsonl.
func (p *Dir) InsertModel(_ context.Context, m warehouse.Model) error {
	return appendJSONL(p, "models.jsonl", m)
}

// LatestModel is the newest model of one of the kinds in models.jsonl trained
// as of asOf or earlier.
func (p *Dir) LatestModel(_ context.Context, asOf time.Time, kinds ...string) (warehouse.Model, error) {
	var best warehouse.Model
	found := false
	err := readJSONL(p, "models.jsonl", func(m warehouse.Model) {
		if m.AsOf.After(asOf) || !slices.Contains(kinds, m.Kind) {
			return
		}
		if !found || m.AsOf.After(best.AsOf) || (m.AsOf.Equal(best.AsOf) && !m.TrainedAt.Before(best.TrainedAt)) {
			best, found = m, true
		}
	})
	if err != nil {
		return warehouse.Model{}, err
	}
	if !found {
		return warehouse.Model{}, fmt.Errorf("%v model: %w", kinds, warehouse.ErrNoModel)
	}
	return best, nil
}

// ReplacePartition writes <table>/as_of=DATE.parquet with rec and a run_id
// column, replacing the date's file by a rename once the new one is complete.
func (p *Dir) ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error {
	if err := p.Stage(ctx, table, asOf, runID, rec); err != nil {
		return err
	}
	return p.Swap(ctx, table, asOf)
}

func (p *Dir) partitionPath(table string, asOf time.Time) string {
	return filepath.Join(p.dir, table, "as_of="+asOf.Format(time.DateOnly)+".parquet")
}

// Swap moves the date's staged file of table into place with a rename.
func (p *Dir) Swap(_ context.Context, table string, asOf time.Time) error {
	to := p.partitionPath(table, asOf)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	// A hard link, then a rename over the live file: the staged file stays,
	// so that publish can run again (as ClickHouse's REPLACE PARTITION
	// leaves the staging table as it was).
	tmp := to + ".swap"
	os.Remove(tmp)
	if err := os.Link(p.partitionPath(table+"_staging", asOf), tmp); err != nil {
		return fmt.Errorf("embedded warehouse: publish %s: %w", table, err)
	}
	if err := os.Rename(tmp, to); err != nil {
		return fmt.Errorf("embedded warehouse: publish %s: %w", table, err)
	}
	return nil
}

// Stage writes <table>_staging/as_of=DATE.parquet with rec and a run_id column.
func (p *Dir) Stage(_ context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error {
	return p.writeWithRun(filepath.Join(p.dir, table+"_staging"), "as_of="+asOf.Format(time.DateOnly)+".parquet", runID, rec)
}

// writeWithRun writes rec with a run_id column as dir/file.
func (p *Dir) writeWithRun(dir, file, runID string, rec arrow.Record) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ids := array.NewStringBuilder(p.mem)
	defer ids.Release()
	for i := int64(0); i < rec.NumRows(); i++ {
		ids.Append(runID)
	}
	idArr := ids.NewArray()
	defer idArr.Release()
	schema := arrow.NewSchema(append(rec.Schema().Fields(), runIDField), nil)
	out := array.NewRecord(schema, append(append([]arrow.Array{}, rec.Columns()...), idArr), rec.NumRows())
	defer out.Release()
	return writeParquet(filepath.Join(dir, file), out, p.mem)
}

// writeParquet writes one record to path through a temporary file and a rename.
func writeParquet(path string, rec arrow.Record, mem memory.Allocator) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithAllocator(mem))
	fw, err := pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		return err
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		os.Remove(path + ".tmp")
		return fmt.Errorf("embedded warehouse %s: %w", filepath.Base(path), err)
	}
	if err := fw.Close(); err != nil {
		os.Remove(path + ".tmp")
		return fmt.Errorf("embedded warehouse %s: %w", filepath.Base(path), err)
	}
	return os.Rename(path+".tmp", path)
}
