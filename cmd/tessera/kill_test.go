package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/tessera-cdp/tessera/export"
	"github.com/tessera-cdp/tessera/servicetest"
)

// publishedTables are checked after the trials: count, distinct keys and an
// order-independent sum of hashes of what analysts and marketing read.
var publishedTables = []struct{ table, key, cols string }{
	{"customer_scores", "customer_id", "customer_id, frequency, p_alive, clv_12m, next_order_in_days, rfm_code, rfm_segment, lifecycle_stage, vip_tier, potential_vip_probability, strategy, action, micro_segment, product_feed"},
	{"segments", "segment_id", "segment_id, label, size, revenue_12m, mean_clv, strategy"},
	{"segment_members", "customer_id", "segment_id, customer_id, strategy, product_feed, control_group"},
	{"segment_feed", "(segment_id, rank)", "segment_id, rank, product_id, lift"},
	{"customer_features", "customer_id", "customer_id, orders, revenue, last_gap_days"},
}

func published(t *testing.T, conn driver.Conn, db, asOf string) string {
	t.Helper()
	var out []string
	for _, p := range publishedTables {
		var n, keys, sum uint64
		q := fmt.Sprintf("SELECT count(), uniqExact(%s), sum(cityHash64(%s)) FROM %s.%s WHERE as_of = toDate(?)", p.key, p.cols, db, p.table)
		if err := conn.QueryRow(context.Background(), q, asOf).Scan(&n, &keys, &sum); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != keys {
			t.Errorf("%s: %d rows for %d keys: duplicates", p.table, n, keys)
		}
		out = append(out, fmt.Sprintf("%s %d %x", p.table, n, sum))
	}
	return strings.Join(out, "\n")
}

// TestKilledAndRerun: the whole pipeline killed with SIGKILL at random points
// in ten trials, then run once more: the published tables equal those of an
// uninterrupted run (row counts and content checksums in ClickHouse), with no
// duplicates.
func TestKilledAndRerun(t *testing.T) {
	s := newCLIShop(t, 3000)
	const asOf = "2026-11-01"
	conn := s.conn
	ref, killed := s.db(t, "tessera_ref_"), s.db(t, "tessera_kill_")
	// The lock is on: a killed run's claim lapses after lease_seconds, which
	// each next run waits for; at its minimum, so that ten kills cost
	// 2.5 minutes rather than 10.
	command := func(db string, args ...string) *exec.Cmd {
		return s.command(t, db, []string{"TESSERA_KUBE_LEASE_SECONDS=15"}, args...)
	}
	tessera := func(db string) *exec.Cmd { return command(db, "run", "--as-of", asOf) }
	start := time.Now()
	if b, err := tessera(ref).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	whole := time.Since(start)
	want := published(t, conn, ref, asOf)
	t.Logf("an uninterrupted run in %s publishes:\n%s", whole.Round(time.Millisecond), want)

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := mrand.New(mrand.NewPCG(uint64(seed), uint64(seed>>32)))
	for trial := 1; trial <= 10; trial++ {
		// Killed at a random point of its work: after it took the lock (the
		// claim of the run killed before lapses first).
		cmd := command(killed, "run", "--as-of", asOf)
		cmd.Env = append(cmd.Env, "TESSERA_LOG_LEVEL=info")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		locked := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			sc.Buffer(nil, 1<<20)
			once := false
			for sc.Scan() {
				if !once && strings.Contains(sc.Text(), "run lock taken") {
					close(locked)
					once = true
				}
			}
		}()
		waited := time.Now()
		select {
		case <-locked:
		case <-time.After(time.Minute):
			t.Fatalf("trial %d: no lock taken in a minute", trial)
		}
		after := time.Duration(r.Float64() * float64(whole))
		time.Sleep(after)
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		t.Logf("trial %d: the lock taken after %s, killed %s later (%v)", trial, time.Since(waited).Round(time.Millisecond)-after.Round(time.Millisecond), after.Round(time.Millisecond), err)
		dir := t.TempDir() + "/export"
		exportWhole(t, conn, killed, asOf, dir, command(killed, "export", "--as-of", asOf, "--out", dir))
	}
	if b, err := tessera(killed).CombinedOutput(); err != nil {
		t.Fatalf("the run after the kills: %v\n%s", err, b)
	}
	if got := published(t, conn, killed, asOf); got != want {
		t.Errorf("after ten kills and a run:\n%s\nan uninterrupted run:\n%s", got, want)
	}
}

