package transform

import (
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/synth"
)

// loadColumns reads the named columns of a generated CSV file into Arrow
// records of the given schema (its fields in the same order as cols).
func loadColumns(tb testing.TB, mem memory.Allocator, path string, schema *arrow.Schema, cols []string) []arrow.Record {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, _ := r.Read()
	idx := make([]int, len(cols))
	for k, c := range cols {
		for i, h := range header {
			if h == c {
				idx[k] = i
			}
		}
	}
	var out []arrow.Record
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		for k, fld := range schema.Fields() {
			v := rec[idx[k]]
			switch bld := b.Field(k).(type) {
			case *array.StringBuilder:
				bld.Append(v)
			case *array.TimestampBuilder:
				ts, _ := canon.ParseTime([]byte(v))
				bld.Append(arrow.Timestamp(ts))
			case *array.Float64Builder:
				x, _ := strconv.ParseFloat(v, 64)
				bld.Append(x)
			case *array.Int32Builder:
				if v == "" && fld.Nullable {
					bld.AppendNull()
					continue
				}
				x, _ := strconv.Atoi(v)
				bld.Append(int32(x))
			}
		}
		if b.Field(0).Len() == 1<<16 {
			out = append(out, b.NewRecord())
		}
	}
	return append(out, b.NewRecord())
}

// BenchmarkFeatures: from Arrow batches in memory to the feature table, for a
// generated shop of TESSERA_BENCH_CUSTOMERS customers (default 100,000).
func BenchmarkFeatures(b *testing.B) {
	n := 100000
	if s := os.Getenv("TESSERA_BENCH_CUSTOMERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	cfg := synth.Defaults()
	cfg.Customers = n
	dir := b.TempDir()
	if _, err := synth.Generate(context.Background(), cfg, dir); err != nil {
		b.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	ordersSchema := arrow.NewSchema([]arrow.Field{
		{Name: "order_id", Type: arrow.BinaryTypes.String},
		{Name: "customer_id", Type: arrow.BinaryTypes.String}, {Name: "ordered_at", Type: canon.TimestampType},
		{Name: "status", Type: arrow.BinaryTypes.String}, {Name: "gross_amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "discount_amount", Type: arrow.PrimitiveTypes.Float64}, {Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "items_count", Type: arrow.PrimitiveTypes.Int32}, {Name: "rating", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	eventsSchema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: canon.TimestampType},
		{Name: "session_id", Type: arrow.BinaryTypes.String}, {Name: "type", Type: arrow.BinaryTypes.String},
	}, nil)
	orders := loadColumns(b, mem, filepath.Join(dir, "orders.csv"), ordersSchema,
		[]string{"order_id", "customer_id", "ordered_at", "status", "gross_amount", "discount_amount", "net_amount", "items_count", "rating"})
	events := loadColumns(b, mem, filepath.Join(dir, "events.csv"), eventsSchema, []string{"customer_id", "ts", "session_id", "type"})
	str := func(names ...string) *arrow.Schema {
		var fs []arrow.Field
		for _, n := range names {
			fs = append(fs, arrow.Field{Name: n, Type: arrow.BinaryTypes.String})
		}
		return arrow.NewSchema(fs, nil)
	}
	lines := loadColumns(b, mem, filepath.Join(dir, "order_lines.csv"), arrow.NewSchema([]arrow.Field{
		{Name: "order_id", Type: arrow.BinaryTypes.String}, {Name: "product_id", Type: arrow.BinaryTypes.String},
		{Name: "quantity", Type: arrow.PrimitiveTypes.Int32}, {Name: "unit_price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "discount", Type: arrow.PrimitiveTypes.Float64},
	}, nil), []string{"order_id", "product_id", "quantity", "unit_price", "discount"})
	products := loadColumns(b, mem, filepath.Join(dir, "products.csv"), str("product_id", "category", "brand"), []string{"product_id", "category", "brand"})
	campaigns := loadColumns(b, mem, filepath.Join(dir, "campaign_events.csv"), arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String}, {Name: "channel", Type: arrow.BinaryTypes.String},
		{Name: "type", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: canon.TimestampType},
	}, nil), []string{"customer_id", "channel", "type", "ts"})
	in := FeatureInputs{Orders: orders, Events: events, Lines: lines, Products: products, Campaigns: campaigns}
	var rows int64
	for _, r := range append(append(append(orders, events...), lines...), campaigns...) {
		rows += r.NumRows()
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := CustomerFeatures(mem, in, cfg.End)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(rows), "input-rows")
	b.ReportMetric(float64(after.Sys)/(1<<20), "MiB-sys")
	_ = time.Second
}
