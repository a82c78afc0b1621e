package source

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
)

// drain reads every record of rs and checks what every reader promises: a
// record is a row of the table's width or has a named problem, positions
// count up, and the stream ends.
func drain(t *testing.T, rs Rows, tbl *canon.Table) {
	t.Helper()
	var last int64
	for n := 0; rs.Next(); n++ {
		if n > 1<<20 {
			t.Fatal("no end")
		}
		if rule, detail := rs.Problem(); rule == "" && len(rs.Fields()) != len(tbl.Columns) {
			t.Fatalf("row of %d fields", len(rs.Fields()))
		} else if rule != "" && detail == "" {
			t.Fatalf("problem %s without a detail", rule)
		}
		if p := rs.Position(); p <= last {
			t.Fatalf("position %d after %d", p, last)
		} else {
			last = p
		}
	}
}

func addSeeds(f *testing.F, pattern string) {
	seeds, _ := filepath.Glob(pattern)
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzShopify: the Orders export read as each of its entities.
func FuzzShopify(f *testing.F) {
	addSeeds(f, "testdata/shopify/orders_export.csv")
	f.Add([]byte("Name,Email\n#1,a@b\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, e := range []canon.Entity{canon.Orders, canon.OrderLines, canon.Customers} {
			tbl, _ := canon.Lookup(e)
			s, err := NewShopify("fuzz.csv", bytes.NewReader(in), tbl)
			if err != nil {
				continue
			}
			drain(t, s, tbl)
		}
	})
}

// FuzzShopifyCustomers: the Customers export, alone and with an Orders export.
func FuzzShopifyCustomers(f *testing.F) {
	addSeeds(f, "testdata/shopify/customers_export.csv")
	orders, err := os.ReadFile("testdata/shopify/orders_export.csv")
	if err != nil {
		f.Fatal(err)
	}
	tbl, _ := canon.Lookup(canon.Customers)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, withOrders := range []bool{false, true} {
			var o *Shopify
			if withOrders {
				if o, err = NewShopify("orders.csv", bytes.NewReader(orders), tbl); err != nil {
					t.Fatal(err)
				}
			}
			s, err := NewShopifyCustomers("fuzz.csv", bytes.NewReader(in), time.Unix(1.7e9, 0), o)
			if err != nil {
				continue
			}
			drain(t, s, tbl)
		}
	})
}

// FuzzJSONL: site events as JSON Lines.
func FuzzJSONL(f *testing.F) {
	addSeeds(f, "testdata/fuzz-seed-*.jsonl")
	tbl, _ := canon.Lookup(canon.Events)
	f.Fuzz(func(t *testing.T, in []byte) {
		drain(t, NewJSONL("fuzz.jsonl", bytes.NewReader(in), tbl), tbl)
	})
}

// FuzzBuilder: the canonical rules on any row of text; a row is appended or
// rejected with a rule, never both and never a panic.
func FuzzBuilder(f *testing.F) {
	f.Add("O1", "C1", "2025-03-15 10:22:33", "completed", "EUR", "10.5", "7")
	f.Add("", "C1", "1/2/25", "shipped", "EURO", "-1", "x")
	f.Add(" O2 ", "C1", "2025-03-15T10:22:33Z", "returned", "USD", "1e308", "5")
	orders, _ := canon.Lookup(canon.Orders)
	f.Fuzz(func(t *testing.T, id, cust, at, status, currency, amount, rating string) {
		sets := canon.KeySets{canon.Customers: canon.NewKeys()}
		sets[canon.Customers].Add([]byte("C1"))
		b, err := canon.NewBuilder(memoryForFuzz, orders, sets)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Release()
		f := make([][]byte, len(orders.Columns))
		for k, v := range map[string]string{"order_id": id, "customer_id": cust, "ordered_at": at, "status": status,
			"currency": currency, "gross_amount": amount, "net_amount": amount, "rating": rating, "channel": "web", "updated_at": at} {
			f[orders.Index(k)] = []byte(v)
		}
		rule, detail := b.Append(f)
		if (rule == "") != (b.Len() == 1) || (rule != "" && detail == "") {
			t.Fatalf("rule %q (%s) with %d rows appended", rule, detail, b.Len())
		}
		rec := b.NewRecord()
		rec.Release()
	})
}

var memoryForFuzz = memory.NewGoAllocator()

// FuzzRecordReader: where encoding/csv reads every record of an input
// without an error, the record reader reads the same records; and it never
// loses a line: a record it cannot parse is one line.
func FuzzRecordReader(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,\"b\nc\"\r\n\"x\"\"y\",z\n", "\"unclosed,1\n2,3\n", "a\n\n\nb\n", "x,\"\"\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := csv.NewReader(bytes.NewReader(in))
		cr.FieldsPerRecord = -1
		want, err := cr.ReadAll()
		r := newRecordReader(bytes.NewReader(in))
		var got [][]string
		broken := 0
		for {
			rec, rerr := r.Read()
			if errors.Is(rerr, io.EOF) {
				break
			}
			var perr *csv.ParseError
			if errors.As(rerr, &perr) {
				broken++
				if strings.Contains(r.Raw(), "\n") {
					t.Fatalf("a broken record of more than one line: %q", r.Raw())
				}
				continue
			}
			if rerr != nil {
				t.Fatal(rerr)
			}
			got = append(got, slices.Clone(rec))
		}
		if err == nil && !bytes.HasPrefix(in, []byte("\xef\xbb\xbf")) {
			if broken > 0 || !slices.EqualFunc(got, want, slices.Equal[[]string]) {
				t.Fatalf("encoding/csv read %q, the record reader %q (%d broken)", want, got, broken)
			}
		}
	})
}
