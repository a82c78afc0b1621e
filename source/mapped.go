package source

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
)

// Format is how a shop's export file is written, compiled from its mapping.
type Format struct {
	Sep, Quote   byte
	Charmap      *charmap.Charmap // nil: UTF-8
	DecimalComma bool
	Layouts      []string
	Loc          *time.Location // of times that carry no offset
}

// NewFormat compiles a mapping's format; loc is the shop's time zone.
func NewFormat(m config.FileMapping, loc *time.Location) Format {
	f := Format{Sep: ',', Quote: '"', Layouts: m.DateLayouts, Loc: cmp.Or(loc, time.UTC)}
	switch m.Delimiter {
	case ";", "|":
		f.Sep = m.Delimiter[0]
	case "\t", "tab":
		f.Sep = '\t'
	}
	switch m.Quote {
	case "'":
		f.Quote = '\''
	case "none":
		f.Quote = 0
	}
	switch strings.ToLower(m.Encoding) {
	case "windows-1251", "cp1251":
		f.Charmap = charmap.Windows1251
	case "windows-1252", "cp1252":
		f.Charmap = charmap.Windows1252
	}
	f.DecimalComma = m.DecimalComma != nil && *m.DecimalComma
	return f
}

// Reader decodes r into UTF-8.
func (f Format) Reader(r io.Reader) io.Reader {
	if f.Charmap == nil {
		return r
	}
	return f.Charmap.NewDecoder().Reader(r)
}

// isoLayouts are the canonical forms without an offset: in a mapped file they
// are on the shop's wall clock, as the file's own layouts are.
var isoLayouts = []string{time.DateTime, "2006-01-02T15:04:05", time.DateOnly}

// AppendTime appends v as canonical UTC text ("2006-01-02 15:04:05") when
// one of the layouts (or an ISO form without offset) reads it, else v as it
// is: canon reads offsets and Unix seconds, and rejects the rest as
// bad_timestamp, naming the text.
func (f Format) AppendTime(dst, v []byte) []byte {
	out, _ := f.appendTime(dst, v)
	return out
}

// appendTime is AppendTime, and whether v read as a time.
func (f Format) appendTime(dst, v []byte) ([]byte, bool) {
	s := string(v)
	for _, layouts := range [][]string{f.Layouts, isoLayouts} {
		for _, l := range layouts {
			// A year canon cannot read keeps the file's text, so that the
			// rejection names what the file says (fuzzing found "1/1/0000
			// 0:00" rejected as "0000-01-01 00:00:00").
			if t, err := time.ParseInLocation(l, s, f.Loc); err == nil && t.Year() >= 1900 && t.Year() <= 2200 {
				return canon.AppendTime(dst, t.Unix()), true
			}
		}
	}
	return append(dst, v...), false
}

// AppendNumber appends v as a number canon reads: with a decimal comma,
// "1 234,56" and "1.234,56" become 1234.56 (a '.' between groups of three
// digits is a thousands separator, any other is a decimal point); spaces,
// no-break spaces and apostrophes between digits are dropped; abs drops a
// minus sign. What is not a number passes as it is, for canon to reject.
func (f Format) AppendNumber(dst, v []byte, abs bool) []byte {
	start := len(dst)
	if abs && len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	v = bytes.TrimSpace(v)
	lastComma := bytes.LastIndexByte(v, ',')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ' ' || c == '\'':
			continue
		case c == 0xc2 && i+1 < len(v) && v[i+1] == 0xa0: // no-break space
			i++
			continue
		case c == 0xe2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2] == 0xaf: // narrow no-break space
			i += 2
			continue
		case f.DecimalComma && c == ',' && i == lastComma:
			c = '.'
		case f.DecimalComma && c == ',':
			return append(dst[:start], v...) // two decimal commas: not a number
		case f.DecimalComma && c == '.' && (lastComma > i || thousandsGroup(v[i+1:])):
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// thousandsGroup says whether rest starts with three digits and then either
// ends or goes on with another '.' (a decimal-comma number's thousands).
func thousandsGroup(rest []byte) bool {
	if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) {
		return false
	}
	return len(rest) == 3 || rest[3] == '.' || rest[3] == ','
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// valueMap maps the file's values of a column onto canonical ones.
type valueMap []valueRule

