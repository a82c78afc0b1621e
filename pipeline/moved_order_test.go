package pipeline

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestOrderMovesCustomer: orders whose customer changes between two
// extracts (a source's correction) belong to their new customer alone
// afterwards, with every line, in one process and in each shard's slice;
// and 4 shards compute the features one process does. Half the moved orders
// keep their version (updated_at), half get a newer one; half lose their
// lines from the export (the warehouse must move the lines it has), half
// keep them (landed again).
func TestOrderMovesCustomer(t *testing.T) {
	eachStore(t, func(t *testing.T, cfg config.Config) {
		dir, _ := generateShop(t, 3000, 0, "csv")
		cfg.Source.Files.Dir = dir
		cfg.Kube.Wait = time.Minute
		ctx := context.Background()
		if err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		linesBefore := orderLineCounts(t, cfg, warehouse.Slice{})

		// Move every 40th order to the customer of the order 7 rows on.
		header, orders := readCSV(t, filepath.Join(dir, "orders.csv"))
		col := func(name string) int {
			for i, h := range header {
				if h == name {
					return i
				}
			}
			t.Fatalf("orders.csv has no %s", name)
			return -1
		}
		cust, upd := col("customer_id"), col("updated_at")
		moved := map[string]string{} // order -> its new customer
		dropLines := map[string]bool{}
		for i := 0; i+7 < len(orders); i += 40 {
			o := orders[i]
			if orders[i+7][cust] == o[cust] {
				continue
			}
			o[cust] = orders[i+7][cust]
			moved[o[0]] = o[cust]
			if len(moved)%2 == 0 {
				u, err := time.Parse(time.DateTime, o[upd])
				if err != nil {
					t.Fatal(err)
				}
				o[upd] = u.Add(time.Hour).Format(time.DateTime)
			}
			if len(moved)%4 < 2 {
				dropLines[o[0]] = true
			}
		}
		writeCSV(t, filepath.Join(dir, "orders.csv"), append([][]string{header}, orders...))
		lh, lines := readCSV(t, filepath.Join(dir, "order_lines.csv"))
		var kept [][]string
		for _, l := range lines {
			if !dropLines[l[0]] {
				kept = append(kept, l)
			}
		}
		writeCSV(t, filepath.Join(dir, "order_lines.csv"), append([][]string{lh}, kept...))
		if len(moved) < 50 || len(dropLines) < 25 {
			t.Fatalf("moved %d orders, %d without their lines: too few to tell", len(moved), len(dropLines))
		}
		if err := runStages(ctx, cfg, asOf, []string{"extract", "features"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}

		// One process, and each of 4 slices: every order once, with its
		// new customer, and every line it had.
		whole := orderCustomers(t, cfg, warehouse.Slice{})
		if len(whole) != len(orders) {
			t.Errorf("%d orders read, want %d", len(whole), len(orders))
		}
		sliced := map[string]string{}
		for i := range 4 {
			for o, c := range orderCustomers(t, cfg, warehouse.Slice{Index: i, Of: 4}) {
				if _, twice := sliced[o]; twice {
					t.Errorf("order %s read by two slices", o)
				}
				if warehouse.ShardOf(c, 4) != i {
					t.Errorf("order %s of customer %s read by slice %d", o, c, i)
				}
				sliced[o] = c
			}
			for o, n := range orderLineCounts(t, cfg, warehouse.Slice{Index: i, Of: 4}) {
				if c, ok := sliced[o]; !ok || warehouse.ShardOf(c, 4) != i {
					t.Errorf("%d lines of order %s (customer %q) read by slice %d", n, o, c, i)
				}
			}
		}
		for o, c := range moved {
			if whole[o] != c || sliced[o] != c {
				t.Errorf("moved order %s: customer %q in one process, %q in the slices; want %s", o, whole[o], sliced[o], c)
			}
		}
		// ClickHouse keeps what earlier extracts landed; the embedded
		// warehouse holds the last extract's rows, so lines the export
		// dropped are gone there.
		keeps := cfg.ClickHouse.Addr != ""
		linesAfter := orderLineCounts(t, cfg, warehouse.Slice{})
		for o := range moved {
			want := linesBefore[o]
			if dropLines[o] && !keeps {
				want = 0
			}
			if linesAfter[o] != want || linesBefore[o] == 0 {
				t.Errorf("moved order %s (lines dropped from the export: %v): %d lines, had %d, want %d", o, dropLines[o], linesAfter[o], linesBefore[o], want)
			}
		}
		if want := len(linesBefore) - len(dropLines); keeps && len(linesAfter) != len(linesBefore) || !keeps && len(linesAfter) != want {
			t.Errorf("lines of %d orders, had %d (%d dropped from the export)", len(linesAfter), len(linesBefore), len(dropLines))
		}

		one := featureRows(t, cfg)
		runShards(t, cfg, asOf, []string{"features"}, 4, "moved-orders")
		four := featureRows(t, cfg)
		differ := 0
		for id, row := range one {
			if four[id] != row {
				differ++
			}
		}
		if differ > 0 || len(four) != len(one) {
			t.Errorf("4 shards' features differ from one process's for %d of %d customers (%d against %d rows)", differ, len(one), len(four), len(one))
		}
	})
}

// orderCustomers reads the customer of each order a slice reads.
func orderCustomers(t *testing.T, cfg config.Config, s warehouse.Slice) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachRaw(t, cfg, warehouse.Query{Entity: canon.Orders, Columns: []string{"order_id", "customer_id"}, Slice: s}, func(rec arrow.Record) {
		ids, cs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		for i := range ids.Len() {
			if _, twice := out[ids.Value(i)]; twice {
				t.Errorf("order %s read twice", ids.Value(i))
			}
			out[ids.Value(i)] = cs.Value(i)
		}
	})
	return out
}

// orderLineCounts counts the lines of each order a slice reads.
func orderLineCounts(t *testing.T, cfg config.Config, s warehouse.Slice) map[string]int {
	t.Helper()
	out := map[string]int{}
	eachRaw(t, cfg, warehouse.Query{Entity: canon.OrderLines, Columns: []string{"order_id"}, Slice: s}, func(rec arrow.Record) {
		ids := rec.Column(0).(*array.String)
		for i := range ids.Len() {
			out[ids.Value(i)]++
		}
	})
	return out
}

func eachRaw(t *testing.T, cfg config.Config, q warehouse.Query, fn func(arrow.Record)) {
	t.Helper()
	st, mem := openTestStore(t, cfg)
	defer st.Close()
	recs, err := st.Read(context.Background(), mem, q, 1<<14)
	if err != nil {
		t.Fatal(err)
	}
	defer release(recs)
	for _, r := range recs {
		fn(r)
	}
}
