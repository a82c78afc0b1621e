package source

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"
)

// MaxRecord bounds one CSV record (its quoted fields may span lines): a quote
// still open this far on is taken as broken.
const MaxRecord = 16 << 20

// recordReader reads CSV records as RFC 4180 and spreadsheets write them
// (a UTF-8 BOM skipped, CRLF or LF line ends, quoted fields across lines),
// finding where each record ends itself, so that a record that does not parse
// costs that record alone: a quote opened and never closed (within MaxRecord
// bytes or before the end of the file), or a record across lines that does
// not parse, makes its first line one broken record, and reading goes on with
// the next line. encoding/csv read such a
// quote to the end of the file and lost every row after it.
type recordReader struct {
	br      *bufio.Reader
	pending [][]byte // lines read ahead that belong to the records after a broken one
	long    []byte   // a line longer than the buffer, put together
	line    int      // physical lines handed out
	rec     []byte   // the record's text, line ends included
	raw     string   // the last record's text, its final line end excluded
	block   []byte   // where keep copies records' text
	fields  []string
	eof     bool
	// sep separates fields; quote quotes them (0: no quoting). blanks: a
	// blank line is a record of one empty field, not skipped.
	sep, quote byte
	blanks     bool
	// passOver, when set, is asked of each record on one line without
	// quoting, before it is split: true passes over it (errPassedOver).
	passOver func(line []byte) bool
}

// errPassedOver is Read's word for a record passOver passed over: it
// counts as a record, and has no fields.
var errPassedOver = errors.New("record passed over")

func newRecordReader(r io.Reader) *recordReader { return newRecordReaderOf(r, ',', '"', false) }

// newRecordReaderOf reads records whose fields are separated by sep and
// quoted by quote (0: none), blank lines returned as records when blanks.
func newRecordReaderOf(r io.Reader, sep, quote byte, blanks bool) *recordReader {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	return &recordReader{br: br, sep: sep, quote: quote, blanks: blanks}
}

// readLine is the next physical line with its line end (none on the last
// line of a file without one); io.EOF after the last. The line may be a view
// of the reader's buffer, valid until the next readLine. A line longer than
// MaxRecord is cut to its first MaxRecord bytes and long is set.
func (r *recordReader) readLine() (line []byte, long bool, err error) {
	if n := len(r.pending); n > 0 {
		line, r.pending = r.pending[0], r.pending[1:]
		return line, false, nil
	}
	if r.eof {
		return nil, false, io.EOF
	}
	chunk, err := r.br.ReadSlice('\n')
	if err == nil {
		return chunk, false, nil // the common case: a view, no copy
	}
	line = append(r.long[:0], chunk...)
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = r.br.ReadSlice('\n')
		if len(line)+len(chunk) <= MaxRecord {
			line = append(line, chunk...)
		} else {
			long = true
		}
	}
	r.long = line
	if errors.Is(err, io.EOF) {
		r.eof = true
		if len(line) == 0 && !long {
			return nil, false, io.EOF
		}
		return line, long, nil
	}
	if err != nil {
		return nil, false, err
	}
	return line, long, nil
}

// Read returns the next record's fields, valid until the next Read; a
// record that does not parse comes with a *csv.ParseError and its text in
// Raw. Blank lines are skipped, as encoding/csv does.
func (r *recordReader) Read() ([]string, error) {
	for {
		first, long, err := r.readLine()
		if err != nil {
			return nil, err
		}
		r.line++
		start := r.line
		if long {
			r.raw = string(first[:min(len(first), 256)]) + "…"
			return nil, &csv.ParseError{StartLine: start, Line: start, Err: fmt.Errorf("a line longer than the %d bytes a record may have", MaxRecord)}
		}
		if len(trimLineEnd(first)) == 0 && !r.blanks {
			continue
		}
		if r.quote == 0 || bytes.IndexByte(first, r.quote) < 0 { // no quoting: fields are views of the text
			if r.passOver != nil && r.passOver(trimLineEnd(first)) {
				r.raw = ""
				return nil, errPassedOver
			}
			r.raw = r.keep(trimLineEnd(first))
			r.fields = splitPlain(r.raw, r.fields[:0], r.sep)
			return r.fields, nil
		}
		r.rec = append(r.rec[:0], first...)
		first = r.rec[:len(first):len(first)] // kept: the next readLine may reuse its buffer
		var more [][]byte                     // the lines after the first, should the record be broken
		for openQuote(r.rec, r.sep, r.quote) {
			next, long, err := r.readLine()
			if errors.Is(err, io.EOF) || long || len(r.rec)+len(next) > MaxRecord {
				if long {
					next = nil // its first bytes were all that was kept: not worth reading again
				}
				return r.broken(first, append(more, append([]byte(nil), next...)), start)
			}
			if err != nil {
				return nil, err
			}
			r.line++
			more = append(more, append([]byte(nil), next...))
			r.rec = append(r.rec, next...)
		}
		r.raw = r.keep(trimLineEnd(r.rec))
		fields, err := splitRecord(r.raw, r.fields[:0], r.sep, r.quote)
		r.fields = fields
		if err != nil && len(more) > 0 {
			// Across lines and broken: its first line is the broken record,
			// the others are read again.
			return r.broken(first, more, start)
		}
		if err != nil {
			return nil, &csv.ParseError{StartLine: start, Line: r.line, Err: err}
		}
		return fields, nil
	}
}

