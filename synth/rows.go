package synth

import (
	"strconv"

	"github.com/tessera-cdp/tessera/canon"
)

// rows holds the rows of one entity generated for a chunk, as canonical text:
// the field bytes live in one arena so that a chunk costs a few allocations.
type rows struct {
	ncol int
	buf  []byte
	ends []int32 // end offset of each field in buf, ncol per row
	bad  []badRow
	cur  int // fields written to the current row
}

// badRow marks a row that breaks a rule on purpose, for the truth file.
type badRow struct {
	row  int
	rule canon.Rule
}

func newRows(ncol int) *rows { return &rows{ncol: ncol} }

func (r *rows) len() int { return len(r.ends) / r.ncol }

func (r *rows) end() {
	r.ends = append(r.ends, int32(len(r.buf)))
	r.cur++
}

func (r *rows) str(s string) *rows  { r.buf = append(r.buf, s...); r.end(); return r }
func (r *rows) byts(b []byte) *rows { r.buf = append(r.buf, b...); r.end(); return r }
func (r *rows) int(n int64) *rows   { r.buf = strconv.AppendInt(r.buf, n, 10); r.end(); return r }
func (r *rows) money(f float64) *rows {
	r.buf = strconv.AppendFloat(r.buf, f, 'f', 2, 64)
	r.end()
	return r
}
func (r *rows) bool(b bool) *rows {
	if b {
		return r.str("true")
	}
	return r.str("false")
}
func (r *rows) time(secs int64) *rows { r.buf = appendTime(r.buf, secs); r.end(); return r }
func (r *rows) id(prefix byte, n int64) *rows {
	r.buf = append(r.buf, prefix)
	r.buf = appendPadded(r.buf, n, 8)
	r.end()
	return r
}

// done closes a row; it panics on a programming error (wrong field count), never on data.
func (r *rows) done() int {
	if r.cur != r.ncol {
		panic("synth: row with " + strconv.Itoa(r.cur) + " fields for " + strconv.Itoa(r.ncol) + " columns")
	}
	r.cur = 0
	return r.len() - 1
}

// field returns field c of row i.
func (r *rows) field(i, c int) []byte {
	k := i*r.ncol + c
	start := int32(0)
	if k > 0 {
		start = r.ends[k-1]
	}
	return r.buf[start:r.ends[k]]
}

// copyRow appends a copy of row i, with field c replaced by v when c >= 0, and
// returns the new row's index.
func (r *rows) copyRow(i, c int, v []byte) int {
	for k := 0; k < r.ncol; k++ {
		if k == c {
			r.byts(v)
		} else {
			r.byts(r.field(i, k))
		}
	}
	return r.done()
}

func appendPadded(dst []byte, n int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], n, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendTime writes Unix seconds as "YYYY-MM-DD HH:MM:SS" in UTC; hand-written
// because time.Format is the generator's hottest call.
func appendTime(dst []byte, secs int64) []byte {
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	dst = appendPadded(dst, y, 4)
	dst = append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), ' ')
	h, mi, s := rem/3600, rem/60%60, rem%60
	return append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
}

// civilFromDays converts days since 1970-01-01 to a date (H. Hinnant's algorithm).
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
