package pipeline

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// TestShardsDivideReads: the pods of a sharded Job divide the warehouse's
// reads instead of each repeating them (that they publish the same rows is
// TestShardedScore's and TestShardedFeatures'). Features, score and publish
// run as one process, then as 4 pods (features and publish at once, as they
// wait for each other's counts; score one after another, pod 0 last), with
// the default settings; the server logs every query (system.query_log,
// which scripts/services.sh turns on). For each table a stage reads, the
// rows its 4 pods read together are at most one process's plus, for each
// pod, the two granules at the edges of its range in each part of the
// table (the catalogue and the small tables every pod reads whole fit in
// that), and of the pods' own parts (profiles, plans) at most one
// process's: a pod that read every customer's rows of a raw table, or
// every pod's part, would read about 4 times. Of the parts of segment_feed
// (a row a segment and product), each pod reads the other pods' once.
func TestShardsDivideReads(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 20000, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.Kube.Wait = time.Minute
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	const pods = 4
	one, four := map[string]map[string]uint64{}, map[string]map[string]uint64{}
	parts := map[string]int{} // the most parts of each table seen before a stage
	measure := func(into map[string]map[string]uint64, stage string, run func()) {
		for table, n := range activeParts(t, wh) {
			parts[table] = max(parts[table], n)
		}
		from := serverSecondAfter(t, wh)
		run()
		into[stage] = rowsReadByTable(t, wh, from, serverSecondAfter(t, wh))
	}
	for _, stage := range []string{"features", "score", "publish"} {
		measure(one, stage, func() {
			if err := runStages(ctx, cfg, asOf, []string{stage}, testLogger(t)); err != nil {
				t.Fatal(err)
			}
		})
		if stage == "features" {
			if err := runStages(ctx, cfg, asOf, []string{"train"}, testLogger(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	const job = "divide-test"
	measure(four, "features", func() { runShards(t, cfg, asOf, []string{"features"}, pods, job) })
	measure(four, "score", func() {
		for i := pods - 1; i >= 0; i-- {
			if err := runShard(ctx, cfg, asOf, []string{"score"}, Shard{Index: i, Of: pods, Job: job}, testLogger(t)); err != nil {
				t.Fatalf("score pod %d: %v", i, err)
			}
		}
	})
	measure(four, "publish", func() { runShards(t, cfg, asOf, []string{"publish"}, pods, job) })

	var feedRows uint64 // the segments' feeds published
	queryRow(t, wh, fmt.Sprintf("SELECT count() FROM {db}.segment_feed WHERE as_of = '%s'", asOf.Format(time.DateOnly)), &feedRows)
	for _, stage := range []string{"features", "score", "publish"} {
		var lines []string
		for _, table := range slices.Sorted(maps.Keys(four[stage])) {
			got, want := four[stage][table], one[stage][table]
			edges := uint64(pods * 2 * 8192 * max(1, parts[table]))
			switch {
			case table == "segment_feed parts":
				// Each pod ranks the feeds of the segments dealt to it and
				// reads the others' from their parts: O(segments), once a pod.
				edges = uint64(pods-1) * feedRows
			case strings.HasSuffix(table, " parts"):
				edges = 0 // each pod reads its own part whole, pod 0 all of them once
			}
			lines = append(lines, fmt.Sprintf("%-32s one process %9d, %d pods %9d (at most %d)", table, want, pods, got, want+edges))
			if got > want+edges {
				t.Errorf("%s: the %d pods read %d rows of %s together, one process %d: more than the edges of their ranges (%d rows)", stage, pods, got, table, want, edges)
			}
		}
		if len(one[stage]) == 0 || len(four[stage]) == 0 {
			t.Errorf("%s: no read logged (one process %d tables, pods %d): is log_queries on?", stage, len(one[stage]), len(four[stage]))
		}
		t.Logf("%s, rows read:\n%s", stage, strings.Join(lines, "\n"))
	}
}

// serverSecondAfter waits until the server's clock has passed a second
// boundary and says that second: the queries logged from it on start after
// this call.
func serverSecondAfter(t *testing.T, wh *clickhouse.DB) time.Time {
	t.Helper()
	var start, now time.Time
	queryRow(t, wh, "SELECT now()", &start)
	for now = start; !now.After(start); time.Sleep(100 * time.Millisecond) {
		queryRow(t, wh, "SELECT now()", &now)
	}
	return now
}

// partName is what a pod's own part of a table adds to the table's name.
var partName = regexp.MustCompile(`_part_\d{8}_[0-9a-f]{16}_\d+_of_\d+(_tmp)?$`)

// rowsReadByTable sums the rows read by the SELECTs of wh's database that
// started in [from, to), by the first table each names (a pod's part as
// "TABLE parts").
func rowsReadByTable(t *testing.T, wh *clickhouse.DB, from, to time.Time) map[string]uint64 {
	t.Helper()
	if err := wh.Exec(context.Background(), "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	db := wh.Database()
	first := regexp.MustCompile(`(?i)FROM\s+` + regexp.QuoteMeta(db) + `\.(\w+)`)
	rows, err := wh.Conn().Query(context.Background(), `SELECT query, read_rows FROM system.query_log
WHERE type = 2 AND query_start_time >= ? AND query_start_time < ? AND position(query, ?) > 0 AND match(query, '^\\s*SELECT')`,
		from, to, db+".")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var q string
		var n uint64
		if err := rows.Scan(&q, &n); err != nil {
			t.Fatal(err)
		}
		m := first.FindStringSubmatch(q)
		if m == nil {
			continue
		}
		table := m[1]
		if p := partName.ReplaceAllString(table, ""); p != table {
			table = p + " parts"
		}
		out[table] += n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// activeParts counts the active parts of each table of wh's database.
func activeParts(t *testing.T, wh *clickhouse.DB) map[string]int {
	t.Helper()
	rows, err := wh.Conn().Query(context.Background(), "SELECT table, toInt64(count()) FROM system.parts WHERE database = ? AND active GROUP BY table", wh.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var table string
		var n int64
		if err := rows.Scan(&table, &n); err != nil {
			t.Fatal(err)
		}
		out[table] = int(n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
