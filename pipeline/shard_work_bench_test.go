package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// serverWork is what the warehouse did, from its system.events counters:
// the marks its reads selected (8,192 rows each), the compressed bytes they
// read, and its CPU time.
type serverWork struct {
	Marks, ReadBytes uint64
	CPUSeconds       float64
}

func (w serverWork) minus(o serverWork) serverWork {
	return serverWork{w.Marks - o.Marks, w.ReadBytes - o.ReadBytes, w.CPUSeconds - o.CPUSeconds}
}

// readServerWork reads the server's counters since it started.
func readServerWork(b *testing.B, wh *clickhouse.DB) serverWork {
	b.Helper()
	var w serverWork
	var user, system uint64
	queryRow(b, wh, `SELECT sumIf(value, event = 'SelectedMarks'), sumIf(value, event = 'ReadCompressedBytes'),
		sumIf(value, event = 'UserTimeMicroseconds'), sumIf(value, event = 'SystemTimeMicroseconds') FROM system.events`,
		&w.Marks, &w.ReadBytes, &user, &system)
	w.CPUSeconds = float64(user+system) / 1e6
	return w
}

// BenchmarkShardWork measures whether a sharded Job divides the work or
// repeats it: on a generated shop of TESSERA_BENCH_WORK_CUSTOMERS customers
// (100,000), extract, features, score and publish run as one process and
// then as TESSERA_BENCH_SHARDS pods (4) (score's one process at a time, pod 0 last), each a
// `tessera` process run as in a pod (its run lock a Lease on the project's
// kube-apiserver, as the chart deploys it); around each, the warehouse's counters (system.events:
// selected marks, compressed bytes read, server CPU; for extract, until the
// server has merged what it landed). The extract pods run at once, into a
// database of their own, and must land what one process lands (raw tables,
// rejected_rows and identities, summed by the server). The features and
// publish pods run at once, as an Indexed Job starts them (each takes the
// category medians from the prices all count, the segments' feeds from the
// baskets all count): the counters are then the Job's, each pod's time its
// own on a machine the pods share; as a reference for their server CPU, the
// same slices of the features' largest read run one after another and at
// once (contention). It prints, per stage, one
// process's and each pod's figures, the pods' sum against one process (the
// goal: at most 1.2 times) and the slowest pod's time against one process's
// (the goal: at most 0.35), with each process's own CPU time and peak
// memory (pods at once on a machine smaller than the Job's wait for its
// cores: their own CPU says more of what a pod of its own would take), and
// writes them to TESSERA_BENCH_OUT as JSON when set. It fails when the
// pods publish other rows than one process (customer_features and every
// published table, summed by the server). Run alone: the counters are the
// server's, not the process's.
func BenchmarkShardWork(b *testing.B) {
	n, shards := benchInt(b, "TESSERA_BENCH_WORK_CUSTOMERS", 100000), benchInt(b, "TESSERA_BENCH_SHARDS", 4)
	ctx := context.Background()
	gen := synth.Defaults()
	gen.Customers = n
	shop := benchShop(ctx, b, gen, fmt.Sprintf("train-%d", n))
	bin := buildTessera(b)
	cfg, wh := testClickHouse(b)
	env := []string{"TESSERA_CLICKHOUSE_ADDR=" + cfg.ClickHouse.Addr, "TESSERA_CLICKHOUSE_DATABASE=" + cfg.ClickHouse.Database,
		"TESSERA_SOURCE_FILES_DIR=" + shop, "TESSERA_DATA_DIR=" + b.TempDir(), "TESSERA_KUBE_WAIT=10m", "TESSERA_SHARD_JOB=work", "TESSERA_LOG_LEVEL=warn",
		// Each process runs as in a pod (kube.lock auto takes Leases, as the
		// chart's CronJobs and Jobs do), against the project's kube-apiserver.
		"KUBERNETES_SERVICE_HOST=127.0.0.1", "TESSERA_KUBE_KUBECONFIG=" + servicetest.Kubeconfig(b)}
	asOf := gen.End.Format(time.DateOnly)
	type measured struct {
		Stage string `json:"stage"`
		Shard string `json:"shard"`
		processRun
		serverWork
	}
	var all []measured
	run := func(stage, label string) measured {
		before := readServerWork(b, wh)
		pr := runTessera(b, bin, env, asOf, stage, label)
		m := measured{stage, label, pr, readServerWork(b, wh).minus(before)}
		all = append(all, m)
		return m
	}
	stages := []string{"extract", "features", "score", "publish"}
	one := map[string]measured{}
	for _, stage := range stages {
		if stage == "extract" { // and the merges its inserts cause
			before := readServerWork(b, wh)
			pr := runTessera(b, bin, env, asOf, stage, "-")
			awaitMerges(b, wh)
			one[stage] = measured{stage, "-", pr, readServerWork(b, wh).minus(before)}
			all = append(all, one[stage])
			continue
		}
		one[stage] = run(stage, "-")
		if stage == "features" {
			run("train", "-")
		}
	}
	onePublished := publishedChecksums(b, wh, asOf)
	pods := map[string][]measured{}
	together := map[string]serverWork{}
	var ref contention
	// atOnce runs a stage's pods at once, as an Indexed Job starts them.
	atOnce := func(stage string, env []string, after func()) {
		before := readServerWork(b, wh)
		runs := podsAtOnce(b, bin, env, asOf, stage, shards)
		after()
		together[stage] = readServerWork(b, wh).minus(before)
		all = append(all, measured{stage, "all at once", processRun{}, together[stage]})
		for i := shards - 1; i >= 0; i-- {
			m := measured{Stage: stage, Shard: fmt.Sprintf("%d/%d", i, shards), processRun: runs[i]}
			pods[stage] = append(pods[stage], m)
			all = append(all, m)
		}
	}
	for _, stage := range stages {
		switch stage {
		case "extract": // into a database of their own, compared with one process's
			podsCfg, podsWH := testClickHouse(b)
			podsEnv := append(slices.Clone(env), "TESSERA_CLICKHOUSE_DATABASE="+podsCfg.ClickHouse.Database, "TESSERA_SHARD_JOB=work-extract")
			atOnce(stage, podsEnv, func() { awaitMerges(b, wh) })
			if got, want := landedChecksums(b, podsWH), landedChecksums(b, wh); got != want {
				b.Errorf("the extract pods landed other rows than one process:\n%s\none process:\n%s", got, want)
			} else {
				b.Logf("the extract pods landed what one process landed (rows and checksum of each raw table, rejected_rows and identities):\n%s", got)
			}
			podsWH.Exec(ctx, "DROP DATABASE IF EXISTS {db}") // its disk, for the stages after
		case "features", "publish":
			atOnce(stage, env, func() {})
			if stage == "features" {
				ref = measureContention(b, cfg.ClickHouse.Addr, wh, shards)
			}
		default:
			for i := shards - 1; i >= 0; i-- {
				pods[stage] = append(pods[stage], run(stage, fmt.Sprintf("%d/%d", i, shards)))
			}
		}
	}
	var lines []string
	row := func(stage, run string, w *serverWork, p processRun) string {
		server := fmt.Sprintf("%9s %12s %8s", "-", "-", "-")
		if w != nil {
			server = fmt.Sprintf("%9d %12.1f %8.2f", w.Marks, float64(w.ReadBytes)/(1<<20), w.CPUSeconds)
		}
		return fmt.Sprintf("%-8s %-12s %s %7.2f %9.2f %9.0f", stage, run, server, p.Seconds, p.OwnCPUSeconds, p.PeakMiB)
	}
	lines = append(lines, fmt.Sprintf("%-8s %-12s %9s %12s %8s %7s %9s %9s", "stage", "run", "marks", "read MiB", "CPU s", "wall s", "own CPU s", "peak MiB"))
	for _, stage := range stages {
		o := one[stage]
		lines = append(lines, row(stage, "one process", &o.serverWork, o.processRun))
		var sum serverWork
		slowest, busiest := 0.0, 0.0
		for _, p := range pods[stage] {
			if w, atOnce := together[stage]; atOnce {
				lines = append(lines, row("", "pod "+p.Shard, nil, p.processRun))
				sum = w
			} else {
				lines = append(lines, row("", "pod "+p.Shard, &p.serverWork, p.processRun))
				sum.Marks += p.Marks
				sum.ReadBytes += p.ReadBytes
				sum.CPUSeconds += p.serverWork.CPUSeconds
			}
			slowest, busiest = max(slowest, p.Seconds), max(busiest, p.OwnCPUSeconds)
		}
		lines = append(lines, fmt.Sprintf("%-8s %-12s %8.2fx %11.2fx %7.2fx %6.2fx %8.2fx  (pods together against one process; wall and own CPU: the slowest pod's)",
			"", "ratio", float64(sum.Marks)/float64(max(1, o.Marks)), float64(sum.ReadBytes)/float64(max(1, o.ReadBytes)),
			sum.CPUSeconds/o.serverWork.CPUSeconds, slowest/o.Seconds, busiest/o.OwnCPUSeconds))
	}
	refRow := func(run string, w serverWork) string {
		return fmt.Sprintf("%-8s %-12s %9d %12.1f %8.2f", "", run, w.Marks, float64(w.ReadBytes)/(1<<20), w.CPUSeconds)
	}
	lines = append(lines, "reference: the site events read as features reads them, by clickhouse-client (the rows discarded)",
		refRow("whole", ref.Whole), refRow("in slices", ref.OneAfterAnother), refRow("at once", ref.AtOnce),
		fmt.Sprintf("%-8s %-12s %8.2fx %11.2fx %7.2fx  (the slices one after another, then at once, against the whole)", "", "ratio",
			float64(ref.OneAfterAnother.Marks)/float64(max(1, ref.Whole.Marks)), float64(ref.OneAfterAnother.ReadBytes)/float64(max(1, ref.Whole.ReadBytes)),
			ref.OneAfterAnother.CPUSeconds/ref.Whole.CPUSeconds),
		fmt.Sprintf("%-8s %-12s %8.2fx %11.2fx %7.2fx", "", "",
			float64(ref.AtOnce.Marks)/float64(max(1, ref.Whole.Marks)), float64(ref.AtOnce.ReadBytes)/float64(max(1, ref.Whole.ReadBytes)),
			ref.AtOnce.CPUSeconds/ref.Whole.CPUSeconds))
	for _, r := range []struct {
		name string
		w    serverWork
	}{{"whole", ref.Whole}, {"in slices", ref.OneAfterAnother}, {"slices at once", ref.AtOnce}} {
		all = append(all, measured{Stage: "reference: site events read", Shard: r.name, serverWork: r.w})
	}
	b.Logf("%d customers; one process, then %d pods (extract, features and publish: at once, the counters the Job's, extract's with the merges after it; score one at a time):\n%s", n, shards, strings.Join(lines, "\n"))
	if podsPublished := publishedChecksums(b, wh, asOf); podsPublished != onePublished {
		b.Errorf("the pods published other tables than one process:\n%s\none process:\n%s", podsPublished, onePublished)
	} else {
		b.Logf("the pods published what one process published (rows and checksum of every column but run and model ids):\n%s", podsPublished)
	}
	if path := os.Getenv("TESSERA_BENCH_OUT"); path != "" {
		out, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// landedChecksums is what an extract left in wh's database
// (servicetest.LandedQueries).
func landedChecksums(b *testing.B, wh *clickhouse.DB) string {
	b.Helper()
	var lines []string
	for _, l := range servicetest.LandedQueries("{db}") {
		var rows, sum uint64
		queryRow(b, wh, l.Query, &rows, &sum)
		lines = append(lines, fmt.Sprintf("%-20s %9d %20d", l.Table, rows, sum))
	}
	return strings.Join(lines, "\n")
}

// publishedChecksums are the rows and a checksum of every column but the
// run's and models' ids (they differ between runs of the same inputs) of
// customer_features and each published table for the date, summed by the
// server, as scripts/checksums.sh prints them.
func publishedChecksums(b *testing.B, wh *clickhouse.DB, asOf string) string {
	b.Helper()
	var lines []string
	tables := []string{warehouse.CustomerFeatures.Name}
	for _, t := range warehouse.Published {
		tables = append(tables, t.Name)
	}
	for _, t := range tables {
		cols := queryStrings(b, wh, fmt.Sprintf("SELECT name FROM system.columns WHERE database = '{db}' AND table = '%s' AND name NOT IN ('run_id', 'model_id', 'early_vip_model_id')", t))
		var rows, sum uint64
		queryRow(b, wh, fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM {db}.%s WHERE as_of = '%s'", strings.Join(cols, ", "), t, asOf), &rows, &sum)
		lines = append(lines, fmt.Sprintf("%-18s %9d %20d", t, rows, sum))
	}
	return strings.Join(lines, "\n")
}

// contention is a reference for the server CPU of pods run at once, apart
// from the pods: the largest read of features (the site events, FINAL, as
// the pods read them) once whole, then in the pods' slices one after another
// and at once, each by clickhouse-client discarding the rows. On a machine
// with fewer cores than the queries at once (this one has 2), the same rows
// read at once cost the server more CPU than one after another.
type contention struct{ Whole, OneAfterAnother, AtOnce serverWork }

func measureContention(b *testing.B, addr string, wh *clickhouse.DB, shards int) contention {
	b.Helper()
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		b.Fatal("no clickhouse-client: scripts/services.sh up installs it")
	}
	host, port, _ := strings.Cut(addr, ":")
	read := func(s warehouse.Slice) {
		q := "SELECT customer_id, ts, session_id, type FROM " + wh.Database() + ".raw_events FINAL WHERE customer_id != ''"
		if !s.Whole() {
			q += " AND " + s.Filter("customer_id")
		}
		if out, err := exec.Command(client, "--host", host, "--port", port, "--query", q+" FORMAT Null").CombinedOutput(); err != nil {
			b.Fatalf("clickhouse-client reading %s: %v\n%s", q, err, out)
		}
	}
	measure := func(fn func()) serverWork {
		before := readServerWork(b, wh)
		fn()
		return readServerWork(b, wh).minus(before)
	}
	var c contention
	c.Whole = measure(func() { read(warehouse.Slice{}) })
	c.OneAfterAnother = measure(func() {
		for i := range shards {
			read(warehouse.Slice{Index: i, Of: shards})
		}
	})
	c.AtOnce = measure(func() {
		var wg sync.WaitGroup
		for i := range shards {
			wg.Go(func() { read(warehouse.Slice{Index: i, Of: shards}) })
		}
		wg.Wait()
	})
	return c
}
