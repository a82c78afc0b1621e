package transform

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func stringsRecord(mem memory.Allocator, names []string, rows [][]string) arrow.Record {
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: arrow.BinaryTypes.String}
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, r := range rows {
		for i, v := range r {
			b.Field(i).(*array.StringBuilder).Append(v)
		}
	}
	return b.NewRecord()
}

func TestBasketFeatures(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema(append([]arrow.Field{{Name: "order_id", Type: arrow.BinaryTypes.String}}, canonOrders.Fields()...), nil)
	ob := array.NewRecordBuilder(mem, schema)
	for _, o := range []struct{ id, cust, at, status string }{
		{"o1", "a", "2025-01-01 10:00:00", "completed"},
		{"o2", "a", "2025-01-05 10:00:00", "cancelled"}, // its lines do not count
		{"o3", "b", "2025-01-06 10:00:00", "completed"},
		{"o4", "a", "2025-03-01 10:00:00", "completed"}, // after as_of
	} {
		ts, _ := time.Parse(time.DateTime, o.at)
		ob.Field(0).(*array.StringBuilder).Append(o.id)
		ob.Field(1).(*array.StringBuilder).Append(o.cust)
		ob.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.Unix()))
		ob.Field(3).(*array.StringBuilder).Append(o.status)
		for k := 4; k <= 6; k++ {
			ob.Field(k).(*array.Float64Builder).Append(10)
		}
		ob.Field(7).(*array.Int32Builder).Append(1)
		ob.Field(8).AppendNull()
	}
	orders := ob.NewRecord()
	ob.Release()
	defer orders.Release()
	products := stringsRecord(mem, []string{"product_id", "category", "brand"}, [][]string{
		{"p1", "home/kitchen", "Acme"}, {"p2", "home/garden", "Zeta"}, {"p3", "toys", "Acme"}, {"p4", "books/novels", "Bee"},
	})
	defer products.Release()
	lb := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: "order_id", Type: arrow.BinaryTypes.String}, {Name: "product_id", Type: arrow.BinaryTypes.String},
		{Name: "quantity", Type: arrow.PrimitiveTypes.Int32}, {Name: "unit_price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "discount", Type: arrow.PrimitiveTypes.Float64},
	}, nil))
	for _, l := range []struct {
		order, product string
		qty            int32
		unit, disc     float64
	}{
		{"o1", "p1", 2, 10, 0},  // home 20
		{"o1", "p2", 1, 30, 5},  // home 25
		{"o1", "p3", 1, 45, 0},  // toys 45
		{"o2", "p4", 9, 100, 0}, // cancelled
		{"o3", "p1", 1, 20, 0},  // home 20
		{"o3", "p4", 1, 20, 0},  // books 20
		{"o3", "p2", 1, 40, 0},  // home 40: home has 4 prices, 10 20 30 40, median 30 (the upper middle)
		{"o4", "p4", 5, 50, 0},  // after as_of
	} {
		lb.Field(0).(*array.StringBuilder).Append(l.order)
		lb.Field(1).(*array.StringBuilder).Append(l.product)
		lb.Field(2).(*array.Int32Builder).Append(l.qty)
		lb.Field(3).(*array.Float64Builder).Append(l.unit)
		lb.Field(4).(*array.Float64Builder).Append(l.disc)
	}
	lines := lb.NewRecord()
	lb.Release()
	defer lines.Release()

	f, err := CustomerFeatures(mem, FeatureInputs{Orders: []arrow.Record{orders}, Lines: Records(lines), Products: []arrow.Record{products}},
		time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	str := func(name string, row int) string {
		return f.Column(FeatureSchema.FieldIndices(name)[0]).(*array.String).Value(row)
	}
	fl := func(name string, row int) float64 {
		switch c := f.Column(FeatureSchema.FieldIndices(name)[0]).(type) {
		case *array.Float64:
			return c.Value(row)
		case *array.Int32:
			return float64(c.Value(row))
		}
		return math.NaN()
	}
	// Home unit prices 10, 30, 20, 40 → median 30; toys 45 → 45; books 20 → 20.
	for _, c := range []struct {
		name string
		row  int
		want float64
	}{
		{"first_week_categories", 0, 2}, {"first_week_categories", 1, 2},
		{"distinct_products", 0, 3}, {"distinct_categories", 0, 2}, {"price_level", 0, (10.0/30 + 1 + 1) / 3},
		{"top_category_share", 0, 45.0 / 90}, {"second_category_share", 0, 45.0 / 90}, {"top_brand_share", 0, 65.0 / 90},
		{"distinct_products", 1, 3}, {"distinct_categories", 1, 2}, {"price_level", 1, (20.0/30 + 1 + 40.0/30) / 3},
		{"top_category_share", 1, 0.75}, {"second_category_share", 1, 0.25}, {"top_brand_share", 1, 0.5},
	} {
		if got := fl(c.name, c.row); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("row %d %s = %v, want %v", c.row, c.name, got, c.want)
		}
	}
	for _, c := range []struct{ name, want string }{
		{"top_category", "home"}, {"second_category", "toys"}, {"top_brand", "Acme"},
	} {
		if got := str(c.name, 0); got != c.want {
			t.Errorf("a %s = %q, want %q", c.name, got, c.want)
		}
	}
	// b: home 60, books 20; brands Zeta 40, Acme 20, Bee 20.
	if str("top_category", 1) != "home" || str("second_category", 1) != "books" || str("top_brand", 1) != "Zeta" {
		t.Errorf("b: %s, %s, %s", str("top_category", 1), str("second_category", 1), str("top_brand", 1))
	}
	// Baskets: the products of the orders that count, sorted by id, once each.
	for row, want := range []string{"p1\x1fp2\x1fp3", "p1\x1fp2\x1fp4"} {
		if got := str("basket", row); got != want {
			t.Errorf("row %d basket = %q, want %q", row, got, want)
		}
	}
	// A product id that holds the separator cannot be joined into a basket:
	// an error naming it, not a basket that splits into other products.
	bb := array.NewRecordBuilder(mem, lines.Schema())
	for _, l := range [][2]string{{"o1", "p1"}, {"o3", "x\x1fy"}} {
		bb.Field(0).(*array.StringBuilder).Append(l[0])
		bb.Field(1).(*array.StringBuilder).Append(l[1])
		bb.Field(2).(*array.Int32Builder).Append(1)
		bb.Field(3).(*array.Float64Builder).Append(10)
		bb.Field(4).(*array.Float64Builder).Append(0)
	}
	bad := bb.NewRecord()
	bb.Release()
	defer bad.Release()
	_, err = CustomerFeatures(mem, FeatureInputs{Orders: []arrow.Record{orders}, Lines: Records(bad), Products: []arrow.Record{products}},
		time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	if err == nil || !strings.Contains(err.Error(), `"x\x1fy"`) {
		t.Errorf("a product id with 0x1F: %v", err)
	}
}

