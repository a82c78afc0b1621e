package transform

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
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

// loadShop reads the canonical CSV files of a generated shop in dir into the
// feature inputs.
func loadShop(tb testing.TB, mem memory.Allocator, dir string) shopRecords {
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
	orders := loadColumns(tb, mem, filepath.Join(dir, "orders.csv"), ordersSchema,
		[]string{"order_id", "customer_id", "ordered_at", "status", "gross_amount", "discount_amount", "net_amount", "items_count", "rating"})
	events := loadColumns(tb, mem, filepath.Join(dir, "events.csv"), eventsSchema, []string{"customer_id", "ts", "session_id", "type"})
	str := func(names ...string) *arrow.Schema {
		var fs []arrow.Field
		for _, n := range names {
			fs = append(fs, arrow.Field{Name: n, Type: arrow.BinaryTypes.String})
		}
		return arrow.NewSchema(fs, nil)
	}
	lines := loadColumns(tb, mem, filepath.Join(dir, "order_lines.csv"), arrow.NewSchema([]arrow.Field{
		{Name: "order_id", Type: arrow.BinaryTypes.String}, {Name: "product_id", Type: arrow.BinaryTypes.String},
		{Name: "quantity", Type: arrow.PrimitiveTypes.Int32}, {Name: "unit_price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "discount", Type: arrow.PrimitiveTypes.Float64},
	}, nil), []string{"order_id", "product_id", "quantity", "unit_price", "discount"})
	products := loadColumns(tb, mem, filepath.Join(dir, "products.csv"), str("product_id", "category", "brand"), []string{"product_id", "category", "brand"})
	campaigns := loadColumns(tb, mem, filepath.Join(dir, "campaign_events.csv"), arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String}, {Name: "channel", Type: arrow.BinaryTypes.String},
		{Name: "type", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: canon.TimestampType},
	}, nil), []string{"customer_id", "channel", "type", "ts"})
	return shopRecords{orders: orders, events: events, lines: lines, products: products, campaigns: campaigns}
}

// shopRecords are a shop's batches held in memory, as the tests load them.
type shopRecords struct{ orders, events, lines, products, campaigns []arrow.Record }

func (s shopRecords) inputs() FeatureInputs {
	return FeatureInputs{Orders: s.orders, Events: Records(s.events...), Lines: Records(s.lines...), Products: s.products,
		Campaigns: Records(s.campaigns...)}
}

func (s shopRecords) rows() (n int64) {
	for _, set := range [][]arrow.Record{s.orders, s.events, s.lines, s.campaigns} {
		for _, r := range set {
			n += r.NumRows()
		}
	}
	return n
}

func (s shopRecords) release() {
	for _, set := range [][]arrow.Record{s.orders, s.events, s.lines, s.products, s.campaigns} {
		for _, r := range set {
			r.Release()
		}
	}
}

// benchInputs generates a shop of n customers and loads its canonical CSV
// files into Arrow. With TESSERA_BENCH_CACHE set, the batches are kept there
// as Arrow IPC files and read back by later runs (loading the CSV takes
// longer than the features).
func benchInputs(b *testing.B, mem memory.Allocator, n int) (shopRecords, time.Time) {
	cfg := synth.Defaults()
	cfg.Customers = n
	cache := os.Getenv("TESSERA_BENCH_CACHE")
	names := []string{"orders", "events", "lines", "products", "campaigns"}
	if cache != "" {
		dir := filepath.Join(cache, fmt.Sprintf("features-%d", n))
		if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
			sets := make([][]arrow.Record, len(names))
			for i, name := range names {
				sets[i] = readIPC(b, mem, filepath.Join(dir, name+".arrow"))
			}
			return shopRecords{orders: sets[0], events: sets[1], lines: sets[2], products: sets[3], campaigns: sets[4]}, cfg.End
		}
	}
	dir := b.TempDir()
	if _, err := synth.Generate(context.Background(), cfg, dir); err != nil {
		b.Fatal(err)
	}
	in := loadShop(b, mem, dir)
	orders, events, lines, products, campaigns := in.orders, in.events, in.lines, in.products, in.campaigns
	if cache != "" {
		dir := filepath.Join(cache, fmt.Sprintf("features-%d", n))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i, set := range [][]arrow.Record{orders, events, lines, products, campaigns} {
			writeIPC(b, filepath.Join(dir, names[i]+".arrow"), set)
		}
		if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return in, cfg.End
}

func writeIPC(b *testing.B, path string, recs []arrow.Record) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(recs[0].Schema()))
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

func readIPC(b *testing.B, mem memory.Allocator, path string) []arrow.Record {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var out []arrow.Record
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordAt(i)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, rec) // RecordAt's records are the caller's to release
	}
	return out
}

// BenchmarkFeatures: from Arrow batches in memory to the feature table, for a
// generated shop of TESSERA_BENCH_CUSTOMERS customers (default 100,000). It
// reports the input's size, the peak Go heap while the features are computed
// and that peak less the input: the memory the computation itself needs.
func BenchmarkFeatures(b *testing.B) {
	n := 100000
	if s := os.Getenv("TESSERA_BENCH_CUSTOMERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	shop, asOf := benchInputs(b, mem, n)
	rows, in := shop.rows(), shop.inputs()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapInuse
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // the peak heap, sampled every 20 ms
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := CustomerFeatures(mem, in, asOf)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
	b.StopTimer()
	close(done)
	<-sampled
	b.ReportMetric(float64(rows), "input-rows")
	b.ReportMetric(float64(mem.CurrentAlloc())/(1<<20), "MiB-input")
	b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-heap")
	b.ReportMetric(float64(peak-before.HeapInuse)/(1<<20), "MiB-peak-extra")
	shop.release()
	mem.AssertSize(b, 0)
}