type valueRule struct {
	to      []byte
	pattern string // lower-cased; '*' matches any run of characters
}

// newValueMap orders the rules: exact values first, then patterns by the
// length of their literal text (longest first), a lone "*" last; ties by
// canonical value.
func newValueMap(m map[string][]string) valueMap {
	var vm valueMap
	for to, froms := range m {
		for _, from := range froms {
			vm = append(vm, valueRule{to: []byte(to), pattern: strings.ToLower(strings.TrimSpace(from))})
		}
	}
	literal := func(r valueRule) int { return len(strings.ReplaceAll(r.pattern, "*", "")) }
	wild := func(r valueRule) bool { return strings.Contains(r.pattern, "*") }
	sort.SliceStable(vm, func(i, j int) bool {
		a, b := vm[i], vm[j]
		if wild(a) != wild(b) {
			return !wild(a)
		}
		if literal(a) != literal(b) {
			return literal(a) > literal(b)
		}
		if c := bytes.Compare(a.to, b.to); c != 0 {
			return c < 0
		}
		return a.pattern < b.pattern
	})
	return vm
}

// apply is the canonical value of v, or v when no rule matches.
func (vm valueMap) apply(v []byte) []byte {
	if len(vm) == 0 {
		return v
	}
	s := strings.ToLower(string(v))
	for _, r := range vm {
		if globMatch(r.pattern, s) {
			return r.to
		}
	}
	return v
}

// globMatch matches s against a pattern whose only special character is '*'.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// colSource is where a canonical column's value comes from.
type colSource struct {
	field    int    // the file's field, -1 when none
	constant []byte // when no field
	values   valueMap
	abs      bool
}

// Mapped reads one entity from a shop's own export through its mapping
// (source.files.mapping): each record's fields are renamed, given constants,
// mapped values, canonical times and numbers. A wholly blank record is
// reported as Blank, not as a row. The files of a glob are read in name
// order, each with its header.
type Mapped struct {
	record
	t       *canon.Table
	m       config.FileMapping
	f       Format
	paths   []string
	next    int
	file    io.Closer
	r       *readAhead
	src     []colSource // per canonical column
	width   int
	personF int // field of the person key, -1
	person  []byte
	blank   bool
	vals    [][]byte // per canonical column, reused
	// fill derives the columns the file lacks (set by the caller), after
	// the mapped ones; derived lists them, so the header need not give them.
	fill    func(fields [][]byte, vals [][]byte)
	derived map[string]bool
	lineNo  map[string]int32 // line numbers by order, when line_no is derived
	// lenient: the file is read for another entity than its mapping's (the
	// customers of an orders file): its other columns are not errors.
	lenient bool
}

// OpenMapped opens the entity of t from the files the mapping names under
// dir. derived names the canonical columns the caller fills (fill) when the
// file lacks them; fs.ErrNotExist says where it looked.
func OpenMapped(dir string, m config.FileMapping, f Format, t *canon.Table, derived []string) (*Mapped, error) {
	return openMapped(dir, m, f, t, derived, false)
}

