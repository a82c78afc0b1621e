package canon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Builder validates raw rows of one entity and appends the valid ones to Arrow
// builders. It is the one place where the rules of the canonical model are applied.
type Builder struct {
	t    *Table
	mem  memory.Allocator
	rb   *array.RecordBuilder // its fields of text stay empty: strs build them
	strs []*stringColumn      // of each column of text; nil for the others
	rows int                  // appended since the last NewRecord
	keys *Keys
	refs []refCheck
	// refLookups are the lookups of the row's parents, begun (a null
	// value's is not).
	refLookups []lookup
	vals       []value
	keyBuf     []byte
	aheadBuf   []byte // Prefetch's key
	// evented rows need customer_id or anonymous_id
	custCol, anonCol int

	// Versioned tables: a key read again with a newer version replaces the
	// older row. In the current batch the older row is dropped before landing;
	// in a batch already landed, the raw table's version keeps the newer one.
	verCol     int
	batchRow   map[uint64]int // key -> row of the current batch
	drop       []bool         // rows of the current batch replaced by a newer version
	dropped    int
	replaced   int // the row the last Append replaced in the current batch, or -1
	superseded int64

	maxAmount float64 // money above it (in absolute value) is out_of_range
	// softMissed counts rows landed although a soft reference names no
	// parent row (order lines of products the catalogue lacks).
	softMissed int64
	strictSoft bool
	soft       bool // the row just checked missed a soft reference
}

type refCheck struct {
	col  int
	keys *Keys
	Ref
}

type value struct {
	s    []byte
	i    int64
	f    float64
	b    bool
	null bool
}

// NewBuilder returns a builder for t. Its keys join sets[t.Entity]; the parents that
// t refers to must already be in sets (load parents first, as Tables orders them).
func NewBuilder(mem memory.Allocator, t *Table, sets KeySets) (*Builder, error) {
	b := &Builder{t: t, mem: mem, vals: make([]value, len(t.Columns)), custCol: -1, anonCol: -1, verCol: -1, replaced: -1, maxAmount: DefaultMaxAmount}
	if sets[t.Entity] == nil {
		sets[t.Entity] = NewKeys()
	}
	b.keys = sets[t.Entity]
	if t.Version != "" {
		b.verCol = t.Index(t.Version)
		b.batchRow = make(map[uint64]int)
		b.keys.versioned()
	}
	for _, r := range t.Refs {
		parent := sets[r.Entity]
		if parent == nil && r.Soft {
			continue // no source had the parent: nothing to check against
		}
		if parent == nil {
			return nil, fmt.Errorf("%s refer to %s: load %s first", t.Entity, r.Entity, r.Entity)
		}
		b.refs = append(b.refs, refCheck{col: t.Index(r.Column), keys: parent, Ref: r})
	}
	b.refLookups = make([]lookup, len(b.refs))
	if t.Entity == Events {
		b.custCol, b.anonCol = t.Index("customer_id"), t.Index("anonymous_id")
	}
	b.rb = array.NewRecordBuilder(mem, t.Schema())
	b.strs = make([]*stringColumn, len(t.Columns))
	for i, c := range t.Columns {
		if c.Kind == String {
			b.strs[i] = newStringColumn(mem)
		}
	}
	return b, nil
}

// Table returns the builder's table.
func (b *Builder) Table() *Table { return b.t }

// Len is the number of rows appended since the last NewRecord.
func (b *Builder) Len() int { return b.rows }

