package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/export"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
	"github.com/tessera-cdp/tessera/warehouse/parquetdir"
)

var asOf = time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)

func generateShop(t *testing.T, customers int, bad float64, format string) (string, *synth.Summary) {
	t.Helper()
	c := synth.Defaults()
	c.Customers, c.BadRows, c.Format = customers, bad, format
	dir := t.TempDir()
	s, err := synth.Generate(context.Background(), c, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

// truthBadRows reads truth_bad_rows.csv as sorted "entity position rule" lines.
func truthBadRows(t testing.TB, dir string) []string {
	t.Helper()
	_, recs := readCSV(t, filepath.Join(dir, synth.TruthBadRowsFile))
	var out []string
	for _, r := range recs {
		out = append(out, r[0]+" "+r[1]+" "+r[3])
	}
	sort.Strings(out)
	return out
}

func diff(got, want []string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	var b strings.Builder
	n := 0
	for _, s := range want {
		if !g[s] && n < 10 {
			fmt.Fprintf(&b, "  missing: %s\n", s)
			n++
		}
	}
	for _, s := range got {
		if !w[s] && n < 20 {
			fmt.Fprintf(&b, "  unexpected: %s\n", s)
			n++
		}
	}
	return b.String()
}

// TestExtractClickHouse lands a shop with 1% bad rows in ClickHouse: every bad row
// of the truth file is rejected with its rule, every good row lands, read =
// landed + rejected, and running again duplicates nothing.
func TestExtractClickHouse(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, sum := generateShop(t, 4000, 0.01, "csv")
	cfg.Source.Files.Dir = dir
	cfg.BatchRows = 5000 // several batches per entity
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if counts, err := wh.RawCounts(ctx); err != nil || len(counts) != len(canon.Tables) || counts[0].N == 0 {
		t.Errorf("raw counts %v: %v", counts, err)
	}

	check := func(round int) {
		t.Helper()
		rejected := queryStrings(t, wh, "SELECT concat(entity, ' ', toString(position), ' ', rule) FROM {db}.rejected_rows FINAL")
		sort.Strings(rejected)
		want := truthBadRows(t, dir)
		if d := diff(rejected, want); d != "" || len(rejected) != len(want) {
			t.Fatalf("round %d: rejected rows differ from the truth (%d vs %d):\n%s", round, len(rejected), len(want), d)
		}
		for e, n := range sum.Rows {
			good := uint64(n - sum.BadRows[e])
			var final, all uint64
			table := warehouse.RawTable(e)
			queryRow(t, wh, "SELECT count() FROM {db}."+table+" FINAL", &final)
			if final != good {
				t.Errorf("round %d: %s holds %d rows, want %d good rows", round, table, final, good)
			}
			// After merging, no key is left twice.
			if err := wh.Exec(ctx, "OPTIMIZE TABLE {db}."+table+" FINAL"); err != nil {
				t.Fatal(err)
			}
			queryRow(t, wh, "SELECT count() FROM {db}."+table, &all)
			if all != good {
				t.Errorf("round %d: %s holds %d rows after merging, want %d", round, table, all, good)
			}
		}
		var bad uint64
		queryRow(t, wh, "SELECT count() FROM {db}.runs WHERE stage = 'extract' AND status = 'ok' AND rows_read != rows_landed + rows_rejected + rows_blank", &bad)
		if bad != 0 {
			t.Errorf("%d extract runs where read != landed + rejected + blank", bad)
		}
	}
	check(1)
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	check(2)
	var runs uint64
	queryRow(t, wh, "SELECT count() FROM {db}.runs WHERE stage = 'extract' AND status = 'ok'", &runs)
	if runs != 2 {
		t.Errorf("%d extract runs recorded, want 2", runs)
	}
}

// TestRunEmbedded runs with no ClickHouse: Parquet in, Parquet out.
func TestRunEmbedded(t *testing.T) {
	dir, sum := generateShop(t, 3000, 0.01, "parquet")
	cfg := testEmbeddedConfig(t)
	cfg.Source.Files.Dir, cfg.Source.Files.Format = dir, "parquet"
	for round := 1; round <= 2; round++ {
		if err := runStages(context.Background(), cfg, asOf, nil, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		wdir := filepath.Join(cfg.DataDir, "warehouse")
		for e, n := range sum.Rows {
			if got := parquetRows(t, filepath.Join(wdir, warehouse.RawTable(e)+".parquet")); got != n-sum.BadRows[e] {
				t.Errorf("round %d: %s has %d rows, want %d", round, e, got, n-sum.BadRows[e])
			}
		}
		if got, want := parquetRows(t, filepath.Join(wdir, "rejected_rows.parquet")), int64(len(truthBadRows(t, dir))); got != want {
			t.Errorf("round %d: %d rejected rows, want %d", round, got, want)
		}
	}
}

// TestRunSampleShop: with nothing configured, run generates the sample shop.
func TestRunSampleShop(t *testing.T) {
	cfg := testEmbeddedConfig(t)
	cfg.Sample.Customers = 1500 // enough buyers for the gate and VIPs for the early model
	var done []Result
	p, err := Open(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Done = func(r Result) { done = append(done, r) }
	if err := p.Run(context.Background(), asOf, nil, NoShard); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "sample-shop", "orders.csv")); err != nil {
		t.Fatal(err)
	}
	if len(done) != len(Stages) || done[0].Extract == nil || len(done[0].Extract.Entities) != len(canon.Tables) || done[2].Train == nil || done[2].Train.LTV == nil ||
		done[3].Score == nil || done[4].Publish == nil || len(done[4].Publish.Tables) != len(warehouse.Published) {
		t.Errorf("what the stages did: %+v", done)
	}
	// Embedded train and score: a model file and the date's scores, replaced by a re-run.
	scores := filepath.Join(cfg.DataDir, "warehouse", "customer_scores", "as_of=2026-10-31.parquet")
	first := parquetRows(t, scores)
	if first == 0 {
		t.Fatal("no scores")
	}
	if err := runStages(context.Background(), cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if again := parquetRows(t, scores); again != first {
		t.Errorf("re-run: %d scores, first run %d", again, first)
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "warehouse", "models.jsonl"))
	if err != nil || strings.Count(string(b), "\n") != 4 || strings.Count(string(b), `"Kind":"earlyvip"`) != 2 {
		t.Errorf("models.jsonl after two runs: %v\n%s", err, b)
	}
	// Embedded publish, export and report: every published table has the
	// date; the export's segment files hold every scored buyer.
	for _, table := range warehouse.Published {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "warehouse", table.Name, "as_of=2026-10-31.parquet")); err != nil {
			t.Errorf("embedded %s: %v", table.Name, err)
		}
	}
	exportDir := filepath.Join(t.TempDir(), "export")
	if err := exportDate(context.Background(), cfg, asOf, "csv", exportDir, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	mb, _ := os.ReadFile(filepath.Join(exportDir, "manifest.json"))
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	members := uint64(0)
	for _, f := range m.Files {
		if f.Kind == "segment" {
			members += f.Rows
		}
	}
	if members == 0 || int64(members) != parquetRows(t, filepath.Join(cfg.DataDir, "warehouse", "segment_members", "as_of=2026-10-31.parquet")) {
		t.Errorf("embedded export: %d members in the segment files", members)
	}
	if err := reportDate(context.Background(), cfg, asOf, filepath.Join(t.TempDir(), "report.html"), testLogger(t)); err != nil {
		t.Fatal(err)
	}
}

func parquetRows(t *testing.T, path string) int64 {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 14}, mem)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var n int64
	for rr.Next() {
		rec := rr.Record()
		n += rec.NumRows()
		if id, ok := rec.Column(int(rec.NumCols()) - 1).(*array.String); !ok || id.Len() > 0 && id.Value(0) == "" {
			t.Fatalf("%s: last column must be a filled run_id", path)
		}
	}
	return n
}