// broken makes the first line of a record whose quote never closes one
// broken record; the lines read after it are read again as records.
func (r *recordReader) broken(first []byte, more [][]byte, start int) ([]string, error) {
	r.raw = string(trimLineEnd(first))
	var keep [][]byte
	for _, l := range more {
		if l != nil {
			keep = append(keep, l)
		}
	}
	r.pending = append(keep, r.pending...)
	r.line = start
	return nil, &csv.ParseError{StartLine: start, Line: start, Err: errors.New(`a quoted field opened on this line does not close as a field: extraneous or missing " in quoted-field`)}
}

// Raw is the last record's text as read.
func (r *recordReader) Raw() string { return r.raw }

// asParseError is errors.As for a *csv.ParseError. Its target escapes to
// the heap: declared where every record passes, it cost an allocation a
// record (1.9 of the 45 s extract's building goroutine took for 36.6
// million site events); here only an error pays for it.
func asParseError(err error) (*csv.ParseError, bool) {
	if err == nil {
		return nil, false
	}
	var perr *csv.ParseError
	ok := errors.As(err, &perr)
	return perr, ok
}

// keepBlock is the size of the blocks keep copies records' text into.
const keepBlock = 64 << 10

// keep copies a record's text into a string that stays valid: into a block
// it shares with the records before it, never written over, so that a
// record costs no allocation of its own (one a line took 2.8 of the
// reading goroutine's 12.4 s for 36.6 million site events). A string kept keeps its block: a caller that holds one
// long (a rejected row's text) clones it.
func (r *recordReader) keep(text []byte) string {
	if len(text) == 0 {
		return ""
	}
	if cap(r.block)-len(r.block) < len(text) {
		r.block = make([]byte, 0, max(keepBlock, len(text)))
	}
	start := len(r.block)
	r.block = append(r.block, text...)
	return unsafe.String(&r.block[start], len(text))
}

func trimLineEnd(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// openQuote says whether a quoted field is still open at the end of text.
func openQuote(text []byte, sep, quote byte) bool {
	in, fieldStart := false, true
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case in && c == quote:
			if i+1 < len(text) && text[i+1] == quote {
				i++ // an escaped quote
			} else {
				in = false
			}
		case in:
		case c == quote && fieldStart:
			in, fieldStart = true, false
		case c == sep || c == '\n':
			fieldStart = true
		default:
			fieldStart = false
		}
	}
	return in
}

var (
	errQuote     = errors.New(`extraneous or missing " in quoted-field`)
	errBareQuote = errors.New(`bare " in non-quoted-field`)
)

// splitPlain splits a record without quotes at its separators.
func splitPlain(text string, fields []string, sep byte) []string {
	for {
		i := strings.IndexByte(text, sep)
		if i < 0 {
			return append(fields, text)
		}
		fields = append(fields, text[:i])
		text = text[i+1:]
	}
}

// splitRecord splits one record's text (its final line end excluded) into
// fields as encoding/csv does: "" is a quote inside a quoted field, and a
// CRLF inside one is read as LF.
func splitRecord(text string, fields []string, sep, quote byte) ([]string, error) {
	var buf []byte
	var ends []int
	for i := 0; ; {
		if i < len(text) && text[i] == quote {
			for i++; ; {
				if i >= len(text) {
					return fields, errQuote
				}
				c := text[i]
				if c == quote {
					if i+1 < len(text) && text[i+1] == quote {
						buf = append(buf, quote)
						i += 2
						continue
					}
					i++
					break
				}
				if c == '\r' && i+1 < len(text) && text[i+1] == '\n' {
					i++
					continue
				}
				buf = append(buf, c)
				i++
			}
			if i < len(text) && text[i] != sep {
				return fields, errQuote
			}
		} else {
			for i < len(text) && text[i] != sep {
				if text[i] == quote {
					return fields, errBareQuote
				}
				buf = append(buf, text[i])
				i++
			}
		}
		ends = append(ends, len(buf))
		if i >= len(text) {
			break
		}
		i++ // the comma
	}
	all := string(buf) // one string a record: the fields are views of it
	from := 0
	for _, e := range ends {
		fields = append(fields, all[from:e])
		from = e
	}
	return fields, nil
}