// NewRecord returns the rows appended so far, less those a newer version
// replaced, and starts afresh. The caller releases it.
func (b *Builder) NewRecord() arrow.Record {
	// The next batch is likely the size of this one: reserving it spares the
	// builders growing (and copying) their buffers step by step (the columns
	// of text reserve their own).
	rows := b.rows
	cols := make([]arrow.Array, len(b.strs))
	for i, sc := range b.strs {
		if sc != nil {
			cols[i] = sc.newArray()
			continue
		}
		fb := b.rb.Field(i)
		cols[i] = fb.NewArray()
		fb.Reserve(rows)
	}
	rec := array.NewRecord(b.t.Schema(), cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	b.rows = 0
	defer func() {
		clear(b.batchRow)
		b.drop, b.dropped = b.drop[:0], 0
	}()
	if b.dropped == 0 {
		return rec
	}
	defer rec.Release()
	return b.kept(rec)
}

// kept is rec without its dropped rows: its runs of kept rows, sliced and
// concatenated. (Arrow's filter kernel grows a text column's buffer value
// by value, to the byte: a batch of 65,536 orders with one row dropped took
// it 2.4 s.)
func (b *Builder) kept(rec arrow.Record) arrow.Record {
	var runs [][2]int64
	for i, dropped := range b.drop {
		if dropped {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1][1] == int64(i) {
			runs[n-1][1]++
			continue
		}
		runs = append(runs, [2]int64{int64(i), int64(i) + 1})
	}
	if len(runs) == 0 { // never: the row that replaced another is kept
		return rec.NewSlice(0, 0)
	}
	cols := make([]arrow.Array, rec.NumCols())
	parts := make([]arrow.Array, len(runs))
	for j, c := range rec.Columns() {
		for k, r := range runs {
			parts[k] = array.NewSlice(c, r[0], r[1])
		}
		out, err := array.Concatenate(parts, b.mem)
		for _, p := range parts {
			p.Release()
		}
		if err != nil { // only on arrays of different types: a bug here, never data
			panic(fmt.Sprintf("canon: drop replaced rows: %v", err))
		}
		cols[j] = out
	}
	out := array.NewRecord(rec.Schema(), cols, int64(len(b.drop)-b.dropped))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// Replaced is the row of the current batch that the last successful Append
// replaced with a newer version of its key, or -1.
func (b *Builder) Replaced() int { return b.replaced }

// Superseded counts rows landed in an earlier batch that a newer version of
// their key, read later, replaced.
func (b *Builder) Superseded() int64 { return b.superseded }

// Release frees the builder's buffers.
func (b *Builder) Release() {
	b.rb.Release()
	for _, sc := range b.strs {
		if sc != nil {
			sc.release()
		}
	}
}

// Key returns the natural key of fields as one string, for reports.
func (b *Builder) Key(fields [][]byte) string {
	return string(b.key(fields))
}

func (b *Builder) key(fields [][]byte) []byte {
	b.keyBuf = b.keyBuf[:0]
	for n, k := range b.t.Key {
		if n > 0 {
			b.keyBuf = append(b.keyBuf, '|')
		}
		if i := b.t.Index(k); i < len(fields) {
			b.keyBuf = append(b.keyBuf, fields[i]...)
		}
	}
	return b.keyBuf
}

// Append validates one row, given as the raw text of each canonical column in
// table order (nil or empty for absent), and appends it. A rejected row returns
// its rule and a detail naming the column and value; nothing is appended then.
func (b *Builder) Append(fields [][]byte) (Rule, string) {
	if rule, detail := b.checkValues(fields); rule != "" {
		return rule, detail
	}
	// The row's parents and its key are looked up at once (the parents'
	// sets are others: parents are read first).
	b.beginRefs()
	l := b.keys.begin(b.keys.sum(b.valKey()))
	if rule, detail := b.checkRefs(); rule != "" {
		return rule, detail
	}
	b.replaced = -1
	var h uint64
	if b.verCol < 0 {
		var added bool
		if h, added = b.keys.addBegun(l); !added {
			return DuplicateKey, fmt.Sprintf("key %q was already read", b.keyBuf)
		}
	} else {
		var rule Rule
		var detail string
		if h, rule, detail = b.newestVersion(l); rule != "" {
			return rule, detail
		}
	}
	if t := b.keys.tally; t != nil {
		t.add(h)
		if b.replaced >= 0 {
			t.drop()
		}
	}
	b.appendVals()
	if b.soft {
		b.softMissed++
	}
	if b.verCol >= 0 {
		b.drop = append(b.drop, false)
	}
	return "", ""
}

// Check validates one row as Append does, short of its key (a duplicate), and
// appends nothing.
func (b *Builder) Check(fields [][]byte) (Rule, string) {
	if rule, detail := b.checkValues(fields); rule != "" {
		return rule, detail
	}
	b.beginRefs()
	return b.checkRefs()
}

// checkValues is Check of the values alone.
func (b *Builder) checkValues(fields [][]byte) (Rule, string) {
	if len(fields) != len(b.t.Columns) {
		return WrongFieldCount, fmt.Sprintf("%d fields for %d columns", len(fields), len(b.t.Columns))
	}
	for i := range b.t.Columns {
		c := &b.t.Columns[i]
		f := fields[i]
		if mayTrim(f) {
			f = bytes.TrimSpace(f)
		}
		v := &b.vals[i]
		*v = value{s: f}
		if len(f) == 0 {
			switch {
			case c.Required && b.t.IsKey(i):
				return MissingKey, c.Name + " is empty"
			case c.Required:
				return MissingField, c.Name + " is empty"
			}
			v.null = true
			continue
		}
		if rule, detail := parse(c, v, b.maxAmount); rule != "" {
			return rule, detail
		}
	}
	if b.custCol >= 0 && b.vals[b.custCol].null && b.vals[b.anonCol].null {
		return MissingField, "neither customer_id nor anonymous_id is set"
	}
	return "", ""
}

// beginRefs begins the lookups of the row's parents (checkRefs ends them).
func (b *Builder) beginRefs() {
	for n, r := range b.refs {
		if v := &b.vals[r.col]; !v.null {
			b.refLookups[n] = r.keys.begin(r.keys.sum(v.s))
		}
	}
}

// checkRefs is Check of the row's parents, once its values are checked.
func (b *Builder) checkRefs() (Rule, string) {
	soft := false
	for n, r := range b.refs {
		v := &b.vals[r.col]
		if v.null && r.Optional || !v.null && r.keys.hasBegun(b.refLookups[n]) {
			continue
		}
		switch {
		case r.keys.WasRejected(v.s):
			return ParentRejected, fmt.Sprintf("%s %q was read but rejected (see its row in rejected_rows)", r.Column, v.s)
		case r.Soft && !b.strictSoft:
			soft = true
		case r.Soft:
			return r.Rule, fmt.Sprintf("%s %q is not in the %s read", r.Column, v.s, r.Entity)
		default:
			return r.Rule, fmt.Sprintf("%s %q is in no source's %s", r.Column, v.s, r.Entity)
		}
	}
	b.soft = soft
	return "", ""
}

// RejectSoft makes a soft reference that names no parent row reject the row
// (unknown_product) instead of landing it counted.
func (b *Builder) RejectSoft() { b.strictSoft = true }

// SoftMissed counts rows landed whose soft reference named no parent row.
func (b *Builder) SoftMissed() int64 { return b.softMissed }

// newestVersion admits a row of a versioned table whose key is new or whose
// version is newer than the one read before, which it replaces.
func (b *Builder) newestVersion(l lookup) (uint64, Rule, string) {
	kb, h := b.keyBuf, l.h
	v := b.vals[b.verCol].i
	was, seen := b.keys.versionOf(l)
	if seen && v <= was {
		return h, DuplicateKey, fmt.Sprintf("key %q was already read with the same or a newer %s", kb, b.t.Version)
	}
	b.keys.setVersion(h, v)
	if seen {
		if row, ok := b.batchRow[h]; ok {
			b.drop[row], b.replaced = true, row
			b.dropped++
		} else {
			b.superseded++
		}
	}
	b.batchRow[h] = b.Len()
	return h, "", ""
}

// Prefetch begins the lookup of the key of a row Append will take a few
// rows later (its fields as Append takes them): at millions of keys each
// lookup is a cache miss, which then waits while the rows between are
// checked, not when the row is (site events at a million customers: 10 of
// the 27 s of CPU that checked them). It changes nothing but what is in
// the cache: a row whose key it misreads is looked up as before.
func (b *Builder) Prefetch(fields [][]byte) {
	if len(fields) != len(b.t.Columns) {
		return
	}
	b.aheadBuf = b.aheadBuf[:0]
	for n, i := range b.t.keyCols {
		if n > 0 {
			b.aheadBuf = append(b.aheadBuf, '|')
		}
		b.aheadBuf = append(b.aheadBuf, bytes.TrimSpace(fields[i])...)
	}
	b.keys.begin(b.keys.sum(b.aheadBuf))
}

// valKey is the natural key of the row being appended, as parsed (trimmed),
// which is how children look their parents up.
func (b *Builder) valKey() []byte {
	b.keyBuf = b.keyBuf[:0]
	for n, i := range b.t.keyCols { // not looked up by name: once a row
		if n > 0 {
			b.keyBuf = append(b.keyBuf, '|')
		}
		b.keyBuf = append(b.keyBuf, b.vals[i].s...)
	}
	return b.keyBuf
}

func (b *Builder) appendVals() {
	b.rows++
	for i, c := range b.t.Columns {
		v := &b.vals[i]
		fb := b.rb.Field(i)
		if v.null && !c.Required && c.Kind != String {
			fb.AppendNull()
			continue
		}
		switch c.Kind {
		case String:
			b.strs[i].append(v.s)
		case Timestamp:
			fb.(*array.TimestampBuilder).Append(arrow.Timestamp(v.i))
		case Money:
			fb.(*array.Float64Builder).Append(v.f)
		case Int:
			fb.(*array.Int32Builder).Append(int32(v.i))
		case Bool:
			fb.(*array.BooleanBuilder).Append(v.b)
		}
	}
}

// The range of a time the warehouse stores: ClickHouse's DateTime holds
// Unix seconds as an unsigned 32-bit number, so a time before 1970 or after
// 2106-02-07 06:28:15 UTC would wrap around (1950 became 2086), and a version
// made of it would never be replaced.
const (
	MinTime int64 = 0
	MaxTime int64 = math.MaxUint32
)

// DefaultMaxAmount is the largest amount or price accepted unless the config
// says otherwise: far above any real order in any currency, far below what
// turns a customer's totals into nonsense (1e308 made a customer a lost VIP).
const DefaultMaxAmount = 1e12

// SetMaxAmount sets the largest amount or price (in absolute value) a row may
// carry; a larger one is out_of_range.
func (b *Builder) SetMaxAmount(f float64) { b.maxAmount = f }

// parse checks one non-empty value of column c and fills v; money above
// maxAmount is out of range.
func parse(c *Column, v *value, maxAmount float64) (Rule, string) {
	s := v.s
	switch c.Kind {
	case String:
		if !plainASCII(s) { // else both checks hold
			if !utf8.Valid(s) {
				return BadEncoding, fmt.Sprintf("%s is not valid UTF-8: %q", c.Name, s)
			}
			if bytes.IndexByte(s, 0) >= 0 {
				return BadEncoding, fmt.Sprintf("%s holds a NUL byte: %q", c.Name, s)
			}
		}
		if c.Enum != nil && !inEnum(c.Enum, s) {
			return UnknownValue, fmt.Sprintf("%s %q is not one of %v", c.Name, s, c.Enum)
		}
		if c.Currency && !currencies[string(s)] {
			return UnknownCurrency, fmt.Sprintf("%s %q is not an ISO 4217 code", c.Name, s)
		}
	case Timestamp:
		t, ok := ParseTime(s)
		if !ok {
			return BadTimestamp, fmt.Sprintf("%s %q is not a time", c.Name, s)
		}
		if t < MinTime || t > MaxTime {
			return OutOfRange, fmt.Sprintf("%s %q is outside what the warehouse stores (1970-01-01 00:00:00 to 2106-02-07 06:28:15 UTC)", c.Name, s)
		}
		v.i = t
	case Money:
		f, err := parseFloat(s)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return BadNumber, fmt.Sprintf("%s %q is not a number", c.Name, s)
		}
		if c.NonNeg && f < 0 {
			return NegativeAmount, fmt.Sprintf("%s is %s", c.Name, s)
		}
		if math.Abs(f) > maxAmount {
			return OutOfRange, fmt.Sprintf("%s %s is above the largest amount accepted (%g: source.max_amount)", c.Name, s, maxAmount)
		}
		v.f = f
	case Int:
		n, err := parseInt32(s)
		if err != nil {
			// "3.0" from spreadsheets and drivers is still a whole number.
			f, ferr := strconv.ParseFloat(unsafeString(s), 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
				return BadNumber, fmt.Sprintf("%s %q is not a whole number", c.Name, s)
			}
			n = int64(f)
		}
		if c.NonNeg && n < 0 {
			return NegativeQuantity, fmt.Sprintf("%s is %s", c.Name, s)
		}
		if c.Max > 0 && (n < int64(c.Min) || n > int64(c.Max)) {
			return OutOfRange, fmt.Sprintf("%s %s is outside %d–%d", c.Name, s, c.Min, c.Max)
		}
		v.i = n
	case Bool:
		switch string(bytes.ToLower(s)) {
		case "true", "t", "1", "yes", "y":
			v.b = true
		case "false", "f", "0", "no", "n":
		default:
			return BadNumber, fmt.Sprintf("%s %q is not true or false", c.Name, s)
		}
	}
	return "", ""
}

// TrimSpace is bytes.TrimSpace, without its work for a value that starts
// and ends with a byte that cannot be space (what most values do): extract
// trims every field of every row (2.5 of the 45 s its building goroutine
// took for 36.6 million site events).
func TrimSpace(f []byte) []byte {
	if mayTrim(f) {
		return bytes.TrimSpace(f)
	}
	return f
}

// mayTrim reports whether f starts or ends with a byte outside '!'..'~'
// (which wraps to 0x5e or more): space, a control character or part of a
// longer character. Small enough to be inlined where every field passes.
func mayTrim(f []byte) bool {
	n := len(f)
	return n > 0 && (f[0]-'!' >= '~'-'!'+1 || f[n-1]-'!' >= '~'-'!'+1)
}

// plainASCII reports whether s is ASCII without a NUL byte, eight bytes at
// a time: most text is, and one pass over a short value costs less than
// the two calls checking it for UTF-8 and for NUL (6.2 of the 54.5 s that
// extract's building goroutine took for 36.6 million site events). False
// may be wrong about s (a NUL byte makes the bytes after it look wider):
// the caller then checks s the long way.
func plainASCII(s []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(s) >= 8 {
		// A byte of 0x80 or more has its high bit set; a byte of 0 sets it
		// by borrowing when ones are taken away.
		if x := binary.LittleEndian.Uint64(s); (x|(x-ones))&highs != 0 {
			return false
		}
		s = s[8:]
	}
	for _, c := range s {
		if c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

func inEnum(enum []string, s []byte) bool {
	for _, e := range enum {
		if string(s) == e {
			return true
		}
	}
	return false
}

// unsafeString views b as a string for parsing without a copy; the string must not
// outlive the call.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
