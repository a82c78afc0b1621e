package synth

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/tessera-cdp/tessera/canon"
)

// Files written besides the entity files.
const (
	TruthCustomersFile = "truth_customers.csv"
	TruthBadRowsFile   = "truth_bad_rows.csv"
	TruthFile          = "truth.json"
)

// Summary is what Generate wrote; it is also saved as truth.json.
type Summary struct {
	Config  Config                  `json:"config"`
	Params  Params                  `json:"params"`
	Rows    map[canon.Entity]int64  `json:"rows"`     // rows written per entity, bad ones included
	BadRows map[canon.Entity]int64  `json:"bad_rows"` // of which bad
	Files   map[canon.Entity]string `json:"files"`
}

// Generate writes the shop to dir: one file per entity plus the truth files.
// The output depends only on cfg, not on the number of cores.
func Generate(ctx context.Context, cfg Config, dir string) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	g := newGen(cfg)
	s := &Summary{Config: cfg, Params: g.p, Rows: map[canon.Entity]int64{}, BadRows: map[canon.Entity]int64{}, Files: map[canon.Entity]string{}}
	out, err := newOutput(g, dir, s)
	if err != nil {
		return nil, err
	}
	defer out.abort()

	products := g.products()
	if err := out.write(canon.Products, products); err != nil {
		return nil, err
	}

	nchunks := (cfg.Customers + chunkSize - 1) / chunkSize
	workers := runtime.GOMAXPROCS(0)
	type result struct {
		idx int
		ch  *chunk
	}
	todo := make(chan int)
	done := make(chan result, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idx := range todo {
				select {
				case done <- result{idx, g.chunk(idx)}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(todo)
		for i := 0; i < nchunks; i++ {
			select {
			case todo <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()

	// Write chunks in order; at most a few are held while an earlier one is late.
	pending := map[int]*chunk{}
	next := 0
	for res := range done {
		pending[res.idx] = res.ch
		for pending[next] != nil {
			ch := pending[next]
			delete(pending, next)
			for i, e := range chunkEntities {
				if err := out.write(e, ch.t[i]); err != nil {
					return nil, err
				}
			}
			if err := out.writeTruth(ch.truth); err != nil {
				return nil, err
			}
			next++
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if next != nchunks {
		return nil, fmt.Errorf("generated %d of %d chunks", next, nchunks)
	}
	if err := out.close(); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, TruthFile), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", TruthFile, err)
	}
	return s, nil
}

func (g *gen) products() *rows {
	t := newRows(6)
	for i := range g.cat.products {
		p := &g.cat.products[i]
		t.str(p.id).str("SKU-" + p.id[1:]).str(topCategories[p.top] + " item " + strconv.Itoa(i+1)).
			str(g.cat.category(p, i)).str(g.cat.brands[p.brand]).money(p.price)
		t.done()
	}
	if g.cfg.BadRows > 0 {
		g.badProducts(t, newRNG(g.cfg.Seed, 1<<41))
	}
	return t
}

// output holds the open files of a shop being written.
type output struct {
	g        *gen
	dir      string
	s        *Summary
	files    []*os.File
	csv      map[canon.Entity]*bufio.Writer
	pq       map[canon.Entity]*pqarrow.FileWriter
	truth    *bufio.Writer
	badRows  *bufio.Writer
	mem      memory.Allocator
	tmpPaths []string
}

func newOutput(g *gen, dir string, s *Summary) (*output, error) {
	o := &output{g: g, dir: dir, s: s, csv: map[canon.Entity]*bufio.Writer{}, pq: map[canon.Entity]*pqarrow.FileWriter{}, mem: memory.NewGoAllocator()}
	create := func(name string) (*os.File, error) {
		f, err := os.Create(filepath.Join(dir, name+".tmp"))
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		o.files = append(o.files, f)
		o.tmpPaths = append(o.tmpPaths, name)
		return f, nil
	}
	for _, t := range canon.Tables {
		name := string(t.Entity) + "." + g.cfg.Format
		o.s.Files[t.Entity] = name
		f, err := create(name)
		if err != nil {
			return nil, err
		}
		if g.csv {
			w := bufio.NewWriterSize(f, 1<<20)
			for i, c := range t.Columns {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(c.Name)
			}
			w.WriteByte('\n')
			o.csv[t.Entity] = w
			continue
		}
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(1<<20))
		fw, err := pqarrow.NewFileWriter(nullable(t.Schema()), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return nil, fmt.Errorf("open parquet writer for %s: %w", t.Entity, err)
		}
		o.pq[t.Entity] = fw
	}
	f, err := create(TruthCustomersFile)
	if err != nil {
		return nil, err
	}
	o.truth = bufio.NewWriterSize(f, 1<<20)
	writeHeader(o.truth, truthColumns)
	if f, err = create(TruthBadRowsFile); err != nil {
		return nil, err
	}
	o.badRows = bufio.NewWriterSize(f, 1<<16)
	writeHeader(o.badRows, []string{"entity", "position", "key", "rule"})
	return o, nil
}

func writeHeader(w *bufio.Writer, cols []string) {
	for i, c := range cols {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(c)
	}
	w.WriteByte('\n')
}

func (o *output) write(e canon.Entity, t *rows) error {
	base := o.s.Rows[e]
	bad := 0
	var extra map[int]bool
	for _, b := range t.bad {
		if b.rule == canon.WrongFieldCount {
			if extra == nil {
				extra = map[int]bool{}
			}
			extra[b.row] = true
		}
		tbl, _ := canon.Lookup(e)
		key := ""
		for n, k := range tbl.Key {
			if n > 0 {
				key += "|"
			}
			key += string(t.field(b.row, tbl.Index(k)))
		}
		o.badRows.WriteString(string(e))
		o.badRows.WriteByte(',')
		o.badRows.WriteString(strconv.FormatInt(base+int64(b.row)+1, 10))
		o.badRows.WriteByte(',')
		o.badRows.Write(csvField(nil, []byte(key)))
		o.badRows.WriteByte(',')
		o.badRows.WriteString(string(b.rule))
		o.badRows.WriteByte('\n')
		bad++
	}
	o.s.Rows[e] += int64(t.len())
	o.s.BadRows[e] += int64(bad)
	if w := o.csv[e]; w != nil {
		writeCSV(w, t, extra)
		return nil
	}
	return o.writeParquet(e, t)
}

func (o *output) writeTruth(t *rows) error {
	writeCSV(o.truth, t, nil)
	return nil
}

func writeCSV(w *bufio.Writer, t *rows, extra map[int]bool) {
	var line []byte
	n := t.len()
	for i := 0; i < n; i++ {
		line = line[:0]
		for c := 0; c < t.ncol; c++ {
			if c > 0 {
				line = append(line, ',')
			}
			line = csvField(line, t.field(i, c))
		}
		if extra[i] {
			line = append(line, ",unexpected"...)
		}
		line = append(line, '\n')
		w.Write(line)
	}
}

// csvField appends f, quoted when it holds a separator, quote or line break.
func csvField(dst, f []byte) []byte {
	quote := false
	for _, c := range f {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	for _, c := range f {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// writeParquet converts rows into a typed record. Bad rows kept in Parquet are only
// those a typed column can hold (the csvOnly defects are never drawn), so every
// value parses here.
func (o *output) writeParquet(e canon.Entity, t *rows) error {
	tbl, _ := canon.Lookup(e)
	rb := array.NewRecordBuilder(o.mem, nullable(tbl.Schema()))
	defer rb.Release()
	n := t.len()
	for c, col := range tbl.Columns {
		fb := rb.Field(c)
		for i := 0; i < n; i++ {
			f := t.field(i, c)
			if len(f) == 0 && col.Kind != canon.String {
				fb.AppendNull()
				continue
			}
			switch col.Kind {
			case canon.String:
				fb.(*array.StringBuilder).BinaryBuilder.Append(f)
			case canon.Timestamp:
				s, ok := canon.ParseTime(f)
				if !ok {
					return fmt.Errorf("parquet %s: time %q", e, f)
				}
				fb.(*array.TimestampBuilder).Append(arrow.Timestamp(s))
			case canon.Money:
				v, err := strconv.ParseFloat(string(f), 64)
				if err != nil || math.IsNaN(v) {
					return fmt.Errorf("parquet %s: number %q", e, f)
				}
				fb.(*array.Float64Builder).Append(v)
			case canon.Int:
				v, err := strconv.ParseInt(string(f), 10, 32)
				if err != nil {
					return fmt.Errorf("parquet %s: integer %q", e, f)
				}
				fb.(*array.Int32Builder).Append(int32(v))
			case canon.Bool:
				fb.(*array.BooleanBuilder).Append(string(f) == "true")
			}
		}
	}
	rec := rb.NewRecord()
	defer rec.Release()
	if err := o.pq[e].WriteBuffered(rec); err != nil {
		return fmt.Errorf("write parquet %s: %w", e, err)
	}
	return nil
}

// nullable marks every field nullable: files from other tools do not promise that
// required columns are filled, and bad rows with an empty required value must
// survive the round trip to be caught on the way in.
func nullable(s *arrow.Schema) *arrow.Schema {
	fields := s.Fields()
	for i := range fields {
		fields[i].Nullable = true
	}
	return arrow.NewSchema(fields, nil)
}

// close flushes everything and moves the files into place, so that a shop folder
// never holds half-written files.
func (o *output) close() error {
	for _, w := range o.csv {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	for e, fw := range o.pq {
		if err := fw.Close(); err != nil {
			return fmt.Errorf("close parquet %s: %w", e, err)
		}
	}
	for _, w := range []*bufio.Writer{o.truth, o.badRows} {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write truth: %w", err)
		}
	}
	for i, f := range o.files {
		// The Parquet writer closes its file itself.
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("close %s: %w", f.Name(), err)
		}
		name := filepath.Join(o.dir, o.tmpPaths[i])
		if err := os.Rename(name+".tmp", name); err != nil {
			return fmt.Errorf("move %s into place: %w", name, err)
		}
	}
	o.files = nil
	return nil
}

// abort removes the temporary files of an unfinished shop.
func (o *output) abort() {
	for i, f := range o.files {
		f.Close()
		os.Remove(filepath.Join(o.dir, o.tmpPaths[i]+".tmp"))
	}
}
