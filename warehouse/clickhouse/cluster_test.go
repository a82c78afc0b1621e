package clickhouse

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
)

func TestEngineClauses(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ReplicatedMergeTree('/clickhouse/tables/{shard}/d/t-1', '{replica}') PARTITION BY as_of ORDER BY customer_id", "MergeTree PARTITION BY as_of ORDER BY customer_id"},
		{"ReplicatedReplacingMergeTree('/p', '{replica}', _version) ORDER BY order_id", "ReplacingMergeTree(_version) ORDER BY order_id"},
		{"MergeTree ORDER BY x", "MergeTree ORDER BY x"},
	} {
		if got := unreplicated(c.in); got != c.want {
			t.Errorf("unreplicated(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"customer_id", "cityHash64(customer_id)"}, {"(as_of, customer_id)", "cityHash64(customer_id)"},
		{"(order_id, line_no)", "cityHash64(order_id)"}, {"tuple()", "rand()"}, {"", "rand()"},
	} {
		if got := shardingKey(c.in); got != c.want {
			t.Errorf("shardingKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, head, tail string }{
		{"ReplacingMergeTree(_version) ORDER BY order_id", "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/d/t-", "', '{replica}', _version) ORDER BY order_id"},
		{"MergeTree PARTITION BY as_of ORDER BY x", "ReplicatedMergeTree('/clickhouse/tables/{shard}/d/t-", "', '{replica}') PARTITION BY as_of ORDER BY x"},
	} {
		got, err := replicated(c.in, "d", "t")
		if err != nil || !strings.HasPrefix(got, c.head) || !strings.HasSuffix(got, c.tail) {
			t.Errorf("replicated(%q) = %q (%v)", c.in, got, err)
		}
	}
	if _, err := replicated("ReplicatedMergeTree('/p', 'r') ORDER BY x", "d", "t"); err == nil {
		t.Error("a replicated engine replicated again")
	}
}

// testCluster connects to the loopback cluster `make test` starts, in a
// database of its own (and its _local and _schema), dropped at the end.
func testCluster(t *testing.T) *DB {
	t.Helper()
	c := config.Default().ClickHouse
	c.Addr, c.Cluster = servicetest.ClickHouseCluster(t), servicetest.Cluster
	return openTest(t, c, "tessera_cluster_", "DROP DATABASE IF EXISTS {db} ON CLUSTER "+c.Cluster,
		"DROP DATABASE IF EXISTS {db}_local ON CLUSTER "+c.Cluster, "DROP DATABASE IF EXISTS {db}_schema")
}

// TestClusterMigrate: on the loopback cluster every table of the schema is a
// replicated table on both servers with a Distributed table (commented as the
// schema's columns are) in front, and every view is on both; migrating again
// changes nothing; a column the schema gains, a view it changes and a table
// it drops reach both servers.
func TestClusterMigrate(t *testing.T) {
	w := testCluster(t)
	ctx := context.Background()
	if _, err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(q string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := w.conn.QueryRow(ctx, strings.NewReplacer("{db}", w.db).Replace(q), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	onBoth := func(q string) [2]uint64 {
		t.Helper()
		var out [2]uint64
		for i, port := range []string{"19110", "19120"} {
			out[i] = count(strings.ReplaceAll(q, "{server}", "127.0.0.1:"+port))
		}
		return out
	}
	tables := count("SELECT count() FROM system.tables WHERE database = '{db}_schema' AND engine != 'View' AND name != 'cluster_synced'")
	views := count("SELECT count() FROM system.tables WHERE database = '{db}_schema' AND engine = 'View'")
	if tables < 25 || views < 5 {
		t.Fatalf("the schema has %d tables and %d views", tables, views)
	}
	// Every table and view of the cluster's databases, with its definition
	// (a replicated table made anew gets a new path) and time of change.
	state := func() [2]uint64 {
		t.Helper()
		return onBoth("SELECT sum(cityHash64(database, name, engine_full, create_table_query, toString(metadata_modification_time))) FROM remote('{server}', system.tables) WHERE database IN ('{db}', '{db}_local')")
	}
	for _, c := range []struct {
		what string
		q    string
		want uint64
	}{
		{"replicated tables", "SELECT count() FROM remote('{server}', system.tables) WHERE database = '{db}_local' AND engine LIKE 'Replicated%MergeTree'", tables},
		{"Distributed tables", "SELECT count() FROM remote('{server}', system.tables) WHERE database = '{db}' AND engine = 'Distributed'", tables},
		{"views", "SELECT count() FROM remote('{server}', system.tables) WHERE database = '{db}' AND engine = 'View'", views},
	} {
		if got := onBoth(c.q); got[0] != c.want || got[1] != c.want {
			t.Errorf("%s on the two servers: %v, want %d", c.what, got, c.want)
		}
	}
	schemaComments := count("SELECT count() FROM system.columns WHERE database = '{db}_schema' AND comment != '' AND table IN (SELECT name FROM system.tables WHERE database = '{db}_schema' AND engine != 'View')")
	if got := onBoth("SELECT count() FROM remote('{server}', system.columns) WHERE database = '{db}' AND comment != ''"); got[0] != schemaComments || got[1] != schemaComments {
		t.Errorf("commented columns of the Distributed tables %v, the schema's %d", got, schemaComments)
	}
	before := state()
	time.Sleep(1100 * time.Millisecond) // a table made anew would show a newer time
	if _, err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if after := state(); after != before {
		t.Errorf("migrating again changed the cluster: %v, then %v", before, after)
	}
	// The schema changes as a new migration would change it.
	for _, q := range []string{
		"ALTER TABLE {db}_schema.runs ADD COLUMN shard_note String",
		"ALTER TABLE {db}_schema.runs COMMENT COLUMN shard_note 'a column the schema gained'", // 18.16 drops ADD COLUMN's COMMENT
		"DROP TABLE {db}_schema.segment_lift_staging",
		"DROP TABLE {db}_schema.lift_by_label",
		"CREATE VIEW {db}_schema.lift_by_label AS SELECT as_of, count() AS n FROM {db}_schema.segment_lift GROUP BY as_of",
	} {
		if err := w.conn.Exec(ctx, strings.ReplaceAll(q, "{db}", w.db)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		q    string
		want uint64
	}{
		{"the new column, replicated", "SELECT count() FROM remote('{server}', system.columns) WHERE database = '{db}_local' AND table = 'runs' AND name = 'shard_note'", 1},
		{"the new column, commented in front", "SELECT count() FROM remote('{server}', system.columns) WHERE database = '{db}' AND table = 'runs' AND name = 'shard_note' AND comment = 'a column the schema gained'", 1},
		{"the dropped table", "SELECT count() FROM remote('{server}', system.tables) WHERE database LIKE '{db}%' AND name = 'segment_lift_staging'", 0},
		{"the changed view", "SELECT count() FROM remote('{server}', system.columns) WHERE database = '{db}' AND table = 'lift_by_label' AND name = 'n'", 1},
	} {
		if got := onBoth(c.q); got[0] != c.want || got[1] != c.want {
			t.Errorf("%s on the two servers: %v, want %d", c.what, got, c.want)
		}
	}
}

// TestUnknownCluster: a cluster the server's remote_servers lacks is an
// error naming the clusters it has.
func TestUnknownCluster(t *testing.T) {
	c := config.Default().ClickHouse
	c.Addr, c.Cluster = servicetest.ClickHouseCluster(t), "no_such_cluster"
	w, err := Open(context.Background(), c)
	if err == nil {
		w.Close()
		t.Fatal("a cluster the servers do not have: no error")
	}
	if !strings.Contains(err.Error(), "no such cluster") || !strings.Contains(err.Error(), servicetest.Cluster) {
		t.Errorf("a cluster the servers do not have: %v, want an error naming %s", err, servicetest.Cluster)
	}
}
