package source

import (
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
		{name: "broken quoting", in: "product_id,name\nP1,\"Mug\nP2,Cup\n", rows: 1,
			problems: []canon.Rule{canon.MalformedRecord}},
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
