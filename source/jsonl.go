package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tessera-cdp/tessera/canon"
)

// JSONL reads JSON Lines, one object per line whose keys name canonical
// columns (site events as trackers write them). Strings are taken as they are,
// numbers and booleans as their text, null as missing; keys that are not
// canonical columns are extra attributes and are not kept. A line that is not
// a JSON object is rejected as a malformed record; blank lines are skipped.
type JSONL struct {
	name   string
	f      io.Closer
	br     *bufio.Reader
	buf    []byte
	t      *canon.Table
	fields [][]byte
	line   []byte
	pos    int64
	rule   canon.Rule
	detail string
	err    error
}

// MaxLine bounds one JSON line (a record, not a file): a longer line is
// rejected as a malformed record (its first bytes kept) and reading goes on
// with the next.
const MaxLine = 16 << 20

// OpenJSONL opens path as JSON Lines of table t.
func OpenJSONL(path string, t *canon.Table) (*JSONL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	j := NewJSONL(filepath.Base(path), f, t)
	j.f = f
	return j, nil
}

// NewJSONL reads JSON Lines from r.
func NewJSONL(name string, r io.Reader, t *canon.Table) *JSONL {
	return &JSONL{name: name, br: bufio.NewReaderSize(r, 64<<10), t: t, fields: make([][]byte, len(t.Columns))}
}

// readLine reads the next line without its end; n is its length, of which at
// most MaxLine bytes are kept.
func (j *JSONL) readLine() (line []byte, n int, err error) {
	j.buf = j.buf[:0]
	for {
		chunk, err := j.br.ReadSlice('\n')
		n += len(chunk)
		if room := MaxLine - len(j.buf); room > 0 {
			j.buf = append(j.buf, chunk[:min(len(chunk), room)]...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && n > 0:
			return j.buf, n, nil
		case err != nil:
			return nil, n, err
		}
		return j.buf, n, nil
	}
}

// Next reads the next non-blank line.
func (j *JSONL) Next() bool {
	if j.err != nil {
		return false
	}
	j.rule, j.detail = "", ""
	for k := range j.fields {
		j.fields[k] = nil
	}
	for {
		raw, n, err := j.readLine()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			j.err = fmt.Errorf("%s line %d: %w", j.name, j.pos+1, err)
			return false
		}
		j.pos++
		if n > MaxLine {
			j.line = append(raw[:min(len(raw), 256):min(len(raw), 256)], "…"...)
			j.rule, j.detail = canon.MalformedRecord, fmt.Sprintf("a line of %d bytes: longer than the %d a record may have", n, MaxLine)
			return true
		}
		line := bytes.TrimSpace(raw)
		if j.pos == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) > 0 {
			j.line = line
			break
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(j.line, &obj); err != nil {
		j.rule, j.detail = canon.MalformedRecord, "not a JSON object: "+err.Error()
		return true
	}
	for key, raw := range obj {
		k := j.t.Index(key)
		if k < 0 {
			continue
		}
		v, err := text(raw)
		if err != nil {
			j.rule, j.detail = canon.MalformedRecord, fmt.Sprintf("%s: %v", key, err)
			return true
		}
		j.fields[k] = v
	}
	return true
}

// text is a JSON value as the text of a column: nil for null.
func text(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case raw[0] == '{' || raw[0] == '[':
		return nil, fmt.Errorf("an object or array where a value belongs")
	case bytes.Equal(raw, []byte("true")) || bytes.Equal(raw, []byte("false")):
		return raw, nil
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
		return nil, fmt.Errorf("%q is not a JSON value", raw)
	}
	return raw, nil
}

func (j *JSONL) Fields() [][]byte              { return j.fields }
func (j *JSONL) Problem() (canon.Rule, string) { return j.rule, j.detail }
func (j *JSONL) Position() int64               { return j.pos }
func (j *JSONL) Raw() string                   { return string(j.line) }
func (j *JSONL) Name() string                  { return j.name }
func (j *JSONL) Err() error                    { return j.err }

func (j *JSONL) Close() error {
	if j.f != nil {
		return j.f.Close()
	}
	return nil
}
