package source

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/canon"
)

type readResult struct {
	rows     int
	problems []canon.Rule
	fields   [][]string
}

func readAll(t *testing.T, r Rows) readResult {
	t.Helper()
	var res readResult
	for r.Next() {
		res.rows++
		if rule, _ := r.Problem(); rule != "" {
			res.problems = append(res.problems, rule)
			continue
		}
		var f []string
		for _, b := range r.Fields() {
			f = append(f, string(b))
		}
		res.fields = append(res.fields, f)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCSV(t *testing.T) {
	products, _ := canon.Lookup(canon.Products)
	tests := []struct {
		name     string
		in       string
		openErr  string
		rows     int
		problems []canon.Rule
		first    []string
	}{
		{name: "plain", in: "product_id,name,list_price\nP1,Mug,3.5\nP2,Cup,2\n", rows: 2,
			first: []string{"P1", "", "Mug", "", "", "3.5"}},
		{name: "columns in any order, case and spaces", in: " List_Price ,PRODUCT_ID\n3.5,P1\n", rows: 1,
			first: []string{"P1", "", "", "", "", "3.5"}},
		{name: "Excel: BOM and CRLF", in: "\xef\xbb\xbfproduct_id,name\r\nP1,\"Mug, large\"\r\n", rows: 1,
			first: []string{"P1", "", "Mug, large", "", "", ""}},
		{name: "cut in the middle of a line", in: "product_id,name,list_price\nP1,Mug,3.5\nP2,Cu", rows: 2,
			problems: []canon.Rule{canon.WrongFieldCount}},
		{name: "extra field on a record", in: "product_id,name\nP1,Mug,oops\nP2,Cup\n", rows: 2,
			problems: []canon.Rule{canon.WrongFieldCount}},
		{name: "broken quoting costs its record alone", in: "product_id,name\nP1,\"Mug\nP2,Cup\n", rows: 2,
			problems: []canon.Rule{canon.MalformedRecord}},
		{name: "a quote never closed at the start of the file", in: "product_id,name\n\"P1,Mug\nP2,Cup\nP3,\"Big \"\"Mug\"\"\"\nP4,\"two\r\nlines\"\r\n", rows: 4,
			problems: []canon.Rule{canon.MalformedRecord}},
		{name: "quoted fields across lines", in: "product_id,name\nP1,\"Mug\nwith a handle\"\nP2,\"Cup, \"\"blue\"\"\"\n", rows: 2,
			first: []string{"P1", "", "Mug\nwith a handle", "", "", ""}},
		{name: "a quote after a field's start", in: "product_id,name\nP1,5\" screen\nP2,\"Cup\"x\nP3,Mug\n", rows: 3,
			problems: []canon.Rule{canon.MalformedRecord, canon.MalformedRecord}},
		{name: "header only", in: "product_id,name\n", rows: 0},
		{name: "empty file", in: "", openErr: "empty file"},
		{name: "unknown column", in: "product_id,colour\nP1,red\n", openErr: `column "colour"`},
		{name: "required column missing", in: "name\nMug\n", openErr: "lacks required column(s) product_id"},
		{name: "column twice", in: "product_id,product_id\nP1,P1\n", openErr: "twice"},
		{name: "UTF-16 file", in: "\xff\xfep\x00r\x00o\x00d\x00\n\x00", openErr: "is not a column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCSV("test.csv", strings.NewReader(tt.in), products)
			if tt.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.openErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, c)
			if got.rows != tt.rows {
				t.Errorf("%d records, want %d", got.rows, tt.rows)
			}
			if strings.Join(rulesOf(got.problems), ",") != strings.Join(rulesOf(tt.problems), ",") {
				t.Errorf("problems %v, want %v", got.problems, tt.problems)
			}
			if tt.first != nil && strings.Join(got.fields[0], "|") != strings.Join(tt.first, "|") {
				t.Errorf("first row %q, want %q", got.fields[0], tt.first)
			}
		})
	}
}

func rulesOf(rs []canon.Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	return out
}

func TestCSVPositionsAndRaw(t *testing.T) {
	products, _ := canon.Lookup(canon.Products)
	c, err := NewCSV("p.csv", strings.NewReader("product_id,name\nP1,\"a \"\"b\"\"\"\nP2,x,y\n"), products)
	if err != nil {
		t.Fatal(err)
	}
	var pos []int64
	var raws []string
	for c.Next() {
		pos = append(pos, c.Position())
		raws = append(raws, c.Raw())
	}
	if len(pos) != 2 || pos[0] != 1 || pos[1] != 2 {
		t.Errorf("positions %v", pos)
	}
	if raws[0] != `P1,"a ""b"""` || raws[1] != "P2,x,y" {
		t.Errorf("raw %q", raws)
	}
}