// exportWhole runs export after a kill: it fails (nothing, or not all of the
// date, is published), or it delivers the members of the run the date's
// publication names, as many as were published: never part of a night.
func exportWhole(t *testing.T, conn driver.Conn, db, asOf, dir string, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return // exit 1: it says why
	}
	var exported, published, recorded uint64
	q := fmt.Sprintf(`SELECT (SELECT count() FROM %[1]s.segment_members WHERE as_of = toDate(?) AND run_id = (SELECT score_run FROM %[1]s.published_runs WHERE as_of = toDate(?))),
    (SELECT visitParamExtractUInt(any(rows), 'segment_members') FROM %[1]s.publications WHERE as_of = toDate(?) AND version = (SELECT max(version) FROM %[1]s.publications WHERE as_of = toDate(?)))`, db)
	if err := conn.QueryRow(context.Background(), q, asOf, asOf, asOf, asOf).Scan(&published, &recorded); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var m export.Manifest
	b, err := os.ReadFile(dir + "/manifest.json")
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatalf("export exited 0 without a manifest: %v", err)
	}
	for _, f := range m.Files {
		if f.Kind == "segment" {
			exported += f.Rows
		}
	}
	if published != recorded || exported != published {
		t.Errorf("export exited 0 with %d members; the publication says %d, the table holds %d of its run:\n%s", exported, recorded, published, out)
	}
}

// TestConcurrentProcesses: three `tessera run` processes for one date at
// once, with no Kubernetes (kube.lock auto takes the warehouse's lock): one
// proceeds, the others exit 1 naming the holder, and the night published is
// what one run publishes.
func TestConcurrentProcesses(t *testing.T) {
	s := newCLIShop(t, 2000)
	const asOf = "2026-11-01"
	conn := s.conn
	ref, db := s.db(t, "tessera_ref_"), s.db(t, "tessera_race_")
	command := func(db string, args ...string) *exec.Cmd {
		return s.command(t, db, []string{"TESSERA_LOG_FORMAT=text", "TESSERA_KUBE_WAIT=0s", "KUBERNETES_SERVICE_HOST="}, args...)
	}
	if b, err := command(ref, "run", "--as-of", asOf).CombinedOutput(); err != nil {
		t.Fatalf("a run alone: %v\n%s", err, b)
	}
	want := published(t, conn, ref, asOf)
	// Migrated first, as the chart's migration hook does.
	if b, err := command(db, "migrate").CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, b)
	}
	cmds := make([]*exec.Cmd, 3)
	outs := make([]bytes.Buffer, 3)
	for i := range cmds {
		cmds[i] = command(db, "run", "--as-of", asOf)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	ok := 0
	for i, cmd := range cmds {
		err := cmd.Wait()
		switch {
		case err == nil:
			ok++
		case cmd.ProcessState.ExitCode() != 1 || !strings.Contains(outs[i].String(), "held by"):
			t.Errorf("run %d: %v, want exit 1 naming the holder:\n%s", i, err, outs[i].String())
		}
	}
	if ok != 1 {
		for i := range outs {
			t.Logf("run %d:\n%s", i, outs[i].String())
		}
		t.Errorf("%d of 3 concurrent runs completed, want 1", ok)
	}
	if got := published(t, conn, db, asOf); got != want {
		t.Errorf("three concurrent runs published\n%s\none run publishes\n%s", got, want)
	}
}

// cliShop is a generated shop and the test ClickHouse, for tests that run
// the binary as a process.
type cliShop struct {
	ch, shop string
	conn     driver.Conn
}

