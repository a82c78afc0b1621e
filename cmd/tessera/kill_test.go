package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
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
	ch := servicetest.ClickHouse(t)
	shop := t.TempDir()
	var out bytes.Buffer
	if code := run([]string{"generate", "--customers", "3000", "--out", shop}, &out, &out); code != 0 {
		t.Fatalf("generate: %s", out.String())
	}
	const asOf = "2026-11-01"
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b [3]byte
	rand.Read(b[:])
	ref, killed := "tessera_ref_"+hex.EncodeToString(b[:]), "tessera_kill_"+hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ref)
		conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+killed)
	})
	tessera := func(db string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run", "--as-of", asOf)
		cmd.Env = append(os.Environ(), "TESSERA_TEST_RUN_MAIN=1", "TESSERA_CLICKHOUSE_ADDR="+ch, "TESSERA_CLICKHOUSE_DATABASE="+db,
			"TESSERA_SOURCE_FILES_DIR="+shop, "TESSERA_DATA_DIR="+t.TempDir(), "TESSERA_LOG_LEVEL=warn",
			// A killed run's lock lapses only after lease_seconds; the lock has tests of its own.
			"TESSERA_KUBE_LOCK=off")
		return cmd
	}
	start := time.Now()
	if b, err := tessera(ref).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	whole := time.Since(start)
	want := published(t, conn, ref, asOf)
	t.Logf("an uninterrupted run in %s publishes:\n%s", whole.Round(time.Millisecond), want)

	r := mrand.New(mrand.NewPCG(uint64(b[0]), uint64(b[1])))
	for trial := 1; trial <= 10; trial++ {
		cmd := tessera(killed)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		after := time.Duration(r.Float64() * float64(whole))
		time.Sleep(after)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		t.Logf("trial %d: killed after %s (%v)", trial, after.Round(time.Millisecond), err)
	}
	if b, err := tessera(killed).CombinedOutput(); err != nil {
		t.Fatalf("the run after the kills: %v\n%s", err, b)
	}
	if got := published(t, conn, killed, asOf); got != want {
		t.Errorf("after ten kills and a run:\n%s\nan uninterrupted run:\n%s", got, want)
	}
}
