package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// BenchmarkExtractFloor: extract's speed per entity against a floor measured
// in the same run: clickhouse-client inserting the same CSV files into the
// same raw tables of another database (FORMAT CSVWithNames, the files'
// columns), which parses and inserts and checks nothing. The ratio is
// extract's rows per second over the floor's. Customers are left out: their
// true/false flags are not what ClickHouse 18.16 reads into UInt8.
// TESSERA_BENCH_CUSTOMERS sets the shop's size (default 100,000; make bench:
// 1,000,000).
func BenchmarkExtractFloor(b *testing.B) {
	n := benchInt(b, "TESSERA_BENCH_CUSTOMERS", 100000)
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		b.Fatal("no clickhouse-client: scripts/services.sh up installs it")
	}
	ctx := context.Background()
	gen := synth.Defaults()
	gen.Customers = n
	shop := filepath.Join(b.TempDir(), "shop")
	if _, err := synth.Generate(ctx, gen, shop); err != nil {
		b.Fatal(err)
	}
	cfg, wh := testClickHouse(b)
	cfg.Source.Files.Dir = shop
	if err := runStages(ctx, cfg, gen.End, []string{"extract"}, testLogger(b)); err != nil {
		b.Fatal(err)
	}
	got := lastExtract(b, wh)
	floor := cfg.ClickHouse
	floor.Database += "_floor"
	fw, err := clickhouse.Open(ctx, floor)
	if err != nil {
		b.Fatal(err)
	}
	defer fw.Close()
	defer fw.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS {db}")
	if _, err := fw.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	host, port, _ := strings.Cut(floor.Addr, ":")
	for _, e := range []canon.Entity{canon.Products, canon.Orders, canon.OrderLines, canon.Events, canon.CampaignEvents} {
		path := filepath.Join(shop, string(e)+".csv")
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		header := make([]byte, 512)
		k, _ := f.Read(header)
		cols, _, _ := strings.Cut(string(header[:k]), "\n")
		f.Seek(0, 0)
		cmd := exec.Command(client, "--host", host, "--port", port, "--query",
			"INSERT INTO "+floor.Database+".raw_"+string(e)+" ("+strings.TrimSpace(cols)+") FORMAT CSVWithNames")
		cmd.Stdin = f
		start := time.Now()
		out, err := cmd.CombinedOutput()
		secs := time.Since(start).Seconds()
		f.Close()
		if err != nil {
			b.Fatalf("clickhouse-client inserting %s: %v\n%s", path, err, out)
		}
		c := got[e]
		tessera := float64(c.Read) / c.Seconds
		floorRate := float64(c.Read) / secs
		b.Logf("%-16s %10d rows: extract %8.0f rows/s (%.1f s), clickhouse-client %8.0f rows/s (%.1f s): %.2f of the floor",
			e, c.Read, tessera, c.Seconds, floorRate, secs, tessera/floorRate)
		b.ReportMetric(tessera/floorRate, string(e)+"/floor")
	}

	// Features against the same kind of aggregates computed by ClickHouse on
	// the same raw tables (FINAL, as features reads them): per customer, its
	// orders, revenue, check, discount share, first and last order and the
	// mean gap; its lines' items, products and categories; its site events of
	// 30 and 90 days by type; its campaign opens and clicks. A floor, not the
	// same work: features also builds the first-week, basket, price-level and
	// preferred-hour columns and writes the table.
	// Both start once the server's merges of what was just inserted are
	// done: a merge running beside one and not the other weighs on it alone.
	settled := awaitMerges(b, wh)
	start := time.Now()
	if err := runStages(ctx, cfg, gen.End, []string{"features"}, testLogger(b)); err != nil {
		b.Fatal(err)
	}
	features := time.Since(start).Seconds()
	asOf := "toDateTime('" + gen.End.Format(time.DateTime) + "')"
	// ClickHouse 18.16 joins two at a time: each join is a subquery.
	join := func(left, right string) string {
		return "(SELECT * FROM " + left + " ANY LEFT JOIN " + right + " USING (customer_id))"
	}
	orders := `(SELECT customer_id, countIf(status != 'cancelled') AS orders, sumIf(net_amount, status != 'cancelled') AS revenue,
			avgIf(net_amount, status != 'cancelled') AS avg_check, avgIf(discount_amount > 0, status != 'cancelled') AS discount_share,
			min(ordered_at) AS first, max(ordered_at) AS last,
			(toUInt32(max(ordered_at)) - toUInt32(min(ordered_at))) / greatest(count() - 1, 1) / 86400 AS gap
		FROM {db}.raw_orders FINAL WHERE ordered_at < ` + asOf + ` GROUP BY customer_id)`
	lines := `(SELECT customer_id, sum(quantity) AS items, uniqExact(product_id) AS products, uniqExact(category) AS categories
		FROM (SELECT * FROM (SELECT order_id, product_id, quantity FROM {db}.raw_order_lines FINAL)
			ANY INNER JOIN (SELECT order_id, customer_id FROM {db}.raw_orders FINAL WHERE ordered_at < ` + asOf + `) USING (order_id))
		ANY LEFT JOIN (SELECT product_id, category FROM {db}.raw_products FINAL) USING (product_id)
		GROUP BY customer_id)`
	events := `(SELECT customer_id, countIf(type = 'product_view' AND ts >= ` + asOf + ` - 30 * 86400) AS views30,
			countIf(type = 'product_view') AS views90, countIf(type = 'add_to_cart') AS carts90, countIf(type = 'search') AS searches90
		FROM {db}.raw_events FINAL WHERE customer_id != '' AND ts < ` + asOf + ` AND ts >= ` + asOf + ` - 90 * 86400 GROUP BY customer_id)`
	campaigns := `(SELECT customer_id, countIf(type = 'open') AS opens, countIf(type = 'click') AS clicks
		FROM {db}.raw_campaign_events FINAL WHERE ts < ` + asOf + ` GROUP BY customer_id)`
	sql := "SELECT count() FROM " + join(join(join(orders, lines), events), campaigns)
	settled += awaitMerges(b, wh)
	start = time.Now()
	var rows uint64
	queryRow(b, wh, sql, &rows)
	floorSecs := time.Since(start).Seconds()
	b.Logf("features: %.1f s; ClickHouse's aggregates of the same raw tables for %d buyers: %.1f s: %.2f of the floor's speed (after %.0f s waiting for merges)",
		features, rows, floorSecs, floorSecs/features, settled)
	b.ReportMetric(floorSecs/features, "features/floor")
}

// awaitMerges waits until the server merges nothing, and says how long it
// waited.
func awaitMerges(b *testing.B, wh *clickhouse.DB) float64 {
	start := time.Now()
	for {
		var merging uint64
		queryRow(b, wh, "SELECT count() FROM system.merges", &merging)
		if merging == 0 {
			return time.Since(start).Seconds()
		}
		if time.Since(start) > 15*time.Minute {
			b.Fatalf("the server still merges %d parts after 15 minutes", merging)
		}
		time.Sleep(time.Second)
	}
}
