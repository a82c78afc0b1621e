package canon

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// row builds the fields of a table from "column=value" pairs; others are empty.
func row(t *Table, kv ...string) [][]byte {
	f := make([][]byte, len(t.Columns))
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		f[t.Index(k)] = []byte(v)
	}
	return f
}

func goodOrder(t *Table, extra ...string) [][]byte {
	kv := append([]string{"order_id=O1", "customer_id=C1", "ordered_at=2025-03-15 10:22:33", "status=completed",
		"currency=EUR", "gross_amount=10.50", "discount_amount=0.50", "net_amount=10.00", "items_count=2",
		"channel=web", "rating=5", "updated_at=2025-03-16 00:00:00"}, extra...)
	return row(t, kv...)
}

func TestBuilderRules(t *testing.T) {
	orders, _ := Lookup(Orders)
	events, _ := Lookup(Events)
	tests := []struct {
		name   string
		table  *Table
		fields [][]byte
		want   Rule
	}{
		{"valid order", orders, goodOrder(orders), ""},
		{"offset and fraction", orders, goodOrder(orders, "ordered_at=2025-03-15T10:22:33.123+01:00"), ""},
		{"no key", orders, goodOrder(orders, "order_id="), MissingKey},
		{"blank key", orders, goodOrder(orders, "order_id=   "), MissingKey},
		{"no customer", orders, goodOrder(orders, "customer_id="), MissingField},
		{"bad time", orders, goodOrder(orders, "ordered_at=2025-02-30 10:00:00"), BadTimestamp},
		{"words for time", orders, goodOrder(orders, "ordered_at=yesterday"), BadTimestamp},
		{"bad number", orders, goodOrder(orders, "net_amount=12,50"), BadNumber},
		{"NaN", orders, goodOrder(orders, "net_amount=NaN"), BadNumber},
		{"negative amount", orders, goodOrder(orders, "net_amount=-1"), NegativeAmount},
		{"negative items", orders, goodOrder(orders, "items_count=-1"), NegativeQuantity},
		{"fractional items", orders, goodOrder(orders, "items_count=1.5"), BadNumber},
		{"whole float items", orders, goodOrder(orders, "items_count=2.0"), ""},
		{"rating high", orders, goodOrder(orders, "rating=6"), OutOfRange},
		{"rating empty", orders, goodOrder(orders, "rating="), ""},
		{"currency", orders, goodOrder(orders, "currency=EURO"), UnknownCurrency},
		{"status", orders, goodOrder(orders, "status=shipped"), UnknownValue},
		{"encoding", orders, goodOrder(orders, "promo_code=\xff\xfe"), BadEncoding},
		{"NUL in text", orders, goodOrder(orders, "promo_code=SALE\x00"), BadEncoding},
		{"NUL in key", orders, goodOrder(orders, "order_id=O\x001"), BadEncoding},
		{"before 1970", orders, goodOrder(orders, "ordered_at=1950-06-01"), OutOfRange},
		{"after 2106", orders, goodOrder(orders, "ordered_at=2150-01-01 00:00:00"), OutOfRange},
		{"Unix seconds past 2106", orders, goodOrder(orders, "ordered_at=99999999999"), OutOfRange},
		{"last second DateTime holds", orders, goodOrder(orders, "ordered_at=2106-02-07 06:28:15"), ""},
		{"first second after it", orders, goodOrder(orders, "ordered_at=2106-02-07 06:28:16"), OutOfRange},
		{"version before 1970", orders, goodOrder(orders, "updated_at=1969-12-31 23:59:59"), OutOfRange},
		{"huge amount", orders, goodOrder(orders, "net_amount=1e308"), OutOfRange},
		{"huge discount", orders, goodOrder(orders, "discount_amount=1e13"), OutOfRange},
		{"largest amount", orders, goodOrder(orders, "gross_amount=1e12"), ""},
		{"unknown customer", orders, goodOrder(orders, "customer_id=C2"), UnknownCustomer},
		{"wrong width", orders, goodOrder(orders)[:3], WrongFieldCount},
		{"anonymous event", events, row(events, "event_id=E1", "ts=1700000000", "anonymous_id=A1", "type=search"), ""},
		{"nobody's event", events, row(events, "event_id=E2", "ts=1700000000", "type=search"), MissingField},
		{"event type", events, row(events, "event_id=E3", "ts=1700000000", "customer_id=C1", "type=buy"), UnknownValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			sets := KeySets{Customers: NewKeys()}
			sets[Customers].Add([]byte("C1"))
			b, err := NewBuilder(mem, tt.table, sets)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Release()
			got, detail := b.Append(tt.fields)
			if got != tt.want {
				t.Fatalf("rule %q (%s), want %q", got, detail, tt.want)
			}
			rec := b.NewRecord()
			defer rec.Release()
			if want := map[bool]int64{true: 1, false: 0}[tt.want == ""]; rec.NumRows() != want {
				t.Fatalf("%d rows appended, want %d", rec.NumRows(), want)
			}
		})
	}
}

func TestBuilderDuplicatesAndValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	orders, _ := Lookup(Orders)
	lines, _ := Lookup(OrderLines)
	sets := KeySets{Customers: NewKeys()}
	sets[Customers].Add([]byte("C1"))
	ob, err := NewBuilder(mem, orders, sets)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Release()
	if r, d := ob.Append(goodOrder(orders, "rating=")); r != "" {
		t.Fatal(r, d)
	}
	if r, _ := ob.Append(goodOrder(orders, "channel=app")); r != DuplicateKey {
		t.Fatalf("second O1: %q, want duplicate_key", r)
	}
	rec := ob.NewRecord()
	defer rec.Release()
	if got := rec.Column(orders.Index("net_amount")).(*array.Float64).Value(0); got != 10 {
		t.Errorf("net_amount %v", got)
	}
	if got := rec.Column(orders.Index("ordered_at")).(*array.Timestamp).Value(0); got != 1742034153 {
		t.Errorf("ordered_at %v", got)
	}
	if !rec.Column(orders.Index("rating")).IsNull(0) {
		t.Error("empty rating should be null")
	}

	lb, err := NewBuilder(mem, lines, sets)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Release()
	line := func(order, no, qty string) [][]byte {
		return row(lines, "order_id="+order, "line_no="+no, "product_id=P1", "quantity="+qty, "unit_price=5")
	}
	for _, c := range []struct {
		fields [][]byte
		want   Rule
	}{
		{line("O1", "1", "2"), ""},
		{line("O1", "2", "1"), ""},
		{line("O1", "1", "3"), DuplicateKey},
		{line("O9", "1", "1"), UnknownOrder},
		{line("O1", "3", "-1"), NegativeQuantity},
	} {
		if got, d := lb.Append(c.fields); got != c.want {
			t.Errorf("line %s: %q (%s), want %q", c.fields, got, d, c.want)
		}
	}
	lrec := lb.NewRecord()
	defer lrec.Release()
	if lrec.NumRows() != 2 {
		t.Errorf("%d lines landed, want 2", lrec.NumRows())
	}
}

