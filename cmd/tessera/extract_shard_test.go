package main

import (
	"context"
	"encoding/csv"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/servicetest"
)

// landed is what an extract leaves in db (servicetest.LandedQueries).
func landed(t *testing.T, conn driver.Conn, db string) string {
	t.Helper()
	var out []string
	for _, l := range servicetest.LandedQueries(db) {
		var n, h uint64
		if err := conn.QueryRow(context.Background(), l.Query).Scan(&n, &h); err != nil {
			t.Fatalf("%s: %v", l.Query, err)
		}
		out = append(out, fmt.Sprintf("%s %d %x", l.Table, n, h))
	}
	return strings.Join(out, "\n")
}

// TestExtractShards: extract as the 4 pods of an Indexed Job (--shard I/4,
// the Job's name in TESSERA_SHARD_JOB, the run lock at its default) lands
// exactly what one process lands from a shop with bad rows in every entity:
// the raw tables, rejected_rows and identities. Each pod lands about a
// quarter of each sharded entity, and the pods' counts add up to one
// process's (read = landed + rejected + blank in each). Then one pod is
// killed with SIGKILL at a random point and run again, as the Job restarts
// it (a pod other than 0, then pod 0): the same rows again, and pod 0 does
// not end while another pod is down.
func TestExtractShards(t *testing.T) {
	s := newCLIShop(t, 3000, "--bad-rows", "0.02")
	trackerShaped(t, filepath.Join(s.shop, "events.csv"))
	const asOf = "2026-11-01"
	ref := s.db(t, "tessera_xref_")
	if b, err := s.command(t, ref, nil, "extract", "--as-of", asOf).CombinedOutput(); err != nil {
		t.Fatalf("one process: %v\n%s", err, b)
	}
	want := landed(t, s.conn, ref)
	wantCounts := extractCounts(t, s.conn, ref, "")

	// trial runs the Job's pods into a database of their own; with victim ≥
	// 0 that pod is killed after after(victim) and run again.
	trial := func(name string, victim int, after func(i int) time.Duration) (took []time.Duration, killed bool) {
		db := s.db(t, "tessera_xshards_")
		pod := func(i int) *exec.Cmd {
			return s.command(t, db, []string{"TESSERA_SHARD_JOB=" + name}, "extract", "--as-of", asOf, "--shard", fmt.Sprintf("%d/4", i))
		}
		took, killed = runPods(t, name, 4, pod, victim, after, func([]*exec.Cmd) {})
		if victim >= 0 && !killed {
			return nil, false
		}
		if victim > 0 && took[0] < took[victim] { // pod 0 waits for every pod
			t.Errorf("%s: pod 0 ended after %s, before pod %d run again ended (%s)", name, took[0], victim, took[victim])
		}
		if got := landed(t, s.conn, db); got != want {
			t.Errorf("%s: 4 pods landed\n%s\none process lands\n%s", name, got, want)
		}
		if victim < 0 {
			if got := extractCounts(t, s.conn, db, name); got != wantCounts {
				t.Errorf("%s: the pods counted\n%s\none process counts\n%s", name, got, wantCounts)
			}
			shares(t, s.conn, db)
		}
		return took, killed
	}
	took, _ := trial("xshards-whole", -1, nil)
	t.Logf("4 pods uninterrupted, each done after %v", took)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := mrand.New(mrand.NewPCG(uint64(seed), uint64(seed>>32)))
	// A pod other than 0 (pod 0 waits for it), then pod 0.
	for _, victim := range []int{1 + r.IntN(3), 0} {
		scale := 1.0
		at := func(i int) time.Duration { return time.Duration(scale * (0.1 + 0.85*r.Float64()) * float64(took[i])) }
		for attempt := 1; ; attempt++ {
			if _, killed := trial(fmt.Sprintf("xshards-kill-%d-%d", victim, attempt), victim, at); killed {
				break
			}
			if attempt == 5 {
				t.Fatalf("pod %d was done before it was killed 5 times", victim)
			}
			scale /= 2
		}
	}
}

