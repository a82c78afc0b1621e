package source

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/canon"
)

// TestReadAhead: records read ahead come as the reader reads them, in
// order, across chunks: the same fields, text and errors (broken quoting
// and wrong widths among them, which reading goes on after).
func TestReadAhead(t *testing.T) {
	var b strings.Builder
	for i := range 3*aheadRecords + 17 {
		switch {
		case i%997 == 5:
			fmt.Fprintf(&b, "%d,\"broken,x\n", i) // a quote that never closes as a field
		case i%500 == 7:
			fmt.Fprintf(&b, "%d,\"two\nlines\",z\r\n", i)
		case i%300 == 1:
			fmt.Fprintf(&b, "%d,short\n", i)
		default:
			fmt.Fprintf(&b, "%d,a%d,b\n", i, i)
		}
	}
	text := b.String()
	want := newRecordReader(strings.NewReader(text))
	a := newReadAhead(newRecordReader(strings.NewReader(text)))
	defer a.stop()
	for n := 0; ; n++ {
		wf, werr := want.Read()
		gf, gerr := a.Read()
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || !slices.Equal(wf, gf) || (werr != io.EOF && want.Raw() != a.Raw()) {
			t.Fatalf("record %d: %q %v %q, want %q %v %q", n, gf, gerr, a.Raw(), wf, werr, want.Raw())
		}
		if werr == io.EOF {
			if n < 3*aheadRecords {
				t.Fatalf("%d records, want more", n)
			}
			break
		}
	}
	if _, err := a.Read(); err != io.EOF {
		t.Errorf("after the end: %v, want io.EOF", err)
	}
}

// TestCSVClosedEarly: a CSV closed before its end stops reading ahead.
func TestCSVClosedEarly(t *testing.T) {
	var b strings.Builder
	b.WriteString("order_id,customer_id,ordered_at,updated_at,status,currency,gross_amount,net_amount,channel\n")
	for i := range 10 * aheadRecords {
		fmt.Fprintf(&b, "O%d,C%d,2025-01-01 00:00:00,2025-01-01 00:00:00,paid,EUR,1,1,web\n", i, i)
	}
	orders, _ := canon.Lookup(canon.Orders)
	c, err := NewCSV("orders.csv", strings.NewReader(b.String()), orders)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if !c.Next() {
			t.Fatal(c.Err())
		}
	}
	c.Close()
	select {
	case <-c.r.exited:
	default:
		t.Fatal("still reading ahead after Close")
	}
}
