package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse"
)

// stageFigures is one line of the pipeline benchmark's table.
type stageFigures struct {
	Stage      string  `json:"stage"`
	Seconds    float64 `json:"seconds"`
	Rows       int64   `json:"rows"`
	RowsPerSec float64 `json:"rows_per_sec"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// BenchmarkPipeline: the whole nightly pipeline against the real services for
// a generated shop of TESSERA_BENCH_CUSTOMERS customers (default 100,000;
// make bench: 1,000,000): its CRM part (customers) in PostgreSQL, orders,
// lines, products, site and campaign events as files; then extract, features,
// train, score, publish and export into ClickHouse, each timed, with its rows
// per second and the process's peak resident memory. It prints the table and
// `total <seconds> s`, and writes the figures as JSON to TESSERA_BENCH_OUT
// when set. The shop is generated once per size and kept in
// TESSERA_BENCH_CACHE when set; generating and loading PostgreSQL are not
// part of the total.
func BenchmarkPipeline(b *testing.B) {
	n := benchInt(b, "TESSERA_BENCH_CUSTOMERS", 100000)
	ctx := context.Background()
	root := b.TempDir()
	if cache := os.Getenv("TESSERA_BENCH_CACHE"); cache != "" {
		root = filepath.Join(cache, fmt.Sprintf("pipeline-%d", n))
	}
	shop := filepath.Join(root, "shop")
	gen := synth.Defaults()
	gen.Customers = n
	asOf := gen.End
	sum := &synth.Summary{}
	if doc, err := os.ReadFile(filepath.Join(root, "summary.json")); err == nil {
		if err := json.Unmarshal(doc, sum); err != nil {
			b.Fatal(err)
		}
	} else {
		s, err := synth.Generate(ctx, gen, shop)
		if err != nil {
			b.Fatal(err)
		}
		sum = s
		out, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(root, "summary.json"), out, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// The CRM in PostgreSQL: customers.csv moved into a contacts table, so the
	// files no longer hold customers.
	pg, err := pgx.Connect(ctx, servicetest.Postgres(b)+"&timezone=UTC")
	if err != nil {
		b.Fatalf("PostgreSQL at %s: %v (start it with scripts/services.sh up, as make bench does)", servicetest.Postgres(b), err)
	}
	defer pg.Close(ctx)
	schema := fmt.Sprintf("bench_crm_%d", n)
	var have int64
	if pg.QueryRow(ctx, "SELECT count(*) FROM "+schema+".contacts").Scan(&have); have != sum.Rows["customers"] {
		if _, err := pg.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema+"; "+`CREATE TABLE `+schema+`.contacts (id text PRIMARY KEY, email text, email_sha256 text,
			registered_at timestamptz, country_code char(2), city text, source text, email_ok boolean, sms_ok boolean,
			push_ok boolean, modified_at timestamptz NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(filepath.Join(shop, "customers.csv"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pg.PgConn().CopyFrom(ctx, f, `COPY `+schema+`.contacts (id, email, email_sha256, registered_at,
			country_code, city, source, email_ok, sms_ok, push_ok, modified_at) FROM STDIN WITH (FORMAT csv, HEADER true)`); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	files := filepath.Join(root, "files")
	if _, err := os.Stat(files); err != nil {
		os.MkdirAll(files, 0o755)
		for _, e := range []string{"products", "orders", "order_lines", "events", "campaign_events"} {
			if err := os.Link(filepath.Join(shop, e+".csv"), filepath.Join(files, e+".csv")); err != nil {
				b.Fatal(err)
			}
		}
	}

	cfg, wh := testClickHouse(b)
	if _, err := wh.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	cfg.Source.Files.Dir = files
	cfg.Source.Postgres.DSN = servicetest.Postgres(b) + "&timezone=UTC"
	cfg.Source.Postgres.Queries = map[string]string{"customers": contactsQuery(schema)}
	log := logrus.New()
	log.SetOutput(io.Discard)
	var read int64
	for _, v := range sum.Rows {
		read += v
	}
	stages := []struct {
		name string
		rows int64
		run  func() error
	}{
		{"extract", read, func() error { return runStages(ctx, cfg, asOf, []string{"extract"}, log) }},
		{"features", int64(n), func() error { return runStages(ctx, cfg, asOf, []string{"features"}, log) }},
		{"train", int64(n), func() error { return runStages(ctx, cfg, asOf, []string{"train"}, log) }},
		{"score", int64(n), func() error { return runStages(ctx, cfg, asOf, []string{"score"}, log) }},
		{"publish", int64(n), func() error { return runStages(ctx, cfg, asOf, []string{"publish"}, log) }},
		{"export", int64(n), func() error {
			return exportDate(ctx, cfg, asOf, "csv", filepath.Join(b.TempDir(), "export"), log)
		}},
	}
	var figures []stageFigures
	b.ResetTimer()
	start := time.Now()
	for _, s := range stages {
		var peak atomic.Int64
		done, sampled := make(chan struct{}), make(chan struct{})
		go func() { // resident memory every 100 ms (no stop-the-world, unlike MemStats)
			defer close(sampled)
			for {
				peak.Store(max(peak.Load(), rssKiB()))
				select {
				case <-done:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		t0 := time.Now()
		err := s.run()
		secs := time.Since(t0).Seconds()
		close(done)
		<-sampled
		if err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		figures = append(figures, stageFigures{Stage: s.name, Seconds: round(secs), Rows: s.rows,
			RowsPerSec: float64(int64(float64(s.rows) / secs)), PeakRSSMiB: float64(peak.Load() / 1024)})
	}
	total := time.Since(start).Seconds()
	b.StopTimer()

	var peakAll float64
	var out bytes.Buffer
	fmt.Fprintf(&out, "\npipeline: %d customers, %d input rows (ClickHouse %s, PostgreSQL, files)\n", n, read, cfg.ClickHouse.Addr)
	fmt.Fprintf(&out, "%-10s %10s %14s %14s %14s\n", "stage", "seconds", "rows", "rows/s", "peak RSS MiB")
	for _, f := range figures {
		fmt.Fprintf(&out, "%-10s %10.2f %14d %14.0f %14.0f\n", f.Stage, f.Seconds, f.Rows, f.RowsPerSec, f.PeakRSSMiB)
		peakAll = max(peakAll, f.PeakRSSMiB)
	}
	fmt.Fprintf(&out, "peak %.0f MiB\ntotal %.1f s\n", peakAll, total)
	os.Stdout.Write(out.Bytes())
	if path := os.Getenv("TESSERA_BENCH_OUT"); path != "" {
		doc, _ := json.MarshalIndent(map[string]any{"customers": n, "input_rows": read, "stages": figures,
			"total_seconds": round(total), "peak_rss_mib": peakAll, "at": time.Now().UTC().Format(time.RFC3339)}, "", "  ")
		if err := os.WriteFile(path, append(doc, '\n'), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(total, "total-s")
	b.ReportMetric(peakAll, "MiB-peak-rss")
}

// rssKiB is the process's resident memory now, from /proc (0 elsewhere).
func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			v, _ := strconv.ParseInt(string(bytes.Fields(rest)[0]), 10, 64)
			return v
		}
	}
	return 0
}

// BenchmarkBadRows: a shop of TESSERA_BENCH_CUSTOMERS customers (default
// 100,000; make bench: 1,000,000) with 1% bad rows extracted from files into
// ClickHouse, then reconciled: every bad row of the truth file is in
// rejected_rows with its rule, every good row landed, read = landed + rejected.
// It fails otherwise; it reports the rows, the bad rows and rows per second.
func BenchmarkBadRows(b *testing.B) {
	n := benchInt(b, "TESSERA_BENCH_CUSTOMERS", 100000)
	ctx := context.Background()
	shop := filepath.Join(b.TempDir(), "shop")
	if cache := os.Getenv("TESSERA_BENCH_CACHE"); cache != "" {
		shop = filepath.Join(cache, fmt.Sprintf("badrows-%d", n))
	}
	gen := synth.Defaults()
	gen.Customers, gen.BadRows = n, 0.01
	sum := &synth.Summary{}
	if doc, err := os.ReadFile(filepath.Join(shop, "summary.json")); err == nil {
		if err := json.Unmarshal(doc, sum); err != nil {
			b.Fatal(err)
		}
	} else {
		if sum, err = synth.Generate(ctx, gen, shop); err != nil {
			b.Fatal(err)
		}
		doc, _ := json.Marshal(sum)
		if err := os.WriteFile(filepath.Join(shop, "summary.json"), doc, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg, wh := testClickHouse(b)
	cfg.Source.Files.Dir = shop
	log := logrus.New()
	log.SetOutput(io.Discard)
	b.ResetTimer()
	start := time.Now()
	if err := runStages(ctx, cfg, gen.End, []string{"extract"}, log); err != nil {
		b.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	b.StopTimer()

	var rows, bad int64
	for e, k := range sum.Rows {
		rows, bad = rows+k, bad+sum.BadRows[e]
		var landed uint64
		queryRow(b, wh, "SELECT count() FROM {db}."+warehouse.RawTable(e)+" FINAL", &landed)
		if int64(landed) != k-sum.BadRows[e] {
			b.Errorf("%s: %d rows landed, the shop has %d good ones", e, landed, k-sum.BadRows[e])
		}
	}
	rejected := queryStrings(b, wh, "SELECT concat(entity, ' ', toString(position), ' ', rule) FROM {db}.rejected_rows FINAL")
	sort.Strings(rejected)
	want := truthBadRows(b, shop)
	if d := diff(rejected, want); d != "" || len(rejected) != len(want) {
		b.Errorf("rejected rows differ from the truth file (%d vs %d):\n%s", len(rejected), len(want), d)
	}
	var read, landed, rej uint64
	queryRow(b, wh, "SELECT rows_read, rows_landed, rows_rejected FROM {db}.runs WHERE stage = 'extract'", &read, &landed, &rej)
	if int64(read) != rows || read != landed+rej || int64(rej) != bad {
		b.Errorf("read %d, landed %d, rejected %d; the shop has %d rows, %d bad", read, landed, rej, rows, bad)
	}
	fmt.Printf("\nbad rows: %d customers, %d rows, %d bad, all rejected with their rule, read = landed + rejected = %d, %.1f s\n",
		n, rows, bad, read, secs)
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(float64(bad), "bad-rows")
	b.ReportMetric(float64(rows)/secs, "rows/s")
}
