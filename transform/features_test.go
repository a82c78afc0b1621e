package transform

import (
	"math"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var canonOrders = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "ordered_at", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
	{Name: "status", Type: arrow.BinaryTypes.String},
	{Name: "gross_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "discount_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "items_count", Type: arrow.PrimitiveTypes.Int32},
	{Name: "rating", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
}, nil)

type order struct {
	id, at, status   string
	gross, disc, net float64
	items, rating    int32
}

func orderRecord(mem memory.Allocator, os []order) arrow.Record {
	b := array.NewRecordBuilder(mem, canonOrders)
	defer b.Release()
	for _, o := range os {
		t, _ := time.Parse(time.DateTime, o.at)
		b.Field(0).(*array.StringBuilder).Append(o.id)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(t.Unix()))
		b.Field(2).(*array.StringBuilder).Append(o.status)
		b.Field(3).(*array.Float64Builder).Append(o.gross)
		b.Field(4).(*array.Float64Builder).Append(o.disc)
		b.Field(5).(*array.Float64Builder).Append(o.net)
		b.Field(6).(*array.Int32Builder).Append(o.items)
		if o.rating == 0 {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.Int32Builder).Append(o.rating)
		}
	}
	return b.NewRecord()
}

var shopOrders = []order{
	{"a", "2025-01-01 10:00:00", "completed", 100, 20, 80, 2, 5},
	{"a", "2025-01-01 18:00:00", "cancelled", 50, 0, 50, 1, 0},
	{"a", "2025-01-11 09:00:00", "returned", 40, 0, 40, 1, 3},
	{"a", "2025-01-31 23:59:59", "completed", 60, 0, 60, 3, 0},
	{"b", "2025-01-20 00:00:00", "partially_returned", 30, 3, 27, 4, 0},
	{"c", "2025-01-25 12:00:00", "cancelled", 10, 0, 10, 1, 0}, // only cancelled: not a buyer
}

func TestCustomerFeatures(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	rec := orderRecord(mem, shopOrders)
	defer rec.Release()
	f, err := CustomerFeatures(mem, []arrow.Record{rec}, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if f.NumRows() != 2 {
		t.Fatalf("%d customers, want 2 buyers", f.NumRows())
	}
	num := func(row int, name string) float64 {
		c := f.Column(FeatureSchema.FieldIndices(name)[0])
		switch c := c.(type) {
		case *array.Float64:
			return c.Value(row)
		case *array.Int64:
			return float64(c.Value(row))
		case *array.Date32:
			return float64(c.Value(row))
		}
		t.Fatalf("%s: %T", name, c)
		return 0
	}
	jan1 := float64(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	want := map[string][2]float64{
		"orders":               {3, 1},
		"cancelled_orders":     {1, 0},
		"revenue":              {180, 27},
		"avg_check":            {60, 27},
		"items_per_order":      {2, 4},
		"return_rate":          {1.0 / 3, 1},
		"cancel_rate":          {0.25, 0},
		"discount_share":       {1.0 / 3, 1},
		"discount_depth":       {0.2, 0.1},
		"rating_mean":          {4, math.NaN()},
		"first_order_date":     {jan1, jan1 + 19},
		"last_order_date":      {jan1 + 30, jan1 + 19},
		"days_since_first":     {31, 12},
		"days_since_last":      {1, 12},
		"interorder_mean_days": {15, 0}, // gaps 10 and 20
		"interorder_std_days":  {5, 0},
	}
	for name, w := range want {
		for row := 0; row < 2; row++ {
			got := num(row, name)
			if !(math.Abs(got-w[row]) < 1e-9 || (math.IsNaN(w[row]) && math.IsNaN(got))) {
				t.Errorf("customer %d %s = %v, want %v", row, name, got, w[row])
			}
		}
	}

	// Point in time: orders on or after the as-of date change nothing.
	late := orderRecord(mem, []order{{"a", "2025-02-01 00:00:00", "completed", 999, 0, 999, 9, 1}, {"d", "2025-03-01 00:00:00", "completed", 5, 0, 5, 1, 0}})
	defer late.Release()
	g, err := CustomerFeatures(mem, []arrow.Record{rec, late}, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if !array.RecordApproxEqual(f, g, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
		t.Error("orders at or after as_of changed the features")
	}
}

func TestFeaturesDocumented(t *testing.T) {
	for _, f := range Features {
		if f.Name != "customer_id" && (f.Unit == "" || f.Definition == "") {
			t.Errorf("feature %s lacks a unit or definition", f.Name)
		}
	}
}
