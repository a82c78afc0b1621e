package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/tessera-cdp/tessera/canon"
)

// CSV reads a canonical CSV file: a header naming canonical columns in any order,
// then one record per row. It accepts what spreadsheets do to files (a UTF-8 byte
// order mark, CRLF line ends) and rejects, record by record, what cannot be a row.
type CSV struct {
	name   string
	f      io.Closer
	cr     *recordReader
	r      *readAhead // from the first Next on
	cols   []int      // canonical column -> record field, -1 when absent
	width  int        // fields in the header
	fields [][]byte
	rec    []string
	pos    int64
	passed int64 // records passed over (PassOver)
	rule   canon.Rule
	detail string
	err    error
}

// OpenCSV opens path as a CSV file of table t.
func OpenCSV(path string, t *canon.Table) (*CSV, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c, err := NewCSV(filepath.Base(path), f, t)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.f = f
	return c, nil
}

// csvReader reads CSV as spreadsheets write it (a UTF-8 BOM is skipped); the
// fields of a record are counted by the caller, which rejects the record
// instead of stopping, and a record that does not parse costs that record
// alone (recordReader).
func csvReader(r io.Reader) *recordReader { return newRecordReader(r) }

// NewCSV reads CSV from r. It fails when the header is missing, names a column the
// table does not have, or lacks a required column.
func NewCSV(name string, r io.Reader, t *canon.Table) (*CSV, error) {
	cr := csvReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: expected a header line naming the columns")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	c := &CSV{name: name, cols: make([]int, len(t.Columns)), width: len(header), fields: make([][]byte, len(t.Columns))}
	for i := range c.cols {
		c.cols[i] = -1
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		k := t.Index(h)
		if k < 0 {
			return nil, fmt.Errorf("column %q of the header is not a column of %s (expected some of: %s)", header[i], t.Entity, columnNames(t))
		}
		if c.cols[k] >= 0 {
			return nil, fmt.Errorf("column %q appears twice in the header", h)
		}
		c.cols[k] = i
	}
	var missing []string
	for k, col := range t.Columns {
		if col.Required && c.cols[k] < 0 {
			missing = append(missing, col.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the header lacks required column(s) %s of %s", strings.Join(missing, ", "), t.Entity)
	}
	c.cr = cr
	return c, nil
}

// PassOver makes the reader pass over, before splitting it into fields, a
// record on one line without quoting whose first non-empty (trimmed) field
// among cols (canonical columns, in that order; as Next gives them, a
// record of the wrong width included) keep says no to: a pod of a sharded extract, reading records
// another pod lands. Any other record is read as always. A record passed
// over counts in Position; PassedOver counts them. Call it before Next.
func (c *CSV) PassOver(cols []int, keep func(v []byte) bool) {
	if c.r != nil {
		return // reading has begun: every record is read
	}
	var at []int // the header's field of each column
	for _, k := range cols {
		if k >= 0 && k < len(c.cols) && c.cols[k] >= 0 {
			at = append(at, c.cols[k])
		}
	}
	sep := c.cr.sep
	c.cr.passOver = func(line []byte) bool {
		for _, i := range at { // of a record of the wrong width, as Next gives its fields
			if v := bytes.TrimSpace(field(line, sep, i)); len(v) > 0 {
				return !keep(v)
			}
		}
		return false
	}
}

// PassedOver counts the records PassOver passed over.
func (c *CSV) PassedOver() int64 { return c.passed }

// field is the i-th field of a line without quoting.
func field(line []byte, sep byte, i int) []byte {
	for ; i > 0; i-- {
		j := bytes.IndexByte(line, sep)
		if j < 0 {
			return nil
		}
		line = line[j+1:]
	}
	if j := bytes.IndexByte(line, sep); j >= 0 {
		return line[:j]
	}
	return line
}

func columnNames(t *canon.Table) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// Next reads the next record.
func (c *CSV) Next() bool {
	if c.err != nil {
		return false
	}
	if c.r == nil {
		c.r = newReadAhead(c.cr)
	}
	rec, err := c.r.Read()
	for err == errPassedOver { // our own, never wrapped
		c.pos++
		c.passed++
		rec, err = c.r.Read()
	}
	c.rule, c.detail = "", ""
	if errors.Is(err, io.EOF) {
		return false
	}
	c.pos++
	if perr, ok := asParseError(err); ok {
		// Broken quoting: this record is lost as a row but kept as a rejection.
		c.rule, c.detail = canon.MalformedRecord, perr.Err.Error()
		c.rec = nil
		clear(c.fields) // none of its own: not the record before's
		return true
	}
	if err != nil {
		c.err = fmt.Errorf("%s record %d: %w", c.name, c.pos, err)
		return false
	}
	c.rec = rec
	if len(rec) != c.width {
		c.rule, c.detail = canon.WrongFieldCount, fmt.Sprintf("%d fields, the header has %d", len(rec), c.width)
	}
	for k, i := range c.cols { // of a record of the wrong width, those it has: its key as read
		if i < 0 || i >= len(rec) {
			c.fields[k] = nil
		} else {
			c.fields[k] = bytesOf(rec[i])
		}
	}
	return true
}

func (c *CSV) Fields() [][]byte              { return c.fields }
func (c *CSV) Problem() (canon.Rule, string) { return c.rule, c.detail }
func (c *CSV) Position() int64               { return c.pos }
func (c *CSV) Name() string                  { return c.name }
func (c *CSV) Err() error                    { return c.err }

// Raw is the record as read.
func (c *CSV) Raw() string { return c.r.Raw() }

// Ahead sets fields (one per canonical column, as Fields gives them) to the
// record k after the current one that Next will give (PassOver's skipped),
// when it has been read already and has the header's width; it reports
// whether it did. Nothing is consumed.
func (c *CSV) Ahead(k int, fields [][]byte) bool {
	if c.r == nil || c.err != nil || len(fields) != len(c.cols) {
		return false
	}
	rec := c.r.peek(k)
	if rec == nil || len(rec) != c.width {
		return false
	}
	for j, i := range c.cols {
		if i < 0 {
			fields[j] = nil
		} else {
			fields[j] = bytesOf(rec[i])
		}
	}
	return true
}

// Close stops reading and closes the file.
func (c *CSV) Close() error {
	c.r.stop()
	if c.f != nil {
		return c.f.Close()
	}
	return nil
}

// bytesOf views s as bytes without a copy; callers only read them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
