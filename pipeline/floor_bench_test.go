package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	n := 100000
	if s := os.Getenv("TESSERA_BENCH_CUSTOMERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
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
	got := map[canon.Entity]EntityCount{}
	for _, c := range lastExtractOf(b, wh) {
		got[c.Entity] = c
	}
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
}

// lastExtractOf is the entity counts of the last extract run.
func lastExtractOf(b *testing.B, wh *clickhouse.DB) []EntityCount {
	var counts []EntityCount
	for _, c := range lastExtract(b, wh) {
		counts = append(counts, c)
	}
	return counts
}
