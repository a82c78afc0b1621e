package jobs

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tessera-cdp/tessera/canon"
)

// TestExtractDedupWindow: with a duplicate window smaller than the order
// lines, a line repeated close behind its first reading is rejected as
// duplicate_key, one repeated further back lands and the raw table keeps the
// later; both are counted (read = landed + rejected, replaced_by_newer), and
// a second run changes nothing visible after FINAL. Customers and orders (the
// parents) remember every key, however far apart.
func TestExtractDedupWindow(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 600, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.BatchRows, cfg.Source.DedupWindow = 1024, 1024

	lineHeader, lines := readCSV(t, filepath.Join(dir, "order_lines.csv"))
	orderHeader, orders := readCSV(t, filepath.Join(dir, "orders.csv"))
	n := len(lines)
	if n < 4*cfg.Source.DedupWindow {
		t.Fatalf("%d order lines: too few for a window of %d", n, cfg.Source.DedupWindow)
	}
	const far = 7
	qty := canon.Tables[3].Index("quantity")
	for i := 0; i < far; i++ { // the first lines again at the end, another quantity
		dup := append([]string(nil), lines[i]...)
		dup[qty] = "77"
		lines = append(lines, dup)
	}
	near := append([]string(nil), lines[n-10]...) // ten lines back: within the window
	near[qty] = "88"
	lines = append(lines, near)
	orders = append(orders, orders[0]) // an order read again 'far' back: parents keep every key
	writeCSV(t, filepath.Join(dir, "order_lines.csv"), append([][]string{lineHeader}, lines...))
	writeCSV(t, filepath.Join(dir, "orders.csv"), append([][]string{orderHeader}, orders...))

	check := func(round int) {
		t.Helper()
		var final, landedHere uint64
		queryRow(t, wh, "SELECT count() FROM {db}.raw_order_lines FINAL", &final)
		if final != uint64(n) {
			t.Errorf("round %d: %d order lines after FINAL, want %d", round, final, n)
		}
		queryRow(t, wh, "SELECT count() FROM {db}.raw_order_lines FINAL WHERE quantity = 77", &landedHere)
		if landedHere != far {
			t.Errorf("round %d: %d far duplicates kept by the raw table, want the later of each (%d)", round, landedHere, far)
		}
		var rejected []string
		rejected = queryStrings(t, wh, "SELECT concat(entity, ' ', toString(position), ' ', rule) FROM {db}.rejected_rows FINAL ORDER BY entity")
		want := []string{"order_lines " + strconv.Itoa(len(lines)) + " duplicate_key", "orders " + strconv.Itoa(len(orders)) + " duplicate_key"}
		if d := diff(rejected, want); d != "" {
			t.Errorf("round %d: rejected rows:\n%s", round, d)
		}
	}
	for round := 1; round <= 2; round++ {
		if err := RunStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t), io.Discard); err != nil {
			t.Fatal(err)
		}
		check(round)
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
				if e.Entity == canon.OrderLines && (e.Replaced != far || e.Rejected != 1 || e.Landed != int64(n+far)) {
					t.Errorf("round %d: order lines landed %d, rejected %d, replaced %d; want %d, 1, %d", round, e.Landed, e.Rejected, e.Replaced, n+far, far)
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