func TestOpenCSVMissingFile(t *testing.T) {
	products, _ := canon.Lookup(canon.Products)
	if _, err := OpenCSV(filepath.Join(t.TempDir(), "nope.csv"), products); !os.IsNotExist(err) {
		t.Fatalf("error %v, want not-exist", err)
	}
}

// FuzzCSV: no input makes the reader panic, and every record is either a row of
// the table's width or a record with a named problem.
func FuzzCSV(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz-seed-*.csv")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	orders, _ := canon.Lookup(canon.Orders)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := NewCSV("fuzz.csv", strings.NewReader(string(in)), orders)
		if err != nil {
			return
		}
		for c.Next() {
			if rule, _ := c.Problem(); rule == "" && len(c.Fields()) != len(orders.Columns) {
				t.Fatalf("row of %d fields", len(c.Fields()))
			}
		}
	})
}

// TestCSVBrokenRecordRaw: a record whose quote never closes is rejected with
// its own line as read, and every line after it is read as a record.
func TestCSVBrokenRecordRaw(t *testing.T) {
	products, _ := canon.Lookup(canon.Products)
	c, err := NewCSV("p.csv", strings.NewReader("product_id,name\n\"P1,Mug\nP2,Cup\nP3,\"Pot\"\n"), products)
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	var problems []canon.Rule
	for c.Next() {
		rule, _ := c.Problem()
		raws, problems = append(raws, c.Raw()), append(problems, rule)
	}
	if c.Err() != nil || strings.Join(raws, "|") != `"P1,Mug|P2,Cup|P3,"Pot"` || problems[0] != canon.MalformedRecord || problems[1] != "" || problems[2] != "" || c.Position() != 3 {
		t.Errorf("raw %q, problems %v, position %d, err %v", raws, problems, c.Position(), c.Err())
	}
}

