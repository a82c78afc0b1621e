package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// testCluster returns a config pointing at the loopback ClickHouse cluster
// with a fresh database, and the warehouse, migrated; both databases (the
// Distributed tables' and the replicated tables') are dropped on every
// server when the test ends.
func testCluster(t testing.TB) (config.Config, *clickhouse.DB) {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	cfg := config.Default()
	cfg.ClickHouse.Addr = servicetest.ClickHouseCluster(t)
	cfg.ClickHouse.Cluster = servicetest.Cluster
	cfg.ClickHouse.Database = "tessera_cluster_" + hex.EncodeToString(b[:])
	cfg.DataDir = t.TempDir()
	ctx := context.Background()
	wh, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatalf("the ClickHouse cluster at %s: %v (start it with scripts/services.sh up, as make test does)", cfg.ClickHouse.Addr, err)
	}
	t.Cleanup(func() {
		for _, db := range []string{"{db}", "{db}_local"} {
			wh.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" ON CLUSTER "+servicetest.Cluster)
		}
		wh.Exec(context.Background(), "DROP DATABASE IF EXISTS {db}_schema")
		wh.Close()
	})
	if _, err := wh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return cfg, wh
}

// TestCluster: on the loopback cluster (two shards with replicated tables,
// Distributed tables in front), the pipeline publishes what it publishes on
// one server, every table's rows spread over both shards; run again split
// over 4 pods, it publishes the same again.
func TestCluster(t *testing.T) {
	one, _ := testClickHouse(t)
	cl, clWH := testCluster(t)
	dir, _ := generateShop(t, 3000, 0, "csv")
	ctx := context.Background()
	for _, cfg := range []*config.Config{&one, &cl} {
		cfg.Source.Files.Dir = dir
		cfg.Kube.Wait = 2 * time.Minute
		if err := runStages(ctx, *cfg, asOf, nil, testLogger(t)); err != nil {
			t.Fatalf("%s: %v", cfg.ClickHouse.Database, err)
		}
	}
	want, err := publishedSums(one, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := publishedSums(cl, asOf); err != nil || got != want {
		t.Errorf("the cluster published\n%s(%v)\none server\n%s", got, err, want)
	}
	features := featureRows(t, one)
	sameFeatures := func(what string) {
		t.Helper()
		got, differ := featureRows(t, cl), 0
		for id, row := range features {
			if got[id] != row {
				if differ++; differ <= 3 {
					t.Errorf("%s: customer %s's features:\n%s\none server's\n%s", what, id, got[id], row)
				}
			}
		}
		if differ > 0 || len(got) != len(features) {
			t.Errorf("%s: %d customers' features, %d differ from one server's %d", what, len(got), differ, len(features))
		}
	}
	sameFeatures("the cluster")
	for _, table := range []string{"raw_orders", "customer_scores", "segment_members"} {
		perShard := queryStrings(t, clWH, fmt.Sprintf("SELECT toString(count()) FROM remote('127.0.0.1:19110', {db}_local.%[1]s) UNION ALL SELECT toString(count()) FROM remote('127.0.0.1:19120', {db}_local.%[1]s)", table))
		if len(perShard) != 2 || perShard[0] == "0" || perShard[1] == "0" {
			t.Errorf("%s: rows per shard %v, want both shards to hold some", table, perShard)
		}
	}
	// How long readers may see two nights at once: a table's swap on both shards.
	start := time.Now()
	if err := clWH.Swap(ctx, "customer_scores", asOf); err != nil {
		t.Fatal(err)
	}
	t.Logf("customer_scores swapped on both shards in %s", time.Since(start).Round(time.Microsecond))
	runShards(t, cl, asOf, []string{"features", "score", "publish"}, 4, "cluster-test")
	sameFeatures("4 shards on the cluster")
	if got, err := publishedSums(cl, asOf); err != nil || got != want {
		t.Errorf("4 shards on the cluster published\n%s(%v)\none process on one server\n%s", got, err, want)
	}
}