// trackerShaped makes a generated events file look like a site tracker's
// export: in time order, the device's anonymous_id on every event of a
// customer seen anonymously before registering, and a third of their
// events after that logged out (no customer_id). A visitor's events then
// follow the login that links the device to its customer, and take that
// customer as one process reads them; the generator writes one customer
// after another and never links a device.
func trackerShaped(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	body := lines[1:]
	devices := map[string]bool{} // customer numbers seen anonymously
	for _, l := range body {
		if f := strings.Split(l, ","); len(f) == 8 && f[2] == "" && strings.HasPrefix(f[3], "A") {
			devices[f[3][1:]] = true
		}
	}
	linked, loggedOut := 0, 0
	for i, l := range body {
		f := strings.Split(l, ",")
		if len(f) != 8 || !strings.HasPrefix(f[2], "C") || !devices[f[2][1:]] {
			continue
		}
		f[3] = "A" + f[2][1:]
		if n := f[0][strings.LastIndexByte(f[0], '-')+1:]; n != "" && (n[len(n)-1]-'0')%3 == 0 {
			f[2] = ""
			loggedOut++
		} else {
			linked++
		}
		body[i] = strings.Join(f, ",")
	}
	if linked == 0 || loggedOut == 0 {
		t.Fatalf("%d events logged in and %d logged out on a known device", linked, loggedOut)
	}
	ts := func(l string) string { // the second field; a record of the generator is a line
		if f := strings.SplitN(l, ",", 3); len(f) > 1 {
			return f[1]
		}
		return ""
	}
	slices.SortStableFunc(body, func(a, b string) int { return strings.Compare(ts(a), ts(b)) })
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// extractCounts sums the rows read, landed, rejected and blank of the
// successful extract runs of a database (of job's pods when job is set),
// failing when a run's read is not landed + rejected + blank.
func extractCounts(t *testing.T, conn driver.Conn, db, job string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(`SELECT rows_read, rows_landed, rows_rejected, rows_blank, visitParamExtractString(detail, 'job')
FROM %s.runs WHERE stage = 'extract' AND status = 'ok'`, db))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var read, land, rej, blank, runs uint64
	for rows.Next() {
		var r, l, j, b uint64
		var jb string
		if err := rows.Scan(&r, &l, &j, &b, &jb); err != nil {
			t.Fatal(err)
		}
		if jb != job {
			t.Errorf("an extract run of job %q, want %q", jb, job)
		}
		if r != l+j+b {
			t.Errorf("an extract run read %d rows, landed %d, rejected %d, skipped %d blank", r, l, j, b)
		}
		read, land, rej, blank, runs = read+r, land+l, rej+j, blank+b, runs+1
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := uint64(4)
	if job == "" {
		want = 1
	}
	if runs != want {
		t.Errorf("%d extract runs of job %q, want %d", runs, job, want)
	}
	return fmt.Sprintf("read %d landed %d rejected %d blank %d", read, land, rej, blank)
}

// shares checks that the pods divide the work: each landed between a sixth
// and a third of the rows of every entity split by owner.
func shares(t *testing.T, conn driver.Conn, db string) {
	t.Helper()
	for _, e := range []canon.Entity{canon.Orders, canon.OrderLines, canon.Events, canon.CampaignEvents} {
		rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT count() / (SELECT count() FROM %[1]s.raw_%[2]s) FROM %[1]s.raw_%[2]s GROUP BY run_id", db, e))
		if err != nil {
			t.Fatal(err)
		}
		var got []float64
		for rows.Next() {
			var f float64
			if err := rows.Scan(&f); err != nil {
				t.Fatal(err)
			}
			got = append(got, f)
		}
		rows.Close()
		if len(got) != 4 {
			t.Errorf("%s: landed by %d runs, want 4 pods", e, len(got))
		}
		for _, f := range got {
			if f < 1.0/6 || f > 1.0/3 {
				t.Errorf("%s: a pod landed %.3f of the rows, want about a quarter: %v", e, f, got)
			}
		}
	}
}

// TestExtractShardsMovedOrders: orders whose customer changed since the
// last extract (every 40th moved to another customer, half with a newer
// version, half without their lines in the new export) land from the 4 pods
// of an Indexed Job exactly as from one process: the live rows, and the
// tombstones of the old rows and lines. The moved orders are settled once
// for the Job, by pod 0 after every pod has landed, not once by each pod
// (each settle reads the whole of raw_orders twice): the server's query log
// counts one settle for the pods' run.
func TestExtractShardsMovedOrders(t *testing.T) {
	s := newCLIShop(t, 3000)
	const asOf = "2026-11-01"
	movedShop, moved := moveOrders(t, s.shop)
	second := []string{"TESSERA_SOURCE_FILES_DIR=" + movedShop}
	extract := func(db string, env []string) {
		if b, err := s.command(t, db, env, "extract", "--as-of", asOf).CombinedOutput(); err != nil {
			t.Fatalf("one process: %v\n%s", err, b)
		}
	}
	ref := s.db(t, "tessera_xmref_")
	extract(ref, nil)
	extract(ref, second)
	db := s.db(t, "tessera_xmshards_")
	extract(db, nil)
	before := settles(t, s.conn, db)
	pod := func(i int) *exec.Cmd {
		return s.command(t, db, append([]string{"TESSERA_SHARD_JOB=xmoved"}, second...), "extract", "--as-of", asOf, "--shard", fmt.Sprintf("%d/4", i))
	}
	runPods(t, "xmoved", 4, pod, -1, nil, func([]*exec.Cmd) {})
	if n := settles(t, s.conn, db) - before; n != 1 {
		t.Errorf("the 4 pods settled moved orders %d times, want once", n)
	}
	if got, want := landed(t, s.conn, db), landed(t, s.conn, ref); got != want {
		t.Errorf("4 pods landed\n%s\none process lands\n%s", got, want)
	}
	got, want := tombstones(t, s.conn, db), tombstones(t, s.conn, ref)
	if got != want {
		t.Errorf("4 pods left tombstones\n%s\none process leaves\n%s", got, want)
	}
	if !strings.HasPrefix(want, fmt.Sprintf("raw_orders %d ", moved)) {
		t.Errorf("one process left tombstones\n%s\nwant one for each of the %d orders moved", want, moved)
	}
}

// moveOrders copies the shop to a directory of its own and moves every
// 40th order to the customer of the order 7 rows on, as a source's
// correction does: half with a newer version (updated_at), half dropping the
// order's lines from the export. It returns the directory and the orders
// moved.
func moveOrders(t *testing.T, shop string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(shop)); err != nil {
		t.Fatal(err)
	}
	orders := readCSVFile(t, filepath.Join(dir, "orders.csv"))
	col := func(name string) int {
		i := slices.Index(orders[0], name)
		if i < 0 {
			t.Fatalf("orders.csv has no %s", name)
		}
		return i
	}
	id, cust, upd := col("order_id"), col("customer_id"), col("updated_at")
	moved, dropLines := 0, map[string]bool{}
	for i := 1; i+7 < len(orders); i += 40 {
		o := orders[i]
		if orders[i+7][cust] == o[cust] {
			continue
		}
		o[cust] = orders[i+7][cust]
		moved++
		if moved%2 == 0 {
			u, err := time.Parse(time.DateTime, o[upd])
			if err != nil {
				t.Fatal(err)
			}
			o[upd] = u.Add(time.Hour).Format(time.DateTime)
		}
		if moved%4 < 2 {
			dropLines[o[id]] = true
		}
	}
	if moved < 50 {
		t.Fatalf("moved %d orders: too few to tell", moved)
	}
	writeCSVFile(t, filepath.Join(dir, "orders.csv"), orders)
	lines := readCSVFile(t, filepath.Join(dir, "order_lines.csv"))
	kept := lines[:1]
	for _, l := range lines[1:] {
		if !dropLines[l[0]] {
			kept = append(kept, l)
		}
	}
	writeCSVFile(t, filepath.Join(dir, "order_lines.csv"), kept)
	return dir, moved
}

func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func writeCSVFile(t *testing.T, path string, recs [][]string) {
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

// tombstones counts the rows of orders and lines marked deleted in db, with
// a sum of their hashes.
func tombstones(t *testing.T, conn driver.Conn, db string) string {
	t.Helper()
	var out []string
	for _, q := range []struct{ table, cols string }{
		{"raw_orders", "order_id, customer_hash"},
		{"raw_order_lines", "order_id, line_no, customer_hash"},
	} {
		var n, h uint64
		if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM %s.%s FINAL WHERE _deleted = 1", q.cols, db, q.table)).Scan(&n, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %x", q.table, n, h))
	}
	return strings.Join(out, "\n")
}

// settles counts the settles of moved orders the server logged for db (the
// query that finds the orders held under two customers; not this count).
func settles(t *testing.T, conn driver.Conn, db string) uint64 {
	t.Helper()
	ctx := context.Background()
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.query_log
WHERE type = 2 AND position(query, ?) > 0 AND position(query, 'groupArray(customer_hash)') > 0 AND position(query, 'system.query_log') = 0`, db+".raw_orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no settle of %s in system.query_log: is log_queries on?", db)
	}
	return n
}