func queryRow(t testing.TB, wh *clickhouse.DB, q string, dest ...any) {
	t.Helper()
	if err := wh.Conn().QueryRow(context.Background(), strings.ReplaceAll(q, "{db}", wh.Database())).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryStrings(t testing.TB, wh *clickhouse.DB, q string) []string {
	t.Helper()
	rows, err := wh.Conn().Query(context.Background(), strings.ReplaceAll(q, "{db}", wh.Database()))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestConfigKnowsEveryEntity(t *testing.T) {
	for _, tbl := range canon.Tables {
		cfg := config.Default()
		cfg.Source.Postgres.DSN = "postgres://x"
		cfg.Source.Postgres.Queries = map[string]string{string(tbl.Entity): "SELECT 1"}
		if err := cfg.Validate(); err != nil {
			t.Errorf("a query for %s: %v", tbl.Entity, err)
		}
	}
}

// TestExtractReleasesMemory: every Arrow buffer extract allocates is released,
// from CSV and Parquet sources alike, rejected rows included.
func TestExtractReleasesMemory(t *testing.T) {
	for _, format := range []string{"csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			dir, sum := generateShop(t, 1500, 0.02, format)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			cfg := testEmbeddedConfig(t)
			cfg.BatchRows = 2048
			cfg.Source.Files.Dir, cfg.Source.Files.Format = dir, format
			pq, err := parquetdir.Open(filepath.Join(cfg.DataDir, "warehouse"), mem)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Extract(context.Background(), NewRun(testLogger(t), mem, "extract", asOf), pq, OptionsFrom(cfg).Extract)
			if err != nil {
				t.Fatal(err)
			}
			read, landed, rejected, _ := res.Totals()
			var rows, bad int64
			for e, n := range sum.Rows {
				rows, bad = rows+n, bad+sum.BadRows[e]
			}
			if read != rows || rejected != bad || landed != rows-bad {
				t.Errorf("read %d landed %d rejected %d; the shop has %d rows, %d bad", read, landed, rejected, rows, bad)
			}
		})
	}
}

