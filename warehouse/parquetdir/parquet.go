// Package parquetdir is the embedded warehouse: each table one Parquet file
// (published tables one file per as-of date) and the small tables JSON Lines,
// in one folder. It is the default without a ClickHouse and the in-process
// store of tests.
package parquetdir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Dir is the embedded warehouse: each table is one Parquet file in a folder.
// A run writes new files beside the old ones and moves them into place on Commit,
// so a failed run leaves the previous tables whole and a re-run replaces them.
type Dir struct {
	dir     string
	mem     memory.Allocator
	mu      sync.Mutex // writers, identities: extract lands rows and rejections from two goroutines
	writers map[string]*pqFile
	// identities saved by the extract run under way, written when it ends well
	identities []warehouse.Identity
}

type pqFile struct {
	f  *os.File
	fw *pqarrow.FileWriter
}

// Open opens the embedded warehouse in dir.
func Open(dir string, mem memory.Allocator) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded warehouse: %w", err)
	}
	return &Dir{dir: dir, mem: mem, writers: map[string]*pqFile{}}, nil
}

// Path is the file of a table.
func (p *Dir) Path(table string) string { return filepath.Join(p.dir, table+".parquet") }

func (p *Dir) writer(table string, schema *arrow.Schema) (*pqarrow.FileWriter, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.writers[table]; ok {
		return w.fw, nil
	}
	f, err := os.Create(p.Path(table) + ".tmp")
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse: %w", err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithAllocator(p.mem))
	fw, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded warehouse %s: %w", table, err)
	}
	p.writers[table] = &pqFile{f: f, fw: fw}
	return fw, nil
}

var runIDField = arrow.Field{Name: "run_id", Type: arrow.BinaryTypes.String}

// InsertRaw appends a batch of an entity's rows, with the run id, to its table.
func (p *Dir) InsertRaw(_ context.Context, e canon.Entity, rec arrow.Record, runID string, _ time.Time) error {
	fields := append(rec.Schema().Fields(), runIDField)
	schema := arrow.NewSchema(fields, nil)
	fw, err := p.writer(warehouse.RawTable(e), schema)
	if err != nil {
		return err
	}
	rb := array.NewStringBuilder(p.mem)
	defer rb.Release()
	rb.Reserve(int(rec.NumRows()))
	for i := int64(0); i < rec.NumRows(); i++ {
		rb.Append(runID)
	}
	ids := rb.NewArray()
	defer ids.Release()
	cols := append(append([]arrow.Array{}, rec.Columns()...), ids)
	out := array.NewRecord(schema, cols, rec.NumRows())
	defer out.Release()
	if err := fw.WriteBuffered(out); err != nil {
		return fmt.Errorf("embedded warehouse %s: %w", warehouse.RawTable(e), err)
	}
	return nil
}

// OpenRaw lands batches of an entity in its embedded table.
func (p *Dir) OpenRaw(ctx context.Context, e canon.Entity, runID string, landedAt time.Time) (warehouse.BatchWriter, error) {
	return pqBatches{p: p, ctx: ctx, e: e, runID: runID, at: landedAt}, nil
}

type pqBatches struct {
	p     *Dir
	ctx   context.Context
	e     canon.Entity
	runID string
	at    time.Time
}

func (b pqBatches) Write(rec arrow.Record) error {
	return b.p.InsertRaw(b.ctx, b.e, rec, b.runID, b.at)
}

func (pqBatches) Close() error { return nil }

func (pqBatches) Abort() {}

var rejectedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "source", Type: arrow.BinaryTypes.String},
	{Name: "entity", Type: arrow.BinaryTypes.String},
	{Name: "position", Type: arrow.PrimitiveTypes.Int64},
	{Name: "row_key", Type: arrow.BinaryTypes.String},
	{Name: "rule", Type: arrow.BinaryTypes.String},
	{Name: "detail", Type: arrow.BinaryTypes.String},
	{Name: "raw", Type: arrow.BinaryTypes.String},
	{Name: "run_id", Type: arrow.BinaryTypes.String},
}, nil)

// InsertRejected appends rejected rows to the rejected_rows table. Called with
// none, it still creates the table, so that a clean run replaces an old one.
func (p *Dir) InsertRejected(_ context.Context, runID string, _ time.Time, rs []canon.Rejection) error {
	fw, err := p.writer("rejected_rows", rejectedSchema)
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(p.mem, rejectedSchema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	source, entity, key, rule, detail, raw, run := str("source"), str("entity"), str("row_key"), str("rule"), str("detail"), str("raw"), str("run_id")
	position := canon.BuilderOf[*array.Int64Builder](b, "position")
	for _, r := range rs {
		source.Append(r.Source)
		entity.Append(string(r.Entity))
		position.Append(r.Position)
		key.Append(r.Key)
		rule.Append(string(r.Rule))
		detail.Append(r.Detail)
		raw.Append(r.Raw)
		run.Append(runID)
	}
	rec := b.NewRecord()
	defer rec.Release()
	return fw.WriteBuffered(rec)
}

// Commit finishes every file written and moves it into place.
func (p *Dir) Commit() error {
	var errs []error
	for table, w := range p.writers {
		if err := w.fw.Close(); err != nil { // closes the file too
			errs = append(errs, fmt.Errorf("embedded warehouse %s: %w", table, err))
			continue
		}
		if err := os.Rename(p.Path(table)+".tmp", p.Path(table)); err != nil {
			errs = append(errs, err)
		}
	}
	p.writers = map[string]*pqFile{}
	return errors.Join(errs...)
}

// commitOnly finishes the file written of table, if any, and moves it into
// place.
func (p *Dir) commitOnly(table string) error {
	w, ok := p.writers[table]
	if !ok {
		return nil
	}
	delete(p.writers, table)
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("embedded warehouse %s: %w", table, err)
	}
	return os.Rename(p.Path(table)+".tmp", p.Path(table))
}

// Abort drops what this run wrote; the previous tables stay.
func (p *Dir) Abort() {
	for table, w := range p.writers {
		w.fw.Close()
		os.Remove(p.Path(table) + ".tmp")
	}
	p.writers = map[string]*pqFile{}
}

var _ warehouse.Store = (*Dir)(nil)