// newCLIShop generates a shop of customers; more are generate's flags
// (--bad-rows).
func newCLIShop(t *testing.T, customers int, more ...string) *cliShop {
	s := &cliShop{ch: servicetest.ClickHouse(t), shop: t.TempDir()}
	var out bytes.Buffer
	if code := run(append([]string{"generate", "--customers", fmt.Sprint(customers), "--out", s.shop}, more...), &out, &out); code != 0 {
		t.Fatalf("generate: %s", out.String())
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.ch}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s.conn = conn
	return s
}

// db names a database of the test's own, dropped when it ends.
func (s *cliShop) db(t *testing.T, prefix string) string {
	var b [3]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() { s.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	return name
}

// command runs this test binary as `tessera args...` on the shop, into db.
func (s *cliShop) command(t *testing.T, db string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "TESSERA_TEST_RUN_MAIN=1", "TESSERA_CLICKHOUSE_ADDR="+s.ch, "TESSERA_CLICKHOUSE_DATABASE="+db,
		"TESSERA_SOURCE_FILES_DIR="+s.shop, "TESSERA_DATA_DIR="+t.TempDir(), "TESSERA_LOG_LEVEL=warn"), env...)
	return cmd
}

// TestKilledShard: a date's features, score and publish split over the 4
// pods of an Indexed Job publish what one process publishes; then one pod is
// killed with SIGKILL at a random point of its work (a pod other than 0, then
// pod 0) and run again, as the Job restarts it. While it is down, nothing of
// the night is half-published (export delivers a whole night or fails), and
// once it is done the date holds exactly what one process publishes, with no
// duplicates and no part left half-written. On one server, then on the
// loopback cluster (one pod killed, whichever).
func TestKilledShard(t *testing.T) {
	s := newCLIShop(t, 3000)
	const asOf = "2026-11-01"
	ref := s.db(t, "tessera_ref_")
	if b, err := s.command(t, ref, nil, "run", "--as-of", asOf).CombinedOutput(); err != nil {
		t.Fatalf("one process: %v\n%s", err, b)
	}
	want := published(t, s.conn, ref, asOf)
	t.Run("one server", func(t *testing.T) {
		killShards(t, s, s.conn, nil, func(t *testing.T, prefix string) string { return s.db(t, prefix) }, want, []int{-1, 0})
	})
	t.Run("cluster", func(t *testing.T) {
		addr := servicetest.ClickHouseCluster(t)
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		newDB := func(t *testing.T, prefix string) string {
			var b [3]byte
			rand.Read(b[:])
			name := prefix + hex.EncodeToString(b[:])
			t.Cleanup(func() {
				for _, q := range []string{"DROP DATABASE IF EXISTS " + name + " ON CLUSTER " + servicetest.Cluster,
					"DROP DATABASE IF EXISTS " + name + "_local ON CLUSTER " + servicetest.Cluster, "DROP DATABASE IF EXISTS " + name + "_schema"} {
					conn.Exec(context.Background(), q)
				}
			})
			return name
		}
		env := []string{"TESSERA_CLICKHOUSE_ADDR=" + addr, "TESSERA_CLICKHOUSE_CLUSTER=" + servicetest.Cluster}
		killShards(t, s, conn, env, newDB, want, []int{-2})
	})
}

