package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestPartInBlocks: a part written a batch at a time, in one INSERT whose
// buffers are kept between batches, reads back every row of every batch in
// place (a batch longer than a block goes in slices; a batch shorter than the
// one before leaves none of its rows behind);
// parts aborted or closed release their connections (more of them than the
// pool holds, one after another); a batch of other columns is refused.
func TestPartInBlocks(t *testing.T) {
	w := migratedWarehouse(t)
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tbl := warehouse.SegmentFeed
	s := warehouse.Slice{Index: 1, Of: 2}
	batch := func(from, n int) arrow.Record { return feedRows(mem, from, n) }
	write := func(job string, sizes []int, end func(warehouse.PartWriter) error) error {
		pw, err := w.OpenPart(ctx, tbl.Name, tbl.Schema, asOf, job, s, "run-1")
		if err != nil {
			return err
		}
		from := 0
		for _, n := range sizes {
			rec := batch(from, n)
			err := pw.Write(ctx, rec)
			rec.Release()
			if err != nil {
				pw.Abort(ctx)
				return err
			}
			from += n
		}
		return end(pw)
	}
	closePart := func(pw warehouse.PartWriter) error { return pw.Close(ctx) }
	abort := func(pw warehouse.PartWriter) error { pw.Abort(ctx); return nil }

	sizes := []int{blockRows + 5000, 120, 0, 3000, 1}
	if err := write("job-a", sizes, closePart); err != nil {
		t.Fatal(err)
	}
	var ranks []int32
	if err := w.EachPart(ctx, mem, tbl.Name, tbl.Schema, asOf, "job-a", []warehouse.Slice{s}, 1000, func(rec arrow.Record) error {
		for i := range int(rec.NumRows()) {
			r := rec.Column(1).(*array.Int32).Value(i)
			if p := rec.Column(2).(*array.String).Value(i); p != strings.Repeat("p", 1+int(r)%13) || rec.Column(3).(*array.Int32).Value(i) != 2*r {
				return fmt.Errorf("row of rank %d holds %q, %d", r, p, rec.Column(3).(*array.Int32).Value(i))
			}
			ranks = append(ranks, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	seen := make([]bool, total)
	for _, r := range ranks {
		if r < 0 || int(r) >= total || seen[r] {
			t.Fatalf("rank %d read twice or never written", r)
		}
		seen[r] = true
	}
	if len(ranks) != total {
		t.Fatalf("read %d rows of %d written", len(ranks), total)
	}

	// Twelve parts, more than the pool's connections, each holding one until
	// it ends: a part that kept its connection would starve the next.
	for i := range 12 {
		end := abort
		if i%2 == 1 {
			end = closePart
		}
		done := make(chan error, 1)
		go func() { done <- write(fmt.Sprintf("job-%d", i), []int{10, 10}, end) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("part %d still waits for a connection", i)
		}
	}
	if n, err := w.PartsWritten(ctx, tbl.Name, asOf, "job-0", 2); err != nil || n != 0 {
		t.Fatalf("an aborted part: %d parts written (%v), want 0", n, err)
	}

	pw, err := w.OpenPart(ctx, tbl.Name, tbl.Schema, asOf, "job-b", s, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Abort(ctx)
	rec := batch(0, 3)
	defer rec.Release()
	if err := pw.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	other := array.NewRecord(arrow.NewSchema(tbl.Schema.Fields()[:4], nil), rec.Columns()[:4], rec.NumRows())
	defer other.Release()
	if err := pw.Write(ctx, other); err == nil || !strings.Contains(err.Error(), "segment_feed") {
		t.Fatalf("a batch of other columns: %v, want an error naming the table", err)
	}
}

// feedRows are n rows of segment_feed from rank from on, each's product and
// buyers made from its rank (what the tests check a read back against).
func feedRows(mem memory.Allocator, from, n int) arrow.Record {
	b := array.NewRecordBuilder(mem, warehouse.SegmentFeed.Schema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("S%d", i%7))
		b.Field(1).(*array.Int32Builder).Append(int32(i))
		b.Field(2).(*array.StringBuilder).Append(strings.Repeat("p", 1+i%13))
		b.Field(3).(*array.Int32Builder).Append(int32(i * 2))
		b.Field(4).(*array.Float64Builder).Append(float64(i) / 3)
	}
	return b.NewRecord()
}

// TestCompressions: with either compression of config.ClickHouse, the
// rows landed in a raw table read back whole (text as FixedStrings and as
// Strings, numbers, times), and so do a part's rows.
func TestCompressions(t *testing.T) {
	for _, compression := range []string{"lz4", "none"} {
		t.Run(compression, func(t *testing.T) {
			c := config.Default().ClickHouse
			c.Addr, c.Compression = servicetest.ClickHouse(t), compression
			w := openTest(t, c, "tessera_test_", "DROP DATABASE IF EXISTS {db}")
			ctx := context.Background()
			if _, err := w.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			sets := canon.KeySets{}
			defer sets.Free()
			landRows(t, w, mem, sets, canon.Customers, "run-1", func(add func(map[string]string)) {
				for c := range 70 {
					add(map[string]string{"customer_id": fmt.Sprintf("C%d", c), "created_at": "2025-01-01 00:00:00", "updated_at": "2025-01-01 00:00:00"})
				}
			})
			landRows(t, w, mem, sets, canon.Orders, "run-1", func(add func(map[string]string)) {
				for o := range 300 {
					add(orderFields(fmt.Sprintf("O%d", o), fmt.Sprintf("C%d", o%70)))
				}
			})
			owner := map[string]string{}
			if err := w.Each(ctx, mem, warehouse.Query{Entity: canon.Orders, Columns: []string{"order_id", "customer_id", "ordered_at", "net_amount", "status"}}, 100, func(rec arrow.Record) error {
				ids, customers := canon.ArrayOf[*array.String](rec, "order_id"), canon.ArrayOf[*array.String](rec, "customer_id")
				net, status := canon.ArrayOf[*array.Float64](rec, "net_amount"), canon.ArrayOf[*array.String](rec, "status")
				at := canon.ArrayOf[*array.Timestamp](rec, "ordered_at")
				for i := range int(rec.NumRows()) {
					if net.Value(i) != 10 || status.Value(i) != "completed" || at.Value(i).ToTime(arrow.Second).Format(time.DateTime) != "2025-02-01 00:00:00" {
						return fmt.Errorf("order %s read as %v %q %v", ids.Value(i), net.Value(i), status.Value(i), at.Value(i))
					}
					owner[ids.Value(i)] = customers.Value(i)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for o := range 300 {
				if id, want := fmt.Sprintf("O%d", o), fmt.Sprintf("C%d", o%70); owner[id] != want {
					t.Fatalf("order %s read with customer %q, want %q (%d orders read)", id, owner[id], want, len(owner))
				}
			}

			tbl, asOf, s := warehouse.SegmentFeed, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), warehouse.Slice{Index: 0, Of: 1}
			rec := feedRows(mem, 0, 500)
			pw, err := w.OpenPart(ctx, tbl.Name, tbl.Schema, asOf, "job", s, "run-1")
			if err == nil {
				err = pw.Write(ctx, rec)
			}
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			if err := pw.Close(ctx); err != nil {
				t.Fatal(err)
			}
			n := 0
			if err := w.EachPart(ctx, mem, tbl.Name, tbl.Schema, asOf, "job", []warehouse.Slice{s}, 100, func(rec arrow.Record) error {
				for i := range int(rec.NumRows()) {
					r := rec.Column(1).(*array.Int32).Value(i)
					if rec.Column(2).(*array.String).Value(i) != strings.Repeat("p", 1+int(r)%13) || rec.Column(4).(*array.Float64).Value(i) != float64(r)/3 {
						return fmt.Errorf("the row of rank %d read back other than written", r)
					}
					n++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != 500 {
				t.Fatalf("read %d rows of the part's 500", n)
			}
		})
	}
}

// TestCountsEncoding: a segment's counts as segment_purchases.counts holds
// them read back as they were, small ones a byte each; places that do not
// ascend are refused, and counts cut short are an error, not a count.
func TestCountsEncoding(t *testing.T) {
	for _, c := range []warehouse.SegmentPurchases{
		{},
		{Products: []uint32{0}, Buyers: []uint32{0}},
		{Products: []uint32{0, 1, 2, 9}, Buyers: []uint32{1, 2, 127, 128}},
		{Products: []uint32{70000, math.MaxUint32}, Buyers: []uint32{math.MaxUint32, 1}},
	} {
		b, err := appendCounts(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		var got warehouse.SegmentPurchases
		if err := readCounts(b, &got); err != nil {
			t.Fatalf("%v: %v", c.Products, err)
		}
		if !slices.Equal(got.Products, c.Products) || !slices.Equal(got.Buyers, c.Buyers) {
			t.Errorf("%v bought by %v read back as %v by %v", c.Products, c.Buyers, got.Products, got.Buyers)
		}
		if len(c.Products) > 0 {
			if err := readCounts(b[:len(b)-1], &got); err == nil {
				t.Errorf("%v cut short: no error", c.Products)
			}
		}
	}
	if b, _ := appendCounts(nil, warehouse.SegmentPurchases{Products: []uint32{0, 1, 5}, Buyers: []uint32{3, 1, 2}}); len(b) != 6 {
		t.Errorf("three small counts in %d bytes, want 6", len(b))
	}
	for _, c := range []warehouse.SegmentPurchases{
		{Products: []uint32{1, 1}, Buyers: []uint32{1, 1}},
		{Products: []uint32{2, 1}, Buyers: []uint32{1, 1}},
		{Products: []uint32{1}, Buyers: []uint32{1, 1}},
	} {
		if _, err := appendCounts(nil, c); err == nil {
			t.Errorf("products %v, buyers %v: no error", c.Products, c.Buyers)
		}
	}
}

// TestStaleParts: the parts of a table older than the age kept are dropped,
// newer ones kept (the check lists the stale parts by name: a listing that
// found one had failed, so that every stage of a Job failed once its parts
// of the night before were a day old); and a part whose table is being
// renamed into place is not taken for stale (ClickHouse reports the table
// as made at time 0 while its metadata file moves).
func TestStaleParts(t *testing.T) {
	w := migratedWarehouse(t)
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tbl := warehouse.SegmentFeed
	s := warehouse.Slice{Index: 0, Of: 2}
	write := func(job string) {
		t.Helper()
		pw, err := w.OpenPart(ctx, tbl.Name, tbl.Schema, asOf, job, s, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		rec := feedRows(mem, 0, 10)
		defer rec.Release()
		if err := pw.Write(ctx, rec); err != nil {
			pw.Abort(ctx)
			t.Fatal(err)
		}
		if err := pw.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	written := func(job string) int {
		t.Helper()
		n, err := w.PartsWritten(ctx, tbl.Name, asOf, job, 2)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	write("job-old")
	time.Sleep(2100 * time.Millisecond) // the tables' times are in whole seconds
	write("job-new")
	if err := w.dropPartsOlderThan(ctx, tbl.Name, time.Hour); err != nil || written("job-old") != 1 || written("job-new") != 1 {
		t.Fatalf("parts younger than an hour dropped (%v): job-old %d, job-new %d, want both kept", err, written("job-old"), written("job-new"))
	}
	if err := w.dropPartsOlderThan(ctx, tbl.Name, time.Second); err != nil || written("job-old") != 0 || written("job-new") != 1 {
		t.Fatalf("the part older than a second (%v): job-old %d, job-new %d parts left, want 0 and 1", err, written("job-old"), written("job-new"))
	}
	// A part renamed into place while the parts are listed, many times.
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Of an hour: only a table taken for made at time 0 is stale.
			if err := w.dropPartsOlderThan(ctx, tbl.Name, time.Hour); err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := range 30 {
		write(fmt.Sprintf("job-renamed-%d", i))
	}
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("listing the stale parts while parts are renamed into place: %v", err)
	}
	for i := range 30 {
		if n := written(fmt.Sprintf("job-renamed-%d", i)); n != 1 {
			t.Fatalf("part %d, renamed into place while the stale parts were listed: %d parts, want 1 (dropped as stale)", i, n)
		}
	}
}
