package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestSlicedOrderReads: each of 4 slices reads exactly the orders and lines
// of its customers, with the tables sorted by customer_hash (migration 0032)
// and as a cluster made before it keeps them: sorted by the order, the rows
// landed before its sync added the column without a hash.
func TestSlicedOrderReads(t *testing.T) {
	for _, layout := range []string{"by customer hash", "by order, rows unhashed"} {
		t.Run(layout, func(t *testing.T) {
			w, mem, sets := rawTables(t)
			ctx := context.Background()
			customerOf := map[string]string{}
			build := func(e canon.Entity, rows func(add func(map[string]string))) {
				landRows(t, w, mem, sets, e, "run-1", rows)
			}
			build(canon.Customers, func(add func(map[string]string)) {
				for c := range 200 {
					add(map[string]string{"customer_id": fmt.Sprintf("C%d", c), "created_at": "2025-01-01 00:00:00", "updated_at": "2025-01-01 00:00:00"})
				}
			})
			build(canon.Orders, func(add func(map[string]string)) {
				for o := range 600 {
					id, c := fmt.Sprintf("O%d", o), fmt.Sprintf("C%d", o%200)
					customerOf[id] = c
					add(orderFields(id, c))
				}
			})
			build(canon.OrderLines, func(add func(map[string]string)) {
				for o := range 600 {
					for l := range 1 + o%3 {
						add(map[string]string{"order_id": fmt.Sprintf("O%d", o), "line_no": fmt.Sprint(l + 1), "product_id": "P1", "quantity": "1", "unit_price": "10", "discount": "0", "returned_quantity": "0"})
					}
				}
			})
			if strings.HasPrefix(layout, "by order") {
				for _, tbl := range []struct{ name, key string }{{"raw_orders", "order_id"}, {"raw_order_lines", "(order_id, line_no)"}} {
					for _, q := range []string{
						fmt.Sprintf("CREATE TABLE {db}.%s_old AS {db}.%[1]s ENGINE = ReplacingMergeTree(_version) ORDER BY %s", tbl.name, tbl.key),
						fmt.Sprintf("INSERT INTO {db}.%s_old SELECT * FROM {db}.%[1]s", tbl.name),
						// rows landed before the cluster's sync added the column
						fmt.Sprintf("ALTER TABLE {db}.%s_old DROP COLUMN customer_hash", tbl.name),
						fmt.Sprintf("ALTER TABLE {db}.%s_old ADD COLUMN customer_hash UInt64", tbl.name),
					} {
						if err := w.Exec(ctx, q); err != nil {
							t.Fatal(err)
						}
					}
				}
				for _, q := range []string{"DROP TABLE {db}.raw_orders", "DROP TABLE {db}.raw_order_lines",
					"RENAME TABLE {db}.raw_orders_old TO {db}.raw_orders, {db}.raw_order_lines_old TO {db}.raw_order_lines"} {
					if err := w.Exec(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
			}
			orders, lines := map[string]int{}, 0
			for i := range 4 {
				s := warehouse.Slice{Index: i, Of: 4}
				read := func(e canon.Entity, fn func(order string)) {
					err := w.Each(ctx, mem, warehouse.Query{Entity: e, Columns: []string{"order_id"}, Slice: s}, 1000, func(rec arrow.Record) error {
						ids := rec.Column(0).(*array.String)
						for r := range ids.Len() {
							fn(ids.Value(r))
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				read(canon.Orders, func(o string) {
					if _, twice := orders[o]; twice || !s.Owns(customerOf[o]) {
						t.Errorf("slice %d read order %s of %s (twice: %v)", i, o, customerOf[o], twice)
					}
					orders[o] = i
				})
				read(canon.OrderLines, func(o string) {
					lines++
					if !s.Owns(customerOf[o]) {
						t.Errorf("slice %d read a line of order %s of %s", i, o, customerOf[o])
					}
				})
			}
			if len(orders) != 600 || lines != 1200 {
				t.Errorf("the slices read %d orders and %d lines, want 600 and 1200", len(orders), lines)
			}
		})
	}
}

// migratedWarehouse is testWarehouse with every migration applied.
func migratedWarehouse(t *testing.T) *DB {
	t.Helper()
	w := testWarehouse(t)
	if _, err := w.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

// rawTables is a migrated warehouse to land raw rows in, with a checked
// allocator and the key sets landRows fills; both are checked and freed
// when the test ends.
func rawTables(t *testing.T) (*DB, *memory.CheckedAllocator, canon.KeySets) {
	w := migratedWarehouse(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	sets := canon.KeySets{}
	t.Cleanup(sets.Free) // before the allocator is checked
	return w, mem, sets
}

// orderFields are an order's fields, as landRows takes them.
func orderFields(id, customer string) map[string]string {
	return map[string]string{"order_id": id, "customer_id": customer, "ordered_at": "2025-02-01 00:00:00", "status": "completed",
		"currency": "EUR", "gross_amount": "10", "net_amount": "10", "discount_amount": "0", "items_count": "1", "channel": "web", "updated_at": "2025-02-01 00:00:00"}
}

// landRows lands the rows add is given, as text fields by column name, in
// e's raw table as run runID.
func landRows(t *testing.T, w *DB, mem memory.Allocator, sets canon.KeySets, e canon.Entity, runID string, rows func(add func(map[string]string))) {
	t.Helper()
	tbl, err := canon.Lookup(e)
	if err != nil {
		t.Fatal(err)
	}
	b, err := canon.NewBuilder(mem, tbl, sets)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	rows(func(v map[string]string) {
		fields := make([][]byte, len(tbl.Columns))
		for i, c := range tbl.Columns {
			fields[i] = []byte(v[c.Name])
		}
		if rule, detail := b.Append(fields); rule != "" {
			t.Fatalf("%s %v: %s %s", e, v, rule, detail)
		}
	})
	rec := b.NewRecord()
	defer rec.Release()
	if err := w.InsertRaw(context.Background(), e, rec, runID, time.Now()); err != nil {
		t.Fatal(err)
	}
	sets[e].Seal()
}

// TestSettleLeftover: an order a run landed under a new customer and did not
// settle (it stopped first) is settled by the next run's settling: one live
// row, under its new customer, with every line it had.
func TestSettleLeftover(t *testing.T) {
	w, mem, sets := rawTables(t)
	ctx := context.Background()
	landRows(t, w, mem, sets, canon.Customers, "run-1", func(add func(map[string]string)) {
		for _, c := range []string{"C1", "C2"} {
			add(map[string]string{"customer_id": c, "created_at": "2025-01-01 00:00:00", "updated_at": "2025-01-01 00:00:00"})
		}
	})
	landRows(t, w, mem, sets, canon.Orders, "run-1", func(add func(map[string]string)) { add(orderFields("O1", "C1")); add(orderFields("O2", "C1")) })
	line := 0
	lineNo := func() int { line++; return line }
	landRows(t, w, mem, sets, canon.OrderLines, "run-1", func(add func(map[string]string)) {
		for _, o := range []string{"O1", "O1", "O2"} {
			add(map[string]string{"order_id": o, "line_no": fmt.Sprint(lineNo()), "product_id": "P1", "quantity": "1", "unit_price": "10", "discount": "0", "returned_quantity": "0"})
		}
	})
	sets[canon.Orders].Free() // a new run: its own keys
	delete(sets, canon.Orders)
	landRows(t, w, mem, sets, canon.Orders, "run-2", func(add func(map[string]string)) { add(orderFields("O1", "C2")) })
	live := func() (rows map[string][]string, lines map[string]int) {
		rows, lines = map[string][]string{}, map[string]int{}
		for _, e := range []canon.Entity{canon.Orders, canon.OrderLines} {
			cols := []string{"order_id"}
			if e == canon.Orders {
				cols = append(cols, "customer_id")
			}
			err := w.Each(ctx, mem, warehouse.Query{Entity: e, Columns: cols}, 100, func(rec arrow.Record) error {
				ids := rec.Column(0).(*array.String)
				for r := range ids.Len() {
					if e == canon.Orders {
						rows[ids.Value(r)] = append(rows[ids.Value(r)], rec.Column(1).(*array.String).Value(r))
					} else {
						lines[ids.Value(r)]++
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return rows, lines
	}
	if rows, _ := live(); len(rows["O1"]) != 2 {
		t.Fatalf("before settling, O1's rows: %v, want both customers'", rows["O1"])
	}
	n, err := w.SettleMovedOrders(ctx, "run-3")
	if err != nil {
		t.Fatal(err)
	}
	rows, lines := live()
	if n != 1 || len(rows["O1"]) != 1 || rows["O1"][0] != "C2" || len(rows["O2"]) != 1 || lines["O1"] != 2 || lines["O2"] != 1 {
		t.Errorf("settled %d orders; orders %v, lines %v; want O1 of C2 alone with its 2 lines, O2 of C1 with 1", n, rows, lines)
	}
	if again, err := w.SettleMovedOrders(ctx, "run-4"); err != nil || again != 0 {
		t.Errorf("settling again: %d orders, %v; want none", again, err)
	}
}

// TestSharedPrices: the counts the pods of a Job share add up, of a pod run
// twice its last run's only; a pod with no line counts as shared, and
// PricesShared counts the pods as SharedPrices does, and the rows of a
// category (none for a Job without lines).
func TestSharedPrices(t *testing.T) {
	w := migratedWarehouse(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	share := func(shard int, run string, counts map[string]map[float64]int64) {
		if err := w.SharePrices(ctx, day, "job", warehouse.Slice{Index: shard, Of: 3}, run, counts); err != nil {
			t.Fatal(err)
		}
	}
	share(0, "run-a", map[string]map[float64]int64{"books": {5: 2, 7: 1}})
	share(0, "run-b", map[string]map[float64]int64{"books": {5: 1}, "toys": {3: 4}})
	share(1, "run-c", map[string]map[float64]int64{"books": {7: 2}})
	if n, _, err := w.SharedPrices(ctx, day, "job"); err != nil || n != 2 {
		t.Fatalf("%d pods shared (%v), want 2", n, err)
	}
	if n, categorised, err := w.PricesShared(ctx, day, "job"); err != nil || n != 2 || categorised != 4 {
		t.Fatalf("asked: %d pods shared, %d rows of a category (%v), want 2 and 4", n, categorised, err)
	}
	share(2, "run-d", nil)
	if n, categorised, err := w.PricesShared(ctx, day, "job"); err != nil || n != 3 || categorised != 4 {
		t.Fatalf("asked: %d pods shared, %d rows of a category (%v), want 3 (one without a line) and 4", n, categorised, err)
	}
	n, counts, err := w.SharedPrices(ctx, day, "job")
	want := map[string]map[float64]int64{"books": {5: 1, 7: 2}, "toys": {3: 4}}
	if err != nil || n != 3 || fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("%d pods shared %v (%v), want 3 sharing %v", n, counts, err, want)
	}
	if n, _, err := w.SharedPrices(ctx, day, "another job"); err != nil || n != 0 {
		t.Errorf("another Job: %d pods shared (%v), want none", n, err)
	}
	if err := w.SharePrices(ctx, day, "no lines", warehouse.Slice{Index: 0, Of: 1}, "run-e", nil); err != nil {
		t.Fatal(err)
	}
	if n, categorised, err := w.PricesShared(ctx, day, "no lines"); err != nil || n != 1 || categorised != 0 {
		t.Errorf("a Job without lines: %d pods shared, %d rows of a category (%v), want 1 and none", n, categorised, err)
	}
}

// TestSharedPurchases: the pods that shared their baskets' counts for a
// Job's score run, each with its last run; their counts handed over by
// segment, the base's first, of a pod run twice its last run's only, of
// another score run none; counts shared more than two days ago deleted.
func TestSharedPurchases(t *testing.T) {
	w := migratedWarehouse(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	share := func(shard int, scoreRun, run string, rows ...warehouse.SegmentPurchases) {
		if err := w.SharePurchases(ctx, day, "job", scoreRun, warehouse.Slice{Index: shard, Of: 3}, run, rows); err != nil {
			t.Fatal(err)
		}
	}
	// The base names its products; a segment's by their places in it.
	base := func(buyers int, products string, counts ...uint32) warehouse.SegmentPurchases {
		r := warehouse.SegmentPurchases{Members: buyers, Buyers: counts, IDs: strings.Fields(products)}
		for k := range r.IDs {
			r.Products = append(r.Products, uint32(k))
		}
		return r
	}
	seg := func(seg string, members int, places []uint32, buyers ...uint32) warehouse.SegmentPurchases {
		return warehouse.SegmentPurchases{Segment: seg, Members: members, Products: places, Buyers: buyers}
	}
	share(0, "score-1", "run-a", base(3, "P1 P2", 2, 1), seg("s2", 2, []uint32{0}, 2))
	time.Sleep(1100 * time.Millisecond) // computed_at is in seconds: the rerun is later
	share(0, "score-1", "run-b", base(3, "P1 P2", 2, 2), seg("s1", 1, []uint32{1}, 1), seg("s2", 2, []uint32{0, 1}, 2, 300))
	share(1, "score-1", "run-c", base(1, "P3", 1), seg("s1", 1, []uint32{0}, 1))
	share(2, "score-0", "run-d", base(9, "P9", 9))
	runs, err := w.PurchasesShared(ctx, day, "job", "score-1")
	if err != nil || fmt.Sprint(runs) != "map[0:run-b 1:run-c]" {
		t.Fatalf("pods that shared: %v (%v), want 0 by run-b, 1 by run-c", runs, err)
	}
	handed := func(deal warehouse.Slice) []string {
		var got []string
		if err := w.EachPurchases(ctx, day, "job", "score-1", runs, deal, func(r warehouse.SegmentPurchases) error {
			got = append(got, fmt.Sprintf("%d %q %d %v %v %v", r.Shard, r.Segment, r.Members, r.Products, r.Buyers, r.IDs))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := []string{`0 "" 3 [0 1] [2 2] [P1 P2]`, `1 "" 1 [0] [1] [P3]`, `0 "s1" 1 [1] [1] []`, `1 "s1" 1 [0] [1] []`, `0 "s2" 2 [0 1] [2 300] []`}
	if got := handed(warehouse.Slice{}); !slices.Equal(got, want) {
		t.Errorf("counts handed over:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Dealt to pods as customers are to shards (Slice.Owns of the segment
	// id): every pod gets the bases, and its own segments (of 2 and of 3
	// pods, s1 and s2 fall to different pods).
	for _, of := range []int{2, 3} {
		for i := range of {
			deal := warehouse.Slice{Index: i, Of: of}
			var want2 []string
			for _, row := range want {
				if seg := strings.Trim(strings.Fields(row)[1], `"`); seg == "" || deal.Owns(seg) {
					want2 = append(want2, row)
				}
			}
			if got := handed(deal); !slices.Equal(got, want2) {
				t.Errorf("counts handed over to pod %d of %d:\n%s\nwant\n%s", i, of, strings.Join(got, "\n"), strings.Join(want2, "\n"))
			}
		}
	}
	if err := w.SharePurchases(ctx, day, "job", "score-1", warehouse.Slice{Index: 0, Of: 3}, "run-e", []warehouse.SegmentPurchases{seg("s1", 1, []uint32{2, 1}, 1, 1)}); err == nil {
		t.Error("a segment's products out of order shared: no error")
	}
	if err := w.Exec(ctx, "INSERT INTO {db}.segment_purchases (as_of, job, score_run, shard, run_id, segment_id, members, counts, product_ids, computed_at) "+
		"SELECT toDate('2026-10-01'), 'job', 'score-old', 0, 'run-old', '', 1, '', ['P1'], now() - 3 * 86400"); err != nil {
		t.Fatal(err)
	}
	if err := w.PurgePurchases(ctx); err != nil {
		t.Fatal(err)
	}
	// A mutation: the server deletes in the background.
	var left []string
	for range 50 {
		if err := w.conn.QueryRow(ctx, w.expand("SELECT groupUniqArray(run_id) FROM {db}.segment_purchases")).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if slices.Sort(left); !slices.Contains(left, "run-old") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fmt.Sprint(left) != "[run-a run-b run-c run-d]" {
		t.Errorf("after the purge, the runs whose counts are left: %v, want run-a to run-d", left)
	}
}

// TestUsedWhen: a column used only where another holds a value, or from a
// time on, is read there alone ("" elsewhere); without UsedWhen,
// everywhere; the other columns are read whole either way. With OneOf,
// only the rows whose column holds one of the values are read.
func TestUsedWhen(t *testing.T) {
	w, mem, sets := rawTables(t)
	ctx := context.Background()
	landRows(t, w, mem, sets, canon.Customers, "run-1", func(add func(map[string]string)) {
		add(map[string]string{"customer_id": "C1", "created_at": "2025-01-01 00:00:00", "updated_at": "2025-01-01 00:00:00"})
	})
	types := []string{"page_view", "add_to_cart", "product_view", "add_to_cart"}
	landRows(t, w, mem, sets, canon.Events, "run-1", func(add func(map[string]string)) {
		for i, typ := range types {
			add(map[string]string{"event_id": fmt.Sprintf("E%d", i), "ts": fmt.Sprintf("2025-01-02 00:00:0%d", i), "customer_id": "C1",
				"session_id": fmt.Sprintf("S%d", i), "type": typ})
		}
	})
	from := time.Date(2025, 1, 2, 0, 0, 2, 0, time.UTC)
	for _, tc := range []struct {
		name string
		used []warehouse.UsedWhen
		want []string // sessions, by event
	}{
		{"used when added to the cart", []warehouse.UsedWhen{{Column: "session_id", When: "type", Is: "add_to_cart"}}, []string{"", "S1", "", "S3"}},
		{"used from a time", []warehouse.UsedWhen{{Column: "session_id", Since: from}}, []string{"", "", "S2", "S3"}},
		{"used from a time when added to the cart", []warehouse.UsedWhen{{Column: "session_id", When: "type", Is: "add_to_cart", Since: from}}, []string{"", "", "", "S3"}},
		{"used everywhere", nil, []string{"S0", "S1", "S2", "S3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := warehouse.Query{Entity: canon.Events, Columns: []string{"event_id", "session_id", "type"}, UsedWhen: tc.used,
				TimeColumn: "ts", Before: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			got, gotTypes := make([]string, len(types)), make([]string, len(types))
			if err := w.Each(ctx, mem, q, 2, func(rec arrow.Record) error {
				ids, sessions, typ := rec.Column(0).(*array.String), rec.Column(1).(*array.String), rec.Column(2).(*array.String)
				for i := range int(rec.NumRows()) {
					var k int
					fmt.Sscanf(ids.Value(i), "E%d", &k)
					got[k], gotTypes[k] = sessions.Value(i), typ.Value(i)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || fmt.Sprint(gotTypes) != fmt.Sprint(types) {
				t.Errorf("sessions %q, types %q; want %q, %q", got, gotTypes, tc.want, types)
			}
		})
	}
	t.Run("one of", func(t *testing.T) {
		q := warehouse.Query{Entity: canon.Events, Columns: []string{"event_id"}, OneOf: []warehouse.OneOf{{Column: "type", Values: []string{"add_to_cart", "search"}}}}
		var got []string
		if err := w.Each(ctx, mem, q, 2, func(rec arrow.Record) error {
			for i := range int(rec.NumRows()) {
				got = append(got, rec.Column(0).(*array.String).Value(i))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if want := []string{"E1", "E3"}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q (added to the cart)", got, want)
		}
	})
}