// runPods runs the n pods of a Job at once (pod makes pod i's command) and
// fails the test if one fails. With victim ≥ 0 that pod is killed with
// SIGKILL after after(victim); down runs while it is down (given every
// pod's command), then it runs
// again to its end, as the Job restarts it. took is when each pod ended
// (the victim: its second run);
// killed says whether the victim was still running when killed (if not,
// nothing more is done).
func runPods(t *testing.T, name string, n int, pod func(i int) *exec.Cmd, victim int, after func(i int) time.Duration, down func(cmds []*exec.Cmd)) (took []time.Duration, killed bool) {
	t.Helper()
	cmds, outs, errs := make([]*exec.Cmd, n), make([]bytes.Buffer, n), make([]error, n)
	took = make([]time.Duration, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cmds {
		cmds[i] = pod(i)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
		if i != victim {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = cmds[i].Wait()
				took[i] = time.Since(start)
			}()
		}
	}
	if victim >= 0 {
		wait := after(victim)
		time.Sleep(wait)
		cmds[victim].Process.Signal(syscall.SIGKILL)
		err := cmds[victim].Wait()
		t.Logf("%s: pod %d killed after %s (%v)", name, victim, wait.Round(time.Millisecond), err)
		if killed = err != nil; !killed {
			wg.Wait()
			return took, false
		}
		down(cmds)
		if b, err := pod(victim).CombinedOutput(); err != nil {
			t.Fatalf("%s: pod %d run again: %v\n%s", name, victim, err, b)
		}
		took[victim] = time.Since(start)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: pod %d: %v\n%s", name, i, err, outs[i].String())
		}
	}
	return took, killed
}

// killShards runs the trials of TestKilledShard against the warehouse conn
// reaches (env points the runs at it), in databases newDB makes: one
// uninterrupted, then one per victim (-1: a pod other than 0, -2: any pod).
func killShards(t *testing.T, s *cliShop, conn driver.Conn, env []string, newDB func(*testing.T, string) string, want string, victims []int) {
	const asOf = "2026-11-01"
	command := func(db string, more []string, args ...string) *exec.Cmd {
		return s.command(t, db, append(slices.Clone(env), more...), args...)
	}
	// Each trial: a database extracted and trained for the date, then the job.
	trial := func(name string, victim int, after func(i int) time.Duration) (took []time.Duration, killed bool) {
		db := newDB(t, "tessera_shards_")
		if b, err := command(db, nil, "run", "--as-of", asOf, "--stages", "extract,features,train").CombinedOutput(); err != nil {
			t.Fatalf("extract and train: %v\n%s", err, b)
		}
		shard := func(i int) *exec.Cmd {
			return command(db, []string{"TESSERA_SHARD_JOB=" + name}, "run", "--as-of", asOf, "--stages", "features,score,publish", "--shard", fmt.Sprintf("%d/4", i))
		}
		took, killed = runPods(t, name, 4, shard, victim, after, func([]*exec.Cmd) {
			dir := t.TempDir() + "/export"
			exportWhole(t, conn, db, asOf, dir, command(db, nil, "export", "--as-of", asOf, "--out", dir))
		})
		if victim >= 0 && !killed {
			return nil, false // done before it was killed: the caller tries earlier
		}
		if got := published(t, conn, db, asOf); got != want {
			t.Errorf("%s published\n%s\none process publishes\n%s", name, got, want)
		}
		var tmp uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.tables WHERE startsWith(database, ?) AND endsWith(name, '_tmp')", db).Scan(&tmp); err != nil || tmp != 0 {
			t.Errorf("%s: %d half-written parts left (%v)", name, tmp, err)
		}
		return took, killed
	}
	took, _ := trial("shards-whole", -1, nil)
	t.Logf("4 shards uninterrupted, each done after %v", took)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := mrand.New(mrand.NewPCG(uint64(seed), uint64(seed>>32)))
	// The process starts in about a tenth of its time; killed in the rest.
	// On a busy machine it may be done sooner: then it is killed earlier.
	for _, victim := range victims {
		switch victim {
		case -1:
			victim = 1 + r.IntN(3)
		case -2:
			victim = r.IntN(4)
		}
		scale := 1.0
		at := func(i int) time.Duration { return time.Duration(scale * (0.1 + 0.85*r.Float64()) * float64(took[i])) }
		for attempt := 1; ; attempt++ {
			if _, killed := trial(fmt.Sprintf("shards-kill-%d-%d", victim, attempt), victim, at); killed {
				break
			}
			if attempt == 5 {
				t.Fatalf("shard %d was done before it was killed 5 times", victim)
			}
			scale /= 2
		}
	}
}