func TestBuilderNeedsParents(t *testing.T) {
	lines, _ := Lookup(OrderLines)
	if _, err := NewBuilder(memory.NewGoAllocator(), lines, KeySets{}); err == nil {
		t.Fatal("order lines without orders loaded: want an error")
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2024-03-15 10:22:33", 1710498153, true},
		{"2024-03-15T10:22:33Z", 1710498153, true},
		{"2024-03-15 10:22:33 +0100", 1710494553, true}, // Shopify
		{"2024-03-15 10:22:33+01", 1710494553, true},    // PostgreSQL text
		{"2024-03-15T10:22:33.999-02:30", 1710507153, true},
		{"2024-03-15", 1710460800, true},
		{"20240315", 1710460800, true},
		{"1710498153", 1710498153, true},
		{"2024-02-29 00:00:00", 1709164800, true},
		{"2023-02-29 00:00:00", 0, false},
		{"2024-13-01", 0, false},
		{"2024-03-15 24:00:00", 0, false},
		{"2024-03-15 10:22:33 +2500", 0, false},
		{"15/03/2024", 0, false},
		{"", 0, false},
		{"2024-03-15 10:22", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseTime([]byte(tt.in))
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseTime(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEveryTableIsWellFormed(t *testing.T) {
	for _, tbl := range Tables {
		if len(tbl.Key) == 0 {
			t.Errorf("%s has no key", tbl.Entity)
		}
		for _, k := range tbl.Key {
			if i := tbl.Index(k); i < 0 || !tbl.Columns[i].Required {
				t.Errorf("%s: key column %s must exist and be required", tbl.Entity, k)
			}
		}
		for _, r := range tbl.Refs {
			if tbl.Index(r.Column) < 0 {
				t.Errorf("%s: ref column %s does not exist", tbl.Entity, r.Column)
			}
		}
		if tbl.Version != "" && tbl.Columns[tbl.Index(tbl.Version)].Kind != Timestamp {
			t.Errorf("%s: version column must be a timestamp", tbl.Entity)
		}
	}
	documented := map[Rule]bool{}
	for _, r := range Rules {
		documented[r.Rule] = true
	}
	for _, r := range []Rule{MissingKey, MissingField, BadTimestamp, BadNumber, NegativeQuantity, NegativeAmount, OutOfRange,
		UnknownCurrency, UnknownValue, BadEncoding, DuplicateKey, UnknownCustomer, UnknownOrder, WrongFieldCount, MalformedRecord} {
		if !documented[r] {
			t.Errorf("rule %s is not documented in Rules", r)
		}
	}
}

// TestBuilderNewestVersion: a key read again with a newer version replaces the
// older row (dropped from the batch when it is still there, counted as
// superseded when it already landed); the same or an older version is a
// duplicate_key.
func TestBuilderNewestVersion(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b, customers := customersBuilder(t, mem)
	defer b.Release()
	cust := func(id, city, updated string) [][]byte {
		return row(customers, "customer_id="+id, "created_at=2025-01-01 00:00:00", "city="+city, "updated_at="+updated)
	}
	steps := []struct {
		fields   [][]byte
		rule     Rule
		replaced int
	}{
		{cust("C1", "old", "2025-02-01 00:00:00"), "", -1},
		{cust("C2", "two", "2025-02-01 00:00:00"), "", -1},
		{cust("C1", "same", "2025-02-01 00:00:00"), DuplicateKey, -1},
		{cust(" C1", "newer", "2025-03-01 00:00:00"), "", 0},
		{cust("C1", "older", "2025-01-15 00:00:00"), DuplicateKey, -1},
	}
	for i, s := range steps {
		// A lookup begun ahead (extract's, of a later row) changes nothing.
		b.Prefetch(steps[(i+1)%len(steps)].fields)
		b.Prefetch(s.fields[:1])
		rule, detail := b.Append(s.fields)
		if rule != s.rule {
			t.Fatalf("step %d: %q (%s), want %q", i, rule, detail, s.rule)
		}
		if rule == "" && b.Replaced() != s.replaced {
			t.Fatalf("step %d replaced row %d, want %d", i, b.Replaced(), s.replaced)
		}
	}
	rec := b.NewRecord()
	cities := rec.Column(customers.Index("city")).(*array.String)
	if rec.NumRows() != 2 || cities.Value(0) != "two" || cities.Value(1) != "newer" {
		t.Errorf("first batch: %d rows %v, want two, newer", rec.NumRows(), cities)
	}
	rec.Release()
	// In a later batch the older row has landed: the newer one lands too and
	// the raw table's version keeps it; counted as superseded.
	if rule, _ := b.Append(cust("C2", "two again", "2025-04-01 00:00:00")); rule != "" || b.Replaced() != -1 {
		t.Fatalf("C2 newer in a later batch: %q, replaced %d", rule, b.Replaced())
	}
	if b.Superseded() != 1 {
		t.Errorf("superseded %d, want 1", b.Superseded())
	}
	rec = b.NewRecord()
	if rec.NumRows() != 1 {
		t.Errorf("second batch %d rows", rec.NumRows())
	}
	rec.Release()
}

// TestKeys: the open-addressing set agrees with a Go map through growth.
func TestKeys(t *testing.T) {
	k := NewKeys()
	want := map[string]bool{}
	for i := 0; i < 100000; i++ {
		key := fmt.Sprintf("K%d", (i*7919)%60000)
		if got := k.Add([]byte(key)); got == want[key] {
			t.Fatalf("Add(%s) = %v after %d keys", key, got, len(want))
		}
		want[key] = true
	}
	if k.Len() != len(want) {
		t.Errorf("Len %d, want %d", k.Len(), len(want))
	}
	for i := 0; i < 70000; i++ {
		key := fmt.Sprintf("K%d", i)
		if k.Has([]byte(key)) != want[key] {
			t.Fatalf("Has(%s) = %v", key, !want[key])
		}
	}
}

// TestTallyLanded: a window set that tallies its landed rows counts the rows
// landed beyond one a key (LandedTwice) as the raw table would: a key read
// again after the window forgot it lands again, a newer version lands
// again in a later batch, and a row a newer version replaced in its own
// batch does not land. The count is checked against the keys of the rows
// the batches hold, for a table with versions and one without.
func TestTallyLanded(t *testing.T) {
	customers, _ := Lookup(Customers)
	products, _ := Lookup(Products)
	for _, tc := range []struct {
		name  string
		table *Table
		row   func(id, version int) [][]byte
	}{
		{"versions", customers, func(id, version int) [][]byte {
			return row(customers, fmt.Sprintf("customer_id=C%d", id), "created_at=2025-01-01 00:00:00",
				fmt.Sprintf("updated_at=2025-01-01 %02d:%02d:%02d", version/3600%24, version/60%60, version%60))
		}},
		{"no versions", products, func(id, _ int) [][]byte { return row(products, fmt.Sprintf("product_id=P%d", id)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			const window = 500
			keys := NewWindow(window)
			defer keys.Free()
			if err := keys.TallyLanded(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			b, err := NewBuilder(mem, tc.table, KeySets{tc.table.Entity: keys})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Release()
			rng := rand.New(rand.NewPCG(1, 2))
			landed := map[string]int{}
			rows := 0
			land := func() {
				rec := b.NewRecord()
				defer rec.Release()
				ids := rec.Column(0).(*array.String)
				for i := range ids.Len() {
					landed[ids.Value(i)]++
					rows++
				}
			}
			for i := range 20_000 {
				id := i
				switch r := rng.IntN(10); {
				case r == 0: // far back: forgotten by the window
					id = rng.IntN(max(1, i-2*window))
				case r == 1: // close behind: still in the window
					id = max(0, i-1-rng.IntN(window/2))
				case r == 2: // the same key again at once: replaced in its batch
					id = max(0, i-1)
				}
				b.Append(tc.row(id, i))
				if rng.IntN(100) == 0 {
					land()
				}
			}
			land()
			want := int64(rows - len(landed))
			if keys.Rotations() == 0 || want == 0 {
				t.Fatalf("%d rotations, %d rows landed twice: the test shows nothing", keys.Rotations(), want)
			}
			got, err := keys.LandedTwice()
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("landed twice %d, want %d (%d rows landed, %d keys)", got, want, rows, len(landed))
			}
			t.Logf("%d rows landed, %d keys, %d landed twice, %d superseded", rows, len(landed), got, b.Superseded())
		})
	}
}

// TestUnixOf checks the arithmetic of civil dates against time.Date on every
// day ParseTime accepts, at a few times of day.
func TestUnixOf(t *testing.T) {
	for day := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() <= 2200; day = day.AddDate(0, 0, 1) {
		y, m, d := day.Date()
		for _, hms := range [][3]int{{0, 0, 0}, {12, 34, 56}, {23, 59, 59}, {23, 59, 60}} {
			want := time.Date(y, m, d, hms[0], hms[1], hms[2], 0, time.UTC).Unix()
			if got := unixOf(y, int(m), d, hms[0], hms[1], hms[2]); got != want {
				t.Fatalf("unixOf(%d-%02d-%02d %v) = %d, want %d", y, m, d, hms, got, want)
			}
		}
	}
}

// TestPlainASCII: true exactly for ASCII without NUL, at every length and
// position of the byte that makes it not (the eight-byte steps and the tail).
func TestPlainASCII(t *testing.T) {
	for n := 0; n <= 20; n++ {
		base := []byte(strings.Repeat("a", n))
		if !plainASCII(base) {
			t.Fatalf("plainASCII(%q) = false", base)
		}
		for i := range n {
			for _, c := range []byte{0, 0x7f, 0x80, 0xc3, 0xff, 0x01} {
				s := slices.Clone(base)
				s[i] = c
				want := c != 0 && c < 0x80
				if got := plainASCII(s); got != want {
					t.Errorf("plainASCII(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

// TestTrimSpace: what bytes.TrimSpace gives, for values with and without
// space (ASCII and Unicode) at either end.
func TestTrimSpace(t *testing.T) {
	for _, s := range []string{"", " ", "a", " a", "a ", "\ta\r\n", "\u00a0a", "a\u00a0", "\u0085", "é", "aé", "éa", "a b", "\x01a\x01", "\u2003x\u2003"} {
		if got, want := string(TrimSpace([]byte(s))), string(bytes.TrimSpace([]byte(s))); got != want {
			t.Errorf("TrimSpace(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestBuilderDropsRuns: rows replaced in their batch, first, last of the
// older rows and next to one another, leave the others in order, every
// column's values with them.
func TestBuilderDropsRuns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b, customers := customersBuilder(t, mem)
	defer b.Release()
	for _, c := range []struct{ id, city, updated string }{
		{"C1", "c1", "01"}, {"C2", "c2", "01"}, {"C3", "c3", "01"}, {"C4", "c4", "01"}, {"C5", "c5", "01"}, {"C6", "c6", "01"},
		{"C1", "c1'", "02"}, {"C3", "c3'", "02"}, {"C4", "c4'", "02"}, {"C6", "c6'", "02"}, {"C6", "c6''", "03"},
	} {
		if rule, detail := b.Append(row(customers, "customer_id="+c.id, "created_at=2025-01-01 00:00:00", "city="+c.city,
			"updated_at=2025-02-"+c.updated+" 00:00:00")); rule != "" {
			t.Fatal(rule, detail)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	var got []string
	ids, cities := rec.Column(customers.Index("customer_id")).(*array.String), rec.Column(customers.Index("city")).(*array.String)
	updated := rec.Column(customers.Index("updated_at")).(*array.Timestamp)
	for i := range int(rec.NumRows()) {
		got = append(got, fmt.Sprintf("%s %s %s", ids.Value(i), cities.Value(i), updated.Value(i).ToTime(TimestampType.Unit).Format("01-02")))
	}
	want := []string{"C2 c2 02-01", "C5 c5 02-01", "C1 c1' 02-02", "C3 c3' 02-02", "C4 c4' 02-02", "C6 c6'' 02-03"}
	if !slices.Equal(got, want) {
		t.Errorf("rows kept:\n%v\nwant\n%v", got, want)
	}
}

// customersBuilder is a builder of customers, with a key set of its own.
func customersBuilder(t *testing.T, mem memory.Allocator) (*Builder, *Table) {
	t.Helper()
	customers, err := Lookup(Customers)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(mem, customers, KeySets{})
	if err != nil {
		t.Fatal(err)
	}
	return b, customers
}
