package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/tessera-cdp/tessera/canon"
)

// Parquet reads a canonical Parquet file batch by batch. Its records go through
// the same validation as text: typed columns rule out unparsable values, but not
// empty keys, negative quantities, unknown parents or duplicates.
type Parquet struct {
	name   string
	pf     *file.Reader
	rr     pqarrow.RecordReader
	rec    arrow.Record
	row    int
	cols   []int // canonical column -> record column, -1 when absent
	fields [][]byte
	starts []int
	buf    []byte
	pos    int64
	err    error
	broken bool // the decoder panicked: its state is not to be trusted
}

// OpenParquet opens path as a Parquet file of table t.
func OpenParquet(ctx context.Context, path string, t *canon.Table, mem memory.Allocator, batchRows int) (_ *Parquet, err error) {
	defer func() { // the decoder panics on some corrupt files
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: corrupt Parquet file: %v", path, r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a Parquet file: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batchRows)}, mem)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := &Parquet{name: filepath.Base(path), pf: pf, rr: rr, cols: make([]int, len(t.Columns)), fields: make([][]byte, len(t.Columns))}
	schema := rr.Schema()
	for k := range p.cols {
		p.cols[k] = -1
	}
	for i, f := range schema.Fields() {
		k := t.Index(strings.ToLower(f.Name))
		if k < 0 {
			p.Close()
			return nil, fmt.Errorf("%s: column %q is not a column of %s (expected some of: %s)", path, f.Name, t.Entity, columnNames(t))
		}
		p.cols[k] = i
	}
	for k, c := range t.Columns {
		if c.Required && p.cols[k] < 0 {
			p.Close()
			return nil, fmt.Errorf("%s: lacks required column %s of %s", path, c.Name, t.Entity)
		}
	}
	return p, nil
}

// Next moves to the next row.
func (p *Parquet) Next() bool {
	for p.rec == nil || p.row >= int(p.rec.NumRows()) {
		if p.err != nil || !p.nextBatch() {
			if err := p.rr.Err(); p.err == nil && !errors.Is(err, io.EOF) { // EOF is the normal end
				p.err = err
			}
			return false
		}
		p.rec = p.rr.Record() // owned by the reader until its next Next
		p.row = 0
	}
	p.pos++
	p.buf = p.buf[:0]
	if p.starts == nil {
		p.starts = make([]int, len(p.cols))
	}
	starts := p.starts
	for k, i := range p.cols {
		starts[k] = len(p.buf)
		if i < 0 {
			continue
		}
		var err error
		p.buf, err = appendText(p.buf, p.rec.Column(i), p.row)
		if err != nil {
			p.err = fmt.Errorf("%s row %d: %w", p.name, p.pos, err)
			return false
		}
	}
	for k, i := range p.cols {
		if i < 0 {
			p.fields[k] = nil
			continue
		}
		end := len(p.buf)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		p.fields[k] = p.buf[starts[k]:end]
	}
	p.row++
	return true
}

// nextBatch moves the record reader on. The Parquet decoder panics on some
// corrupt pages ("snappy: corrupt input"): that becomes an error naming the
// file, not a crash.
func (p *Parquet) nextBatch() (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			p.err = fmt.Errorf("%s: corrupt Parquet data after row %d: %v", p.name, p.pos, r)
			p.broken = true
			ok = false
		}
	}()
	return p.rr.Next()
}

// appendText writes value i of a as the text the validator reads; null is empty.
func appendText(dst []byte, a arrow.Array, i int) ([]byte, error) {
	if a.IsNull(i) {
		return dst, nil
	}
	switch a := a.(type) {
	case *array.String:
		return append(dst, a.Value(i)...), nil
	case *array.LargeString:
		return append(dst, a.Value(i)...), nil
	case *array.Binary:
		return append(dst, a.Value(i)...), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		perSecond := int64(arrow.Second.Multiplier() / unit.Multiplier()) // 1 for s, 1000 for ms, ...
		return strconv.AppendInt(dst, int64(a.Value(i))/perSecond, 10), nil
	case *array.Float64:
		return strconv.AppendFloat(dst, a.Value(i), 'f', -1, 64), nil
	case *array.Float32:
		return strconv.AppendFloat(dst, float64(a.Value(i)), 'f', -1, 32), nil
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10), nil
	case *array.Int16:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil
	case *array.Int8:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i)), nil
	}
	return dst, fmt.Errorf("column type %s is not supported", a.DataType())
}

func (p *Parquet) Fields() [][]byte              { return p.fields }
func (p *Parquet) Problem() (canon.Rule, string) { return "", "" }
func (p *Parquet) Position() int64               { return p.pos }
func (p *Parquet) Name() string                  { return p.name }
func (p *Parquet) Err() error                    { return p.err }

// Raw is the row's values joined by commas.
func (p *Parquet) Raw() string {
	parts := make([]string, len(p.fields))
	for i, f := range p.fields {
		parts[i] = string(f)
	}
	return strings.Join(parts, ",")
}

// Close releases the reader and closes the file.
func (p *Parquet) Close() error {
	if !p.broken { // after a panic the reader's buffers may be half made
		p.rr.Release()
	}
	return p.pf.Close()
}
