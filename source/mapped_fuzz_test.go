package source

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
)

// fuzzLayouts are date layouts exports use, each with the precision it keeps.
var fuzzLayouts = []struct {
	layout string
	unit   time.Duration
}{
	{"1/2/2006 15:04", time.Minute},
	{"01/02/2006 15:04", time.Minute},
	{"02.01.2006 15:04:05", time.Second},
	{"02.01.2006", 24 * time.Hour},
	{"20060102", 24 * time.Hour},
	{"2006-01-02T15:04:05", time.Second},
	{"Jan 2, 2006 3:04 PM", time.Minute},
}

// FuzzDateLayouts: a time written in a layout on a zone's wall clock reads
// back as the same instant (to the layout's precision); any text either
// reads as a time inside what the warehouse stores or passes as it is for
// canon to reject, and nothing panics.
func FuzzDateLayouts(f *testing.F) {
	f.Add(uint8(0), int64(1506941760), uint8(0), "10/2/2017 10:56")
	f.Add(uint8(2), int64(1682057814), uint8(1), "21.04.2023 06:16:54")
	f.Add(uint8(4), int64(0), uint8(2), "20060102")
	f.Add(uint8(6), int64(4102444800), uint8(0), "Feb 30, 2020 1:00 AM")
	var zones []*time.Location
	for _, name := range []string{"UTC", "Europe/Moscow", "America/Sao_Paulo"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			f.Fatal(err)
		}
		zones = append(zones, loc)
	}
	f.Fuzz(func(t *testing.T, li uint8, secs int64, zi uint8, text string) {
		l := fuzzLayouts[int(li)%len(fuzzLayouts)]
		loc := zones[int(zi)%len(zones)]
		ft := Format{Layouts: []string{l.layout}, Loc: loc}
		secs = secs % canon.MaxTime
		if secs < 0 {
			secs = -secs
		}
		// The wall clock's time, cut to the layout's precision, on that clock.
		wall := time.Unix(secs, 0).In(loc)
		y, m, d := wall.Date()
		cut := time.Date(y, m, d, wall.Hour(), wall.Minute(), wall.Second(), 0, loc)
		if l.unit >= time.Minute {
			cut = time.Date(y, m, d, wall.Hour(), wall.Minute(), 0, 0, loc)
		}
		if l.unit >= 24*time.Hour {
			cut = time.Date(y, m, d, 0, 0, 0, 0, loc)
		}
		written := cut.Format(l.layout)
		got, ok := canon.ParseTime(ft.AppendTime(nil, []byte(written)))
		// Where a zone's clock goes back, one wall time is two instants:
		// either is right.
		if !ok || (got != cut.Unix() && time.Unix(got, 0).In(loc).Format(l.layout) != written) {
			t.Fatalf("%q (%s in %s) read as %d, %v; want %d", written, l.layout, loc, got, ok, cut.Unix())
		}
		out := ft.AppendTime(nil, []byte(text))
		if string(out) != text {
			if _, ok := canon.ParseTime(out); !ok {
				t.Fatalf("%q became %q, which is not a time", text, out)
			}
		}
	})
}

// FuzzDecimalComma: an amount written with a decimal comma and any
// thousands separator reads as the same number; any text passes or becomes
// text without separators, and nothing panics.
func FuzzDecimalComma(f *testing.F) {
	f.Add(int64(123456), uint8(0), false, "1 234,56")
	f.Add(int64(-100000000), uint8(1), true, "1.234.567,00")
	f.Add(int64(5), uint8(2), false, "12.5")
	f.Add(int64(0), uint8(3), false, ",,")
	seps := []string{" ", ".", "\u00a0", "\u202f", "'", ""}
	f.Fuzz(func(t *testing.T, cents int64, si uint8, abs bool, text string) {
		if cents == math.MinInt64 {
			cents++
		}
		ft := Format{DecimalComma: true}
		neg := cents < 0
		if neg {
			cents = -cents
		}
		whole := strconv.FormatInt(cents/100, 10)
		sep := seps[int(si)%len(seps)]
		var b strings.Builder
		if neg {
			b.WriteByte('-')
		}
		for i, c := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteString(sep)
			}
			b.WriteRune(c)
		}
		written := b.String() + "," + strconv.FormatInt(cents%100+100, 10)[1:]
		out := ft.AppendNumber(nil, []byte(written), abs)
		got, err := strconv.ParseFloat(string(out), 64)
		want := float64(cents) / 100
		if neg && !abs {
			want = -want
		}
		if err != nil || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("%q (abs %v) read as %q = %v, %v; want %v", written, abs, out, got, err, want)
		}
		out = ft.AppendNumber(nil, []byte(text), abs)
		if bytes.Count(out, []byte(",")) > 0 && bytes.Count([]byte(text), []byte(",")) < 2 {
			t.Fatalf("%q became %q, still with a comma", text, out)
		}
		if utf8.ValidString(text) && !utf8.Valid(out) {
			t.Fatalf("%q became %q, not UTF-8", text, out)
		}
	})
}

// FuzzEncodings: any bytes read as a Windows-1251 or Windows-1252 file
// with any separator give records whose every field and raw text are
// UTF-8, and a mapped read of them follows what every reader promises.
func FuzzEncodings(f *testing.F) {
	b1251, _ := charmap.Windows1251.NewEncoder().String("Код;Город\r\n00-1;Москва\r\n;\r\n\"a;b\";ё\r\n")
	f.Add([]byte(b1251), uint8(0), uint8(0))
	b1252, _ := charmap.Windows1252.NewEncoder().String("customer_id,city\n1,Zürich\n,,\n")
	f.Add([]byte(b1252), uint8(1), uint8(1))
	f.Add([]byte{0x98, 0x81, 0xff, '\n', 0xc0}, uint8(0), uint8(2))
	cms := []*charmap.Charmap{charmap.Windows1251, charmap.Windows1252}
	seps := []byte{';', ',', '\t', '|'}
	f.Fuzz(func(t *testing.T, in []byte, ci, si uint8) {
		ft := Format{Sep: seps[int(si)%len(seps)], Quote: '"', Charmap: cms[int(ci)%len(cms)], Loc: time.UTC}
		r := newRecordReaderOf(ft.Reader(bytes.NewReader(in)), ft.Sep, ft.Quote, true)
		for n := 0; ; n++ {
			rec, err := r.Read()
			if err != nil && n > 1<<16 {
				t.Fatal("no end")
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if !utf8.ValidString(r.Raw()) {
				t.Fatalf("raw %q is not UTF-8", r.Raw())
			}
			for _, field := range rec {
				if !utf8.ValidString(field) {
					t.Fatalf("field %q is not UTF-8", field)
				}
			}
		}
		tbl, _ := canon.Lookup(canon.Customers)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.csv"), in, 0o600); err != nil {
			t.Fatal(err)
		}
		enc := map[*charmap.Charmap]string{charmap.Windows1251: "windows-1251", charmap.Windows1252: "windows-1252"}[ft.Charmap]
		m := config.FileMapping{File: "x.csv", IgnoreUnmapped: true, Constants: map[string]string{"created_at": "2020-01-01", "updated_at": "2020-01-01"},
			FileFormat: config.FileFormat{Delimiter: string(ft.Sep), Encoding: enc}}
		mp, err := OpenMapped(dir, m, NewFormat(m, time.UTC), tbl, nil)
		if err != nil {
			return // no header, or no customer_id column: an error, not a panic
		}
		defer mp.Close()
		drain(t, mp, tbl)
	})
}
