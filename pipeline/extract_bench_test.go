package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/servicetest"
)

// BenchmarkExtractPostgres: customers, orders and TESSERA_BENCH_LINES order
// lines (default 1,000,000; make bench: 10,000,000) read from PostgreSQL with
// queries of the config and landed in ClickHouse raw tables. The source
// tables are made once by generate_series and kept (schema bench_<lines>_<orders>).
// It reports the order lines' rows per second, all rows per second, the peak
// Go heap and the peak resident memory during the extract, and resident memory
// per entity. Two shapes: three lines an order and 3.3 orders a customer
// (customers and orders grow with the lines), and the same lines for a tenth
// of the customers and orders (30 lines an order), which shows what the order
// lines alone cost.
func BenchmarkExtractPostgres(b *testing.B) {
	lines := benchInt(b, "TESSERA_BENCH_LINES", 1000000)
	for _, orders := range []int{lines / 3, lines / 30} {
		b.Run(fmt.Sprintf("lines=%d/orders=%d", lines, orders), func(b *testing.B) {
			debug.FreeOSMemory() // what the last one held does not count here
			benchExtractPostgres(b, lines, orders)
		})
	}
}

func benchExtractPostgres(b *testing.B, lines, orders int) {
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, servicetest.Postgres(b)+"&timezone=UTC")
	if err != nil {
		b.Fatalf("PostgreSQL at %s: %v (start it with scripts/services.sh up, as make bench does)", servicetest.Postgres(b), err)
	}
	defer pg.Close(ctx)
	schema := fmt.Sprintf("bench_%d_%d", lines, orders)
	customers, perOrder := orders*3/10, lines/orders
	var have int
	if pg.QueryRow(ctx, "SELECT count(*) FROM "+schema+".order_lines").Scan(&have); have != lines {
		start := time.Now()
		for _, q := range []string{
			"DROP SCHEMA IF EXISTS " + schema + " CASCADE",
			"CREATE SCHEMA " + schema,
			fmt.Sprintf(`CREATE TABLE %s.customers AS SELECT 'C' || g AS id, 'c' || g || '@bench.example' AS email,
				timestamp '2023-01-01' + (g %% 700) * interval '1 day' AS registered_at, 'DE' AS country,
				(g %% 2 = 0) AS optin, timestamp '2025-01-01' + (g %% 1000) * interval '1 minute' AS modified_at
				FROM generate_series(1, %d) g`, schema, customers),
			fmt.Sprintf(`CREATE TABLE %s.orders AS SELECT 'O' || g AS id, 'C' || (1 + g %% %d) AS customer,
				timestamp '2024-01-01' + (g %% 500000) * interval '1 minute' AS placed_at, 'completed' AS state, 'EUR' AS currency,
				60.00 + g %% 40 AS gross, 0.00 AS discount, 60.00 + g %% 40 AS net, 3 AS items, 'web' AS channel,
				timestamp '2025-01-01' + (g %% 1000) * interval '1 minute' AS modified_at
				FROM generate_series(1, %d) g`, schema, customers, orders),
			// perOrder lines an order, and one more for the first orders
			// until there are lines.
			fmt.Sprintf(`CREATE TABLE %s.order_lines AS SELECT 'O' || (1 + (g - 1) / %d) AS order_ref, 1 + (g - 1) %% %d AS line,
				'P' || (g %% 5000) AS product, 1 + g %% 3 AS qty, 9.99 + g %% 50 AS price, 0.00 AS discount, 0 AS returned
				FROM generate_series(1, %d) g WHERE (g - 1) / %d < %d`, schema, perOrder, perOrder, lines, perOrder, orders),
			fmt.Sprintf(`INSERT INTO %s.order_lines SELECT 'O' || g, %d, 'P1', 1, 1.00, 0.00, 0 FROM generate_series(1, %d) g`, schema, perOrder+1, lines-perOrder*orders),
			"ANALYZE",
		} {
			if _, err := pg.Exec(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		b.Logf("made %d customers, %d orders, %d order lines in PostgreSQL in %s", customers, orders, lines, time.Since(start).Round(time.Second))
	}

	cfg, wh := testClickHouse(b)
	if _, err := wh.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	cfg.Source.Postgres.DSN = servicetest.Postgres(b) + "&timezone=UTC"
	cfg.Source.Postgres.Queries = map[string]string{
		"customers": `SELECT id AS customer_id, email, registered_at AS created_at, country, optin AS optin_email,
			modified_at AS updated_at FROM ` + schema + `.customers`,
		"orders": `SELECT id AS order_id, customer AS customer_id, placed_at AS ordered_at, state AS status, currency,
			gross AS gross_amount, discount AS discount_amount, net AS net_amount, items AS items_count, channel,
			modified_at AS updated_at FROM ` + schema + `.orders`,
		"order_lines": `SELECT order_ref AS order_id, line AS line_no, product AS product_id, qty AS quantity,
			price AS unit_price, discount, returned AS returned_quantity FROM ` + schema + `.order_lines`,
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	phases := &entityPhases{}
	log.AddHook(phases)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak, written := before.HeapInuse, before.HeapInuse
	rssBefore := rssKiB()
	var peakRSS int64
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() { // the peak heap and resident memory, sampled every 50 ms
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if path := os.Getenv("TESSERA_BENCH_HEAP"); path != "" && m.HeapInuse > written+written/10 {
					writeHeap(b, path) // the heap near its peak, for pprof
					written = m.HeapInuse
				}
				rss := rssKiB()
				peak = max(peak, m.HeapInuse)
				peakRSS = max(peakRSS, rss)
				phases.sample(rss)
			}
		}
	}()
	var res *ExtractResult
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var err error
		res, err = Extract(ctx, NewRun(log, memory.DefaultAllocator, "extract", asOf), wh, OptionsFrom(cfg).Extract)
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(done)
	<-sampled
	read, landed, rejected, _ := res.Totals()
	if read != int64(customers+orders+lines) || landed != read || rejected != 0 {
		b.Fatalf("read %d, landed %d, rejected %d; want %d landed", read, landed, rejected, customers+orders+lines)
	}
	for _, e := range res.Entities {
		p := phases.rss[e.Entity]
		b.Logf("%s: %d rows in %.2f s, %.0f rows/s; resident memory %.0f MiB at the start, peak %.0f MiB, %.0f MiB at the end",
			e.Entity, e.Read, e.Seconds, float64(e.Read)/e.Seconds, float64(p.first)/1024, float64(p.peak)/1024, float64(p.last)/1024)
		if e.Entity == "order_lines" {
			b.ReportMetric(float64(e.Read)/e.Seconds, "lines/s")
			// Flat: what streaming the order lines adds to what the run holds
			// when they start (the customers' and orders' keys and identities).
			b.ReportMetric(float64(p.peak-p.first)/1024, "MiB-rss-lines-growth")
		}
	}
	b.ReportMetric(float64(read)*float64(b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-heap")
	// Resident memory also holds the key tables mapped outside the heap.
	b.ReportMetric(float64(peakRSS)/1024, "MiB-peak-rss")
	b.ReportMetric(float64(peakRSS-rssBefore)/1024, "MiB-rss-growth")
}

func writeHeap(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Error(err)
		return
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Error(err)
	}
}

// entityPhases follows, from extract's log, which entity is being read, and
// the resident memory while it is: at the first and last sample, and the peak.
type entityPhases struct {
	mu      sync.Mutex
	current canon.Entity
	rss     map[canon.Entity]rssPhase
}

type rssPhase struct{ first, peak, last int64 }

func (p *entityPhases) Levels() []logrus.Level { return logrus.AllLevels }

// Fire notes the entity extract starts reading.
func (p *entityPhases) Fire(e *logrus.Entry) error {
	if e.Message == "reading" {
		p.mu.Lock()
		p.current, _ = e.Data["entity"].(canon.Entity)
		p.mu.Unlock()
	}
	return nil
}

func (p *entityPhases) sample(rss int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rss == nil {
		p.rss, p.current = map[canon.Entity]rssPhase{}, canon.Tables[0].Entity
	}
	ph, ok := p.rss[p.current]
	if !ok {
		ph.first = rss
	}
	ph.peak, ph.last = max(ph.peak, rss), rss
	p.rss[p.current] = ph
}