// BenchmarkCSV: reading order lines from CSV, the speed of the record
// reader (rows/s), beside encoding/csv reading the same bytes.
func BenchmarkCSV(b *testing.B) {
	lines, _ := canon.Lookup(canon.OrderLines)
	var in strings.Builder
	in.WriteString("order_id,line_no,product_id,quantity,unit_price,discount,returned_quantity\n")
	for i := range 200000 {
		fmt.Fprintf(&in, "O%08d,%d,P%05d,%d,%d.99,0.00,0\n", i/3, i%3+1, i%5000, 1+i%4, 5+i%300)
	}
	data := in.String()
	b.Run("tessera", func(b *testing.B) {
		for range b.N {
			c, err := NewCSV("lines.csv", strings.NewReader(data), lines)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for c.Next() {
				n++
			}
			if n != 200000 || c.Err() != nil {
				b.Fatal(n, c.Err())
			}
		}
		b.ReportMetric(float64(200000*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("encoding-csv", func(b *testing.B) {
		for range b.N {
			r := csv.NewReader(strings.NewReader(data))
			r.ReuseRecord = true
			n := 0
			for {
				if _, err := r.Read(); err != nil {
					break
				}
				n++
			}
		}
		b.ReportMetric(float64(200001*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// TestCSVPassOver: a reader told to pass over the records whose first
// non-empty owner column (event: anonymous_id, then event_id) keep refuses
// passes over exactly those of them it can tell from the text (one line,
// no quoting; a record of the wrong width by the fields it has), and reads
// every other record as before, at the same position, with the same fields
// and text.
func TestCSVPassOver(t *testing.T) {
	events, _ := canon.Lookup(canon.Events)
	in := "event_id,ts,customer_id,anonymous_id,type\n" +
		"e1,2026-01-01 10:00:00,C1,,page_view\n" + // event_id e1: refused
		"e2,2026-01-01 10:00:00,, a9 ,page_view\n" + // anonymous_id a9 (trimmed): kept
		"e3,2026-01-01 10:00:00,,a1,page_view\n" + // a1: refused
		"\"e4\",2026-01-01 10:00:00,,a1,page_view\n" + // quoted: read
		"e5,2026-01-01 10:00:00,,a1\n" + // a field short, a1: refused (its pod rejects it)
		"e7,2026-01-01 10:00:00\n" + // short of the owner columns, e7: kept
		",2026-01-01 10:00:00,C1,,page_view\n" + // no owner value: read
		",,,,\n" + // blank: read
		"e1,2026-01-01 11:00:00,,,page_view\n" + // refused
		"e1,2026\n" + // short of anonymous_id, e1: refused
		"e6,2026-01-01 10:00:00,C2,,add_to_cart" // kept, no line end
	keep := func(v []byte) bool { return string(v) != "e1" && string(v) != "a1" }
	type rec struct {
		pos    int64
		fields string
		raw    string
		rule   canon.Rule
	}
	read := func(pass bool) ([]rec, int64) {
		c, err := NewCSV("events.csv", strings.NewReader(in), events)
		if err != nil {
			t.Fatal(err)
		}
		if pass {
			c.PassOver([]int{events.Index("anonymous_id"), events.Index("event_id")}, keep)
		}
		var out []rec
		ahead := map[int]string{} // record (of those read) -> fields Ahead handed
		ahead1 := make([][]byte, len(events.Columns))
		for c.Next() {
			if c.Ahead(1, ahead1) {
				var f []string
				for _, b := range ahead1 {
					f = append(f, string(b))
				}
				ahead[len(out)+1] = strings.Join(f, "|")
			}
			rule, _ := c.Problem()
			var f []string
			for _, b := range c.Fields() {
				f = append(f, string(b))
			}
			out = append(out, rec{c.Position(), strings.Join(f, "|"), c.Raw(), rule})
		}
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
		// Ahead handed the record Next gave next, passing over what it did.
		for k, f := range ahead {
			if k >= len(out) || out[k].fields != f {
				t.Errorf("pass over %v: Ahead handed %q as record %d of %d read", pass, f, k, len(out))
			}
		}
		want := 0 // every record after the first but those of the wrong width
		for _, r := range out[1:] {
			if r.rule == "" {
				want++
			}
		}
		if len(ahead) != want {
			t.Errorf("pass over %v: Ahead handed %d records of %d, want %d", pass, len(ahead), len(out), want)
		}
		return out, c.PassedOver()
	}
	all, none := read(false)
	passed, n := read(true)
	if none != 0 || n != 5 || len(all) != 11 || len(passed) != 6 {
		t.Fatalf("read %d records (%d passed over), with PassOver %d (%d passed over); want 11, then 6 and 5", len(all), none, len(passed), n)
	}
	want := []int64{2, 4, 6, 7, 8, 11}
	for i, r := range passed {
		if r.pos != want[i] || r != all[r.pos-1] {
			t.Errorf("record %d with PassOver: %+v, want %+v", i, r, all[want[i]-1])
		}
	}
}

// Ahead hands the fields of a record read ahead (for the key lookups extract
// begins early) without changing what Next reads; it says no only where the
// record is not in the chunk read, has the wrong width or is broken.
func TestCSVAhead(t *testing.T) {
	products, _ := canon.Lookup(canon.Products)
	var in strings.Builder
	in.WriteString("product_id,name\n")
	odd := map[int64]bool{}
	for i := 1; i <= 2500; i++ {
		switch i {
		case 700:
			in.WriteString("P700,a,b\n") // wrong width
			odd[int64(i)] = true
		case 1500:
			in.WriteString("\"P1500,x\n") // broken quoting: it takes the next line in
			odd[int64(i)] = true
		default:
			fmt.Fprintf(&in, " P%d ,name %d\n", i, i)
		}
	}
	read := func(ahead int) (readResult, map[int64][]string) {
		c, err := NewCSV("p.csv", strings.NewReader(in.String()), products)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64][]string{}
		buf := make([][]byte, len(products.Columns))
		var res readResult
		for c.Next() {
			res.rows++
			if ahead > 0 && c.Ahead(ahead, buf) {
				var f []string
				for _, b := range buf {
					f = append(f, string(b))
				}
				seen[c.Position()+int64(ahead)] = f
			}
			if rule, _ := c.Problem(); rule != "" {
				res.problems = append(res.problems, rule)
				continue
			}
			var f []string
			for _, b := range c.Fields() {
				f = append(f, string(b))
			}
			res.fields = append(res.fields, f)
		}
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		return res, seen
	}
	want, _ := read(0)
	byPos := map[int64][]string{}
	pos := int64(0)
	c, err := NewCSV("p.csv", strings.NewReader(in.String()), products)
	if err != nil {
		t.Fatal(err)
	}
	for c.Next() {
		pos++
		if rule, _ := c.Problem(); rule == "" {
			var f []string
			for _, b := range c.Fields() {
				f = append(f, string(b))
			}
			byPos[pos] = f
		}
	}
	for _, k := range []int{1, 4} {
		got, seen := read(k)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ahead %d: reading ahead changed what was read", k)
		}
		for p, f := range seen {
			if odd[p] {
				t.Errorf("ahead %d: record %d (wrong width or broken) handed ahead: %q", k, p, f)
			} else if fmt.Sprint(f) != fmt.Sprint(byPos[p]) {
				t.Errorf("ahead %d: record %d ahead %q, read %q", k, p, f, byPos[p])
			}
		}
		// Every record but those near a chunk's end, the odd ones and the
		// first few is handed ahead.
		if n := len(byPos) - len(seen); n > 3*k+k+2 {
			t.Errorf("ahead %d: %d records never handed ahead of %d", k, n, len(byPos))
		}
	}
}