// TestNthSmallest: the quickselect agrees with sorting, duplicates included.
func TestNthSmallest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		for _, distinct := range []int{1, 3, 1000} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(rng.IntN(distinct))
			}
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			for _, k := range []int{0, n / 2, n - 1} {
				if got := nthSmallest(slices.Clone(xs), k); got != sorted[k] {
					t.Errorf("n %d, %d distinct: element %d is %v, want %v", n, distinct, k, got, sorted[k])
				}
			}
		}
	}
}

// TestMediansOf: the medians of price counts merged from shards are those of
// every line, for odd and even counts and repeated prices.
func TestMediansOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	names := []string{"", "books", "toys", "home"}
	for _, n := range []int{1, 2, 3, 10, 1001, 1002} {
		lines := make([]lineFact, n)
		for i := range lines {
			lines[i] = lineFact{cat: int32(rng.IntN(len(names))), unit: float64(rng.IntN(40)) / 4}
		}
		merged := PriceCounts{}
		for shard := range 4 {
			var mine []lineFact
			for i, l := range lines {
				if i%4 == shard {
					mine = append(mine, l)
				}
			}
			for c, byPrice := range priceCounts(mine, names) {
				if merged[c] == nil {
					merged[c] = map[float64]int64{}
				}
				for p, k := range byPrice {
					merged[c][p] += k
				}
			}
		}
		got := MediansOf(merged)
		want := categoryMedians(slices.Clone(lines), len(names))
		for c, name := range names {
			if _, counted := merged[name]; counted && got[name] != want[c] {
				t.Errorf("%d lines, category %q: median %v of merged counts, %v of the lines", n, name, got[name], want[c])
			}
		}
		if len(got) != len(merged) {
			t.Errorf("%d lines: %d medians of %d categories", n, len(got), len(merged))
		}
	}
}