func openMapped(dir string, m config.FileMapping, f Format, t *canon.Table, derived []string, lenient bool) (*Mapped, error) {
	paths, err := filepath.Glob(filepath.Join(dir, m.File))
	if err != nil {
		return nil, fmt.Errorf("source.files.mapping: file %q: %w", m.File, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("looked for %s in %s for %s (source.files.mapping): %w", m.File, dir, t.Entity, fs.ErrNotExist)
	}
	sort.Strings(paths)
	mp := &Mapped{record: record{fields: make([][]byte, len(t.Columns))}, t: t, m: m, f: f, paths: paths,
		vals: make([][]byte, len(t.Columns)), derived: map[string]bool{}, lenient: lenient}
	for _, d := range derived {
		mp.derived[d] = true
	}
	if err := mp.openNext(); err != nil {
		return nil, err
	}
	return mp, nil
}

// Derive sets the function that fills the derived columns of each row.
func (mp *Mapped) Derive(fill func(fields [][]byte, vals [][]byte)) { mp.fill = fill }

// Reject rejects the current row for a reason of the derivation (from the
// fill function): what could not be derived, and why.
func (mp *Mapped) Reject(rule canon.Rule, detail string) { mp.rule, mp.detail = rule, detail }

// openNext opens the next file and reads its header.
func (mp *Mapped) openNext() error {
	path := mp.paths[mp.next]
	mp.next++
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	mp.file, mp.name = fh, filepath.Base(path)
	rr := newRecordReaderOf(mp.f.Reader(fh), mp.f.Sep, mp.f.Quote, true)
	header, err := rr.Read()
	for err == nil && isBlank(header) { // blank lines before the header
		header, err = rr.Read()
	}
	if errors.Is(err, io.EOF) {
		fh.Close()
		return fmt.Errorf("%s: empty file: expected a header line naming the columns", path)
	}
	if err != nil {
		fh.Close()
		return fmt.Errorf("%s: header: %w", path, err)
	}
	if err := mp.header(slices.Clone(header)); err != nil {
		fh.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	mp.r = newReadAhead(rr)
	return nil
}

// header maps the file's columns onto the canonical ones.
func (mp *Mapped) header(header []string) error {
	t, m := mp.t, mp.m
	mp.width, mp.personF = len(header), -1
	mp.src = make([]colSource, len(t.Columns))
	for k := range mp.src {
		mp.src[k].field = -1
	}
	byLower := map[string]config.Names{}
	for from, to := range m.Columns {
		byLower[strings.ToLower(strings.TrimSpace(from))] = to
	}
	var unmapped []string
	for i, h := range header {
		name := strings.TrimSpace(h)
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		to, ok := m.Columns[name]
		if !ok {
			to, ok = byLower[strings.ToLower(name)]
		}
		if strings.EqualFold(name, m.PersonKey) && m.PersonKey != "" {
			mp.personF = i
			if !ok {
				continue
			}
		}
		if !ok && t.Index(strings.ToLower(name)) >= 0 {
			to, ok = config.Names{strings.ToLower(name)}, true
		}
		if !ok {
			unmapped = append(unmapped, name)
			continue
		}
		for _, c := range to {
			k := t.Index(c)
			if k < 0 {
				continue // a column of another entity of a transactions file
			}
			if mp.src[k].field >= 0 {
				return fmt.Errorf("columns %q and %q both map to %s", header[mp.src[k].field], name, c)
			}
			mp.src[k].field = i
		}
	}
	if len(unmapped) > 0 && !m.IgnoreUnmapped && !mp.lenient {
		return fmt.Errorf("column(s) %s are not mapped: map them under columns or set ignore_unmapped: true", quoteAll(unmapped))
	}
	if m.PersonKey != "" && mp.personF < 0 {
		return fmt.Errorf("the header has no person_key column %q", m.PersonKey)
	}
	var missing []string
	for k, c := range t.Columns {
		s := &mp.src[k]
		if v, ok := m.Constants[c.Name]; ok && s.field < 0 {
			s.constant = []byte(v)
		}
		s.values = newValueMap(m.Values[c.Name])
		s.abs = slices.Contains(m.Absolute, c.Name)
		if c.Required && s.field < 0 && s.constant == nil && !mp.derived[c.Name] {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		// A column mapped to one of them that the header lacks is the likely
		// cause: a misspelt name.
		for from, to := range m.Columns {
			if !slices.ContainsFunc(to, func(c string) bool { return slices.Contains(missing, c) }) ||
				slices.ContainsFunc(header, func(h string) bool {
					return strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), strings.TrimSpace(from))
				}) {
				continue
			}
			return fmt.Errorf("source.files.mapping.%s.columns maps %q to %s, but the header has no column %q: did you mean %q? (the header: %s)",
				t.Entity, from, strings.Join(to, ", "), from, config.Closest(from, header), quoteAll(header))
		}
		return fmt.Errorf("nothing gives %s of %s: map a column of the file to each (columns) or set a constant (constants)", strings.Join(missing, ", "), t.Entity)
	}
	return nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func isBlank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// Has says whether the file gives (or derives) a canonical column.
func (mp *Mapped) Has(col string) bool {
	k := mp.t.Index(col)
	return k >= 0 && (mp.src[k].field >= 0 || mp.src[k].constant != nil)
}

// Next reads the next record.
func (mp *Mapped) Next() bool {
	for {
		if mp.err != nil {
			return false
		}
		rec, err := mp.r.Read()
		if errors.Is(err, io.EOF) {
			mp.r.stop()
			mp.file.Close()
			mp.file = nil
			if mp.next >= len(mp.paths) {
				return false
			}
			if mp.err = mp.openNext(); mp.err != nil {
				return false
			}
			continue
		}
		mp.pos++
		mp.rule, mp.detail, mp.blank, mp.person = "", "", false, nil
		mp.raw = mp.r.Raw()
		if perr, ok := asParseError(err); ok {
			mp.rule, mp.detail = canon.MalformedRecord, perr.Err.Error()
			return true
		}
		if err != nil {
			mp.err = fmt.Errorf("%s record %d: %w", mp.name, mp.pos, err)
			return false
		}
		if isBlank(rec) {
			mp.blank = true
			return true
		}
		if len(rec) != mp.width {
			mp.rule, mp.detail = canon.WrongFieldCount, fmt.Sprintf("%d fields, the header has %d", len(rec), mp.width)
			return true
		}
		mp.mapRecord(rec)
		return true
	}
}

// mapRecord fills the canonical fields of one record.
func (mp *Mapped) mapRecord(rec []string) {
	for k, c := range mp.t.Columns {
		s := &mp.src[k]
		var v []byte
		switch {
		case s.field >= 0:
			v = bytes.TrimSpace(bytesOf(rec[s.field]))
		case s.constant != nil:
			v = s.constant
		default:
			mp.fields[k] = nil
			continue
		}
		if len(v) > 0 { // an empty value stays empty: "*" does not fill it in
			v = s.values.apply(v)
			switch c.Kind {
			case canon.Timestamp:
				var ok bool
				v, ok = mp.f.appendTime(mp.vals[k][:0], v)
				mp.vals[k] = v
				if _, canonical := canon.ParseTime(v); !ok && !canonical && mp.rule == "" { // canon would reject it: say what was tried
					mp.rule, mp.detail = canon.BadTimestamp, fmt.Sprintf("%s %q is not a time: it reads with none of the date layouts %q (source.files.mapping.%s.date_layouts), nor as ISO 8601",
						c.Name, v, mp.f.Layouts, mp.t.Entity)
				}
			case canon.Money, canon.Int:
				v = mp.f.AppendNumber(mp.vals[k][:0], v, s.abs)
				mp.vals[k] = v
			}
		}
		mp.fields[k] = v
	}
	if mp.personF >= 0 {
		mp.person = bytes.TrimSpace(bytesOf(rec[mp.personF]))
	}
	if k := mp.t.Index("line_no"); k >= 0 && mp.fields[k] == nil && mp.derived["line_no"] {
		mp.fields[k] = mp.nextLine(mp.fields[mp.t.Index("order_id")], mp.vals[k][:0])
		mp.vals[k] = mp.fields[k]
	}
	if mp.fill != nil {
		mp.fill(mp.fields, mp.vals)
	}
}

// nextLine numbers the lines of an order from 1, in the order read.
func (mp *Mapped) nextLine(order, dst []byte) []byte {
	if mp.lineNo == nil {
		mp.lineNo = map[string]int32{}
	}
	o := string(bytes.TrimSpace(order))
	mp.lineNo[o]++
	return fmt.Appendf(dst, "%d", mp.lineNo[o])
}

// Blank says the record is wholly blank: counted, not a row.
func (mp *Mapped) Blank() bool { return mp.blank }

// Person is the record's person key (customers with person_key).
func (mp *Mapped) Person() []byte { return mp.person }

// Close closes the file being read.
func (mp *Mapped) Close() error {
	if mp.file != nil {
		mp.r.stop()
		return mp.file.Close()
	}
	return nil
}
