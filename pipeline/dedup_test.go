package pipeline

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
		// Extract counts what it landed twice as it lands it; the raw table
		// says the same: the run's rows beyond one a key.
		var run string
		queryRow(t, wh, "SELECT run_id FROM {db}.runs WHERE stage = 'extract' ORDER BY finished_at DESC, started_at DESC LIMIT 1", &run)
		for _, c := range []struct {
			entity canon.Entity
			key    string
			want   int64
		}{{canon.OrderLines, "order_id, line_no", far}, {canon.Orders, "order_id", 1}} {
			var twice int64
			queryRow(t, wh, "SELECT count() - uniqExact("+c.key+") FROM {db}.raw_"+string(c.entity)+" WHERE _deleted = 0 AND run_id = '"+run+"'", &twice)
			if twice != c.want {
				t.Errorf("round %d: the raw table has %d %s landed twice by the run, want %d", round, twice, c.entity, c.want)
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

// TestExtractShardsDedupWindow: the pods of a sharded extract, with a
// duplicate window smaller than each entity, each count what they landed
// twice as the raw table does (the rows of the pod's run beyond one a key),
// and a pod that only checks the customers pod 0 lands (they outgrow its
// window too) counts none.
func TestExtractShardsDedupWindow(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 1500, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.BatchRows, cfg.Source.DedupWindow = 1024, 1024
	cfg.Kube.Wait = 30 * time.Second // pod 0's wait for a pod that failed
	lineHeader, lines := readCSV(t, filepath.Join(dir, "order_lines.csv"))
	qty := canon.Tables[3].Index("quantity")
	for i := range 40 { // the first lines again at the end, another quantity
		dup := append([]string(nil), lines[i]...)
		dup[qty] = "77"
		lines = append(lines, dup)
	}
	writeCSV(t, filepath.Join(dir, "order_lines.csv"), append([][]string{lineHeader}, lines...))
	runShards(t, cfg, asOf, []string{"extract"}, 2, "dedup")

	var customers uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_customers FINAL", &customers)
	if customers <= uint64(cfg.Source.DedupWindow) {
		t.Fatalf("%d customers: they fit the window of %d", customers, cfg.Source.DedupWindow)
	}
	runs := queryStrings(t, wh, "SELECT concat(run_id, ' ', detail) FROM {db}.runs WHERE stage = 'extract'")
	if len(runs) != 2 {
		t.Fatalf("%d extract runs recorded, want 2", len(runs))
	}
	keyOf := map[canon.Entity]string{}
	for _, tbl := range canon.Tables {
		keyOf[tbl.Entity] = strings.Join(tbl.Key, ", ")
	}
	landedTwice := int64(0)
	for _, run := range runs {
		id, detail, _ := strings.Cut(run, " ")
		var res ExtractResult
		if err := json.Unmarshal([]byte(detail), &res); err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Entities {
			live := ""
			if e.Entity == canon.Orders || e.Entity == canon.OrderLines {
				live = " AND _deleted = 0"
			}
			var twice int64 // the rows of the pod's run beyond one a key (no version replaced one in its batch here)
			queryRow(t, wh, "SELECT count() - uniqExact("+keyOf[e.Entity]+") FROM {db}.raw_"+string(e.Entity)+" WHERE run_id = '"+id+"'"+live, &twice)
			if e.Replaced != twice {
				t.Errorf("run %s: %s replaced by newer %d, the raw table has %d landed twice", id, e.Entity, e.Replaced, twice)
			}
			if e.Entity == canon.OrderLines {
				landedTwice += e.Replaced
			}
		}
	}
	if landedTwice == 0 {
		t.Error("no pod landed an order line twice: the test shows nothing")
	}
}
