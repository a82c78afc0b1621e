package export

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// Kinds of export column: CSV writes the text as it is; Parquet a typed
// column, empty text being null.
const (
	text    = iota
	float   // float64
	integer // int32
	boolean // "1" or "0"
	date    // YYYY-MM-DD, date32
	list    // comma-separated, a list of strings
)

// column is one column of an export file.
type column struct {
	name string
	kind int
}

var arrowKinds = map[int]arrow.DataType{text: arrow.BinaryTypes.String, float: arrow.PrimitiveTypes.Float64, integer: arrow.PrimitiveTypes.Int32,
	boolean: arrow.FixedWidthTypes.Boolean, date: arrow.FixedWidthTypes.Date32, list: arrow.ListOf(arrow.BinaryTypes.String)}

// writeTable writes rows under a header as CSV (after a UTF-8 byte order
// mark when bom), or as Parquet with typed columns, through a temporary file
// and a rename.
func writeTable(path, format string, header []column, rows [][]string, bom bool, mem memory.Allocator) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if format == "csv" {
		if bom {
			f.WriteString("\ufeff")
		}
		w := csv.NewWriter(f)
		names := make([]string, len(header))
		for i, h := range header {
			names[i] = h.name
		}
		w.Write(names)
		w.WriteAll(rows)
		if err := w.Error(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}
	rec, err := typedRecord(header, rows, mem)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	fw, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy)), pqarrow.DefaultWriterProps())
	if err == nil {
		err = fw.Write(rec)
		if cerr := fw.Close(); err == nil {
			err = cerr
		}
	} else {
		f.Close()
	}
	rec.Release()
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path) // the Parquet writer closed f
}

// typedRecord builds the rows as an Arrow record of the columns' kinds.
func typedRecord(header []column, rows [][]string, mem memory.Allocator) (arrow.Record, error) {
	fields := make([]arrow.Field, len(header))
	for i, h := range header {
		fields[i] = arrow.Field{Name: h.name, Type: arrowKinds[h.kind], Nullable: h.kind != text && h.kind != list}
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, r := range rows {
		for i, v := range r {
			if err := appendValue(b.Field(i), header[i].kind, v); err != nil {
				return nil, fmt.Errorf("column %s: %w", header[i].name, err)
			}
		}
	}
	return b.NewRecord(), nil
}

func appendValue(fb array.Builder, kind int, v string) error {
	if v == "" && kind != text && kind != list {
		fb.AppendNull()
		return nil
	}
	switch kind {
	case text:
		fb.(*array.StringBuilder).Append(v)
	case float:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return err
		}
		fb.(*array.Float64Builder).Append(x)
	case integer:
		x, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return err
		}
		fb.(*array.Int32Builder).Append(int32(x))
	case boolean:
		fb.(*array.BooleanBuilder).Append(v == "1")
	case date:
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return err
		}
		fb.(*array.Date32Builder).Append(arrow.Date32FromTime(d))
	case list:
		lb := fb.(*array.ListBuilder)
		lb.Append(true)
		if v != "" {
			for _, item := range strings.Split(v, ",") {
				lb.ValueBuilder().(*array.StringBuilder).Append(item)
			}
		}
	}
	return nil
}