// TestTrainScore: after a run, an LTV and an early-VIP model are stored and
// load, every customer registered or with a purchase before the as-of date has
// scores (the buyers as buyers), and a second run of the same date replaces
// that date's scores instead of adding to them.
func TestTrainScore(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 3000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	day := "2026-11-01"
	asOf2, _ := time.Parse(time.DateOnly, day)
	var buyers uint64
	for round := 1; round <= 2; round++ {
		if err := runStages(ctx, cfg, asOf2, nil, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		var models uint64
		queryRow(t, wh, "SELECT count() FROM {db}.models", &models)
		if models != uint64(2*round) {
			t.Errorf("round %d: %d models stored", round, models)
		}
		queryRow(t, wh, "SELECT uniqExact(customer_id) FROM {db}.raw_orders FINAL WHERE status != 'cancelled' AND ordered_at < toDateTime('"+day+" 00:00:00')", &buyers)
		var customers uint64
		queryRow(t, wh, "SELECT uniqExact(id) FROM (SELECT customer_id AS id FROM {db}.raw_customers FINAL WHERE created_at < toDateTime('"+day+" 00:00:00') UNION ALL SELECT customer_id AS id FROM {db}.raw_orders FINAL WHERE status != 'cancelled' AND ordered_at < toDateTime('"+day+" 00:00:00'))", &customers)
		var scored, distinct, scoredBuyers, bad uint64
		queryRow(t, wh, "SELECT count(), uniqExact(customer_id), countIf(lifecycle_stage != 'non_buyer'), countIf(NOT (p_alive BETWEEN 0 AND 1) OR NOT isFinite(clv_12m) OR clv_12m < 0 OR expected_purchases_365d < expected_purchases_90d) FROM {db}.customer_scores WHERE as_of = toDate('"+day+"')", &scored, &distinct, &scoredBuyers, &bad)
		if scored != customers || distinct != customers || scoredBuyers != buyers || bad != 0 || buyers == customers {
			t.Errorf("round %d: %d scores (%d distinct, %d buyers, %d out of range) for %d customers, %d buyers", round, scored, distinct, scoredBuyers, bad, customers, buyers)
		}
	}
	rows := queryStrings(t, wh, "SELECT artefact FROM {db}.models WHERE kind != 'earlyvip' ORDER BY trained_at DESC LIMIT 1")
	a, err := model.LoadArtefact([]byte(rows[0]))
	if err != nil {
		t.Fatal(err)
	}
	if a.Metrics == nil || a.Spend == nil || a.CalibrationEnd != "2026-10-31" {
		t.Errorf("artefact lacks metrics, spend or window: %s", rows[0])
	}
}

// TestStagesAlone: the stages run one by one, as the CronJobs run them, give
// the same scores as one run; an unknown stage and a stage without its input
// fail with a reason.
func TestStagesAlone(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 2000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	for _, stages := range [][]string{{"extract"}, {"features"}, {"train"}, {"score"}, {"publish"}} {
		if err := runStages(ctx, cfg, asOf, stages, testLogger(t)); err != nil {
			t.Fatalf("%v: %v", stages, err)
		}
	}
	var alone uint64
	queryRow(t, wh, "SELECT count() FROM {db}.customer_scores WHERE as_of = toDate('2026-10-31')", &alone)
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var together uint64
	queryRow(t, wh, "SELECT count() FROM {db}.customer_scores WHERE as_of = toDate('2026-10-31')", &together)
	if alone == 0 || alone != together {
		t.Errorf("%d scores from the stages alone, %d from one run", alone, together)
	}
	if err := runStages(ctx, cfg, asOf, []string{"report"}, testLogger(t)); err == nil || !strings.Contains(err.Error(), "unknown stage") {
		t.Errorf("unknown stage: %v", err)
	}
	embedded := testEmbeddedConfig(t)
	if err := runStages(ctx, embedded, asOf, []string{"features"}, testLogger(t)); err == nil || !strings.Contains(err.Error(), "run extract first") {
		t.Errorf("features before extract: %v", err)
	}
	if err := runStages(ctx, embedded, asOf, []string{"score"}, testLogger(t)); err == nil || !strings.Contains(err.Error(), "train first") {
		t.Errorf("score before train: %v", err)
	}
}

// finalVersions is each key's newest _version in a raw table: unlike counting
// (key, _version) pairs, it does not change when background merges drop
// older versions.
func finalVersions(t *testing.T, wh *clickhouse.DB, table, key string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, s := range queryStrings(t, wh, "SELECT concat(toString("+key+"), ' ', toString(max(_version))) FROM {db}."+table+" GROUP BY "+key) {
		k, v, _ := strings.Cut(s, " ")
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

// newVersions counts the keys whose newest version changed from before to
// after, and the keys that appeared or disappeared.
func newVersions(before, after map[string]uint64) (changed, added, gone int) {
	for k, v := range after {
		if b, ok := before[k]; !ok {
			added++
		} else if b != v {
			changed++
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			gone++
		}
	}
	return
}
