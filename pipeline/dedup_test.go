package pipeline

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tessera-cdp/tessera/canon"
)

// TestExtractDedupWindow: with a duplicate window smaller than the orders and
// order lines, a row repeated close behind its first reading is rejected as
// duplicate_key (the first, or newer, version kept); one repeated further back
// lands and the raw table keeps the newest version, else the later row. Both
// are counted (read = landed + rejected; replaced_by_newer), a second run
// changes nothing visible after FINAL, and the order lines of every order
// (also those read before the window) are accepted: the orders' keys are all
// kept for them.
func TestExtractDedupWindow(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 1500, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.BatchRows, cfg.Source.DedupWindow = 1024, 1024

	lineHeader, lines := readCSV(t, filepath.Join(dir, "order_lines.csv"))
	orderHeader, orders := readCSV(t, filepath.Join(dir, "orders.csv"))
	nLines, nOrders := len(lines), len(orders)
	if nOrders < 3*cfg.Source.DedupWindow {
		t.Fatalf("%d orders: too few for a window of %d", nOrders, cfg.Source.DedupWindow)
	}
	const far = 7
	qty := canon.Tables[3].Index("quantity")
	for i := 0; i < far; i++ { // the first lines again at the end, another quantity
		dup := append([]string(nil), lines[i]...)
		dup[qty] = "77"
		lines = append(lines, dup)
	}
	near := append([]string(nil), lines[nLines-10]...) // ten lines back: within the window
	near[qty] = "88"
	lines = append(lines, near)

	ot, _ := canon.Lookup(canon.Orders)
	channel, updated := ot.Index("channel"), ot.Index("updated_at")
	newer := append([]string(nil), orders[0]...) // the first order, changed later: far back
	newer[channel], newer[updated] = "marketplace", "2030-01-01 00:00:00"
	older := append([]string(nil), orders[nOrders-5]...) // an older version, close behind
	older[channel], older[updated] = "store", "2001-01-01 00:00:00"
	orders = append(orders, newer, older)
	writeCSV(t, filepath.Join(dir, "order_lines.csv"), append([][]string{lineHeader}, lines...))
	writeCSV(t, filepath.Join(dir, "orders.csv"), append([][]string{orderHeader}, orders...))

	for round := 1; round <= 2; round++ {
		if err := runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		var finalLines, laterKept, finalOrders, newerKept uint64
		queryRow(t, wh, "SELECT count() FROM {db}.raw_order_lines FINAL", &finalLines)
		queryRow(t, wh, "SELECT count() FROM {db}.raw_order_lines FINAL WHERE quantity = 77", &laterKept)
		queryRow(t, wh, "SELECT count() FROM {db}.raw_orders FINAL", &finalOrders)
		queryRow(t, wh, "SELECT count() FROM {db}.raw_orders FINAL WHERE order_id = '"+newer[0]+"' AND channel = 'marketplace'", &newerKept)
		if finalLines != uint64(nLines) || laterKept != far || finalOrders != uint64(nOrders) || newerKept != 1 {
			t.Errorf("round %d: after FINAL %d order lines (want %d), %d of them the later of a far duplicate (want %d); %d orders (want %d), the newer version kept: %d",
				round, finalLines, nLines, laterKept, far, finalOrders, nOrders, newerKept)
		}
		rejected := queryStrings(t, wh, "SELECT concat(entity, ' ', toString(position), ' ', rule) FROM {db}.rejected_rows FINAL ORDER BY entity")
		want := []string{"order_lines " + strconv.Itoa(len(lines)) + " duplicate_key", "orders " + strconv.Itoa(len(orders)) + " duplicate_key"}
		if d := diff(rejected, want); d != "" {
			t.Errorf("round %d: rejected rows:\n%s", round, d)
		}
		details := queryStrings(t, wh, "SELECT detail FROM {db}.runs WHERE stage = 'extract'")
		if len(details) != round {
			t.Fatalf("%d extract runs recorded, want %d", len(details), round)
		}
		for _, detail := range details { // every run counts the same
			var res ExtractResult
			if err := json.Unmarshal([]byte(detail), &res); err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Entities {
				if e.Read != e.Landed+e.Rejected {
					t.Errorf("round %d: %s read %d, landed %d, rejected %d", round, e.Entity, e.Read, e.Landed, e.Rejected)
				}
				switch {
				case e.Entity == canon.OrderLines && (e.Replaced != far || e.Rejected != 1 || e.Landed != int64(nLines+far)):
					t.Errorf("round %d: order lines landed %d, rejected %d, replaced %d; want %d, 1, %d", round, e.Landed, e.Rejected, e.Replaced, nLines+far, far)
				case e.Entity == canon.Orders && (e.Replaced != 1 || e.Rejected != 1 || e.Landed != int64(nOrders+1)):
					t.Errorf("round %d: orders landed %d, rejected %d, replaced %d; want %d, 1, 1", round, e.Landed, e.Rejected, e.Replaced, nOrders+1)
				}
			}
		}
	}
}

func writeCSV(t *testing.T, path string, recs [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
