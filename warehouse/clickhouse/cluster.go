package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tessera-cdp/tessera/warehouse"
)

// cluster is what a DB on a ClickHouse cluster adds. Every table is a
// replicated table in the database local on every server, with a
// Distributed table of the same name in the DB's database in front: reads
// and writes go through those, sharded by the customer (or the table's first
// key). What ClickHouse 18.16 cannot do ON CLUSTER (REPLACE and ATTACH
// PARTITION FROM) is done on one replica of each shard: the shards.
type cluster struct {
	name   string
	local  string
	shards []driver.Conn
}

// shardAddrs are the native addresses of the first replica of each shard of
// the cluster, as the server's remote_servers has them.
func shardAddrs(ctx context.Context, conn driver.Conn, name string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT host_address, toUInt16(port) FROM system.clusters WHERE cluster = ? AND replica_num = 1 ORDER BY shard_num", name)
	if err != nil {
		return nil, fmt.Errorf("clickhouse.cluster %s: %w", name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s:%d", host, port))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		// One string: Select scans rows into structs alone.
		var names string
		if err := conn.QueryRow(ctx, "SELECT arrayStringConcat(arraySort(groupUniqArray(cluster)), ', ') FROM system.clusters").Scan(&names); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("clickhouse.cluster %s: the server's remote_servers has no such cluster (it has %s)", name, names)
	}
	var zk uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&zk); err != nil {
		return nil, fmt.Errorf("clickhouse.cluster %s: replicated tables need ZooKeeper or ClickHouse Keeper in the servers' config: %w", name, err)
	}
	// A query over a Distributed table that joins or IN-filters another
	// (order lines by their orders, which are sharded by customer) must read
	// the inner one from every shard. 18.16's native protocol takes only
	// numeric settings from a client: the user's profile must say it.
	var mode string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'distributed_product_mode'").Scan(&mode); err != nil {
		return nil, err
	}
	if mode != "global" {
		return nil, fmt.Errorf("clickhouse.cluster %s: the user's profile has distributed_product_mode = %s; Tessera needs global (in users.xml: <distributed_product_mode>global</distributed_product_mode>)", name, mode)
	}
	return out, nil
}

// onShards runs a statement on one replica of every shard, {db} being the
// database of the replicated tables (one replica's change reaches the others).
func (w *DB) onShards(ctx context.Context, stmt string) error {
	q := strings.ReplaceAll(stmt, "{db}", w.cluster.local)
	for i, conn := range w.cluster.shards {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("shard %d: %w", i+1, w.failed(stmt, err))
		}
	}
	return nil
}

// alterPartition runs an ALTER of partitions (or a mutation of rows): on
// one server, or on every shard's replicated table.
func (w *DB) alterPartition(ctx context.Context, stmt string) error {
	if w.cluster != nil {
		return w.onShards(ctx, stmt)
	}
	return w.Exec(ctx, stmt)
}

// onCluster runs DDL ON CLUSTER: {local} is the database of the replicated
// tables, {db} the Distributed tables'; ON CLUSTER goes after the first name.
func (w *DB) onCluster(ctx context.Context, stmt string) error {
	q := strings.NewReplacer("{local}", w.cluster.local, "{db}", w.db, "{cluster}", w.cluster.name).Replace(stmt)
	if err := w.conn.Exec(ctx, q); err != nil {
		return w.failed(stmt, err)
	}
	return nil
}

// migrateCluster applies the migrations to the database <db>_schema on the
// server connected to, as on one server (empty tables: the schema), then
// makes the cluster's tables match it: a replicated table on every server
// and a Distributed table in front for each table, the views over the
// Distributed tables. A table gets the columns it lacks; one the schema no
// longer has is dropped. Data migrations of the history (copying a table
// into a new one) are not replayed on the cluster: its tables start as the
// schema is now.
func (w *DB) migrateCluster(ctx context.Context) ([]string, error) {
	schema := &DB{conn: w.conn, db: w.db + "_schema", Backoff: w.Backoff}
	applied, err := schema.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("the schema of the cluster's tables: %w", err)
	}
	// What the cluster was last made to match (a table of the schema's
	// database, not of the migrations: it is not part of the schema).
	if err := w.conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+schema.db+".cluster_synced (cluster String, fingerprint String, synced_at DateTime) ENGINE = MergeTree ORDER BY cluster"); err != nil {
		return nil, err
	}
	want, err := w.tablesOf(ctx, schema.db)
	if err != nil {
		return nil, err
	}
	delete(want, "cluster_synced")
	// The cluster is made to match a schema once: every pod of a job opens
	// the warehouse, and reading system.columns of a database while other
	// pods create and drop their parts' tables there fails.
	fingerprint := schemaFingerprint(want)
	var synced uint64
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+schema.db+".cluster_synced WHERE cluster = ? AND fingerprint = ?", w.cluster.name, fingerprint).Scan(&synced); err != nil {
		return nil, fmt.Errorf("the schema of the cluster's tables: %w", err)
	}
	if synced > 0 {
		return applied, nil
	}
	for _, db := range []string{"{local}", "{db}"} {
		if err := w.onCluster(ctx, "CREATE DATABASE IF NOT EXISTS "+db+" ON CLUSTER {cluster}"); err != nil {
			return nil, err
		}
	}
	have, err := w.tablesOf(ctx, w.cluster.local)
	if err != nil {
		return nil, err
	}
	for _, t := range want {
		if t.engine == "View" {
			continue
		}
		if err := w.syncTable(ctx, t, have); err != nil {
			return nil, fmt.Errorf("cluster table %s: %w", t.name, err)
		}
	}
	for _, t := range have {
		if _, ok := want[t.name]; !ok && !strings.Contains(t.name, "_part_") { // parts are the pipeline's own
			for _, q := range []string{"DROP TABLE IF EXISTS {db}." + t.name + " ON CLUSTER {cluster}", "DROP TABLE IF EXISTS {local}." + t.name + " ON CLUSTER {cluster}"} {
				if err := w.onCluster(ctx, q); err != nil {
					return nil, err
				}
			}
		}
	}
	views, err := w.tablesOf(ctx, w.db)
	if err != nil {
		return nil, err
	}
	for _, t := range want {
		if t.engine != "View" {
			continue
		}
		create := strings.ReplaceAll(t.create, schema.db+".", w.db+".")
		if v, ok := views[t.name]; ok && v.create == create {
			continue
		}
		create = strings.Replace(create, "CREATE VIEW "+w.db+"."+t.name, "CREATE VIEW "+w.db+"."+t.name+" ON CLUSTER "+w.cluster.name, 1)
		if err := w.onCluster(ctx, "DROP TABLE IF EXISTS {db}."+t.name+" ON CLUSTER {cluster}"); err != nil {
			return nil, err
		}
		if err := w.conn.Exec(ctx, create); err != nil {
			return nil, fmt.Errorf("cluster view %s: %w", t.name, err)
		}
	}
	for _, v := range views {
		if _, ok := want[v.name]; !ok && v.engine == "View" {
			if err := w.onCluster(ctx, "DROP TABLE IF EXISTS {db}."+v.name+" ON CLUSTER {cluster}"); err != nil {
				return nil, err
			}
		}
	}
	if err := w.conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s.cluster_synced (cluster, fingerprint, synced_at) SELECT '%s', '%s', now()", schema.db, w.cluster.name, fingerprint)); err != nil {
		return nil, fmt.Errorf("the schema of the cluster's tables: %w", err)
	}
	return applied, nil
}

// schemaFingerprint identifies a schema: its tables' definitions and columns.
func schemaFingerprint(tables map[string]*tableInfo) string {
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	slices.Sort(names)
	h := fnv.New64a()
	for _, n := range names {
		t := tables[n]
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", t.name, t.engine, t.create, columnDefs(t.columns, true))
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// tableInfo is a table as system.tables has it.
type tableInfo struct {
	name, engine, engineFull, create, sortingKey string
	columns                                      []columnInfo
}

type columnInfo struct{ name, typ, defaultKind, defaultExpr, comment string }

// tablesOf reads the tables of a database (those named, when any are) and
// their columns.
func (w *DB) tablesOf(ctx context.Context, db string, names ...string) (map[string]*tableInfo, error) {
	only := "1"
	if len(names) > 0 {
		only = "name IN ('" + strings.Join(names, "', '") + "')"
	}
	rows, err := w.conn.Query(ctx, "SELECT name, engine, engine_full, create_table_query, sorting_key FROM system.tables WHERE database = ? AND "+only, db)
	if err != nil {
		return nil, err
	}
	out := map[string]*tableInfo{}
	for rows.Next() {
		t := &tableInfo{}
		if err := rows.Scan(&t.name, &t.engine, &t.engineFull, &t.create, &t.sortingKey); err != nil {
			rows.Close()
			return nil, err
		}
		out[t.name] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	cols, err := w.conn.Query(ctx, "SELECT table, name, type, default_kind, default_expression, comment FROM system.columns WHERE database = ? AND "+strings.ReplaceAll(only, "name IN", "table IN"), db)
	if err != nil {
		return nil, err
	}
	defer cols.Close()
	for cols.Next() {
		var table string
		var c columnInfo
		if err := cols.Scan(&table, &c.name, &c.typ, &c.defaultKind, &c.defaultExpr, &c.comment); err != nil {
			return nil, err
		}
		if t, ok := out[table]; ok {
			t.columns = append(t.columns, c)
		}
	}
	return out, cols.Err()
}

// syncTable makes the cluster's table t of the schema: the replicated table
// created or given its missing columns (and the types the schema changed),
// and the Distributed table in front
// made anew when it is missing or its columns changed. Column comments go
// on the Distributed tables, which analysts read: ClickHouse 18.16 cannot
// create a replicated table with them, nor comment one ON CLUSTER.
func (w *DB) syncTable(ctx context.Context, t *tableInfo, have map[string]*tableInfo) error {
	if old, ok := have[t.name]; !ok {
		engine, err := replicated(t.engineFull, w.cluster.local, t.name)
		if err != nil {
			return err
		}
		q := fmt.Sprintf("CREATE TABLE IF NOT EXISTS {local}.%s ON CLUSTER {cluster} (%s) ENGINE = %s", t.name, columnDefs(t.columns, false), engine)
		if err := w.onCluster(ctx, q); err != nil {
			return err
		}
	} else {
		prev := ""
		for _, c := range t.columns {
			if k := slices.IndexFunc(old.columns, func(o columnInfo) bool { return o.name == c.name }); k >= 0 && old.columns[k].typ != c.typ {
				// A type the schema changed (a column made Nullable).
				if err := w.onCluster(ctx, fmt.Sprintf("ALTER TABLE {local}.%s ON CLUSTER {cluster} MODIFY COLUMN %s %s", t.name, c.name, c.typ)); err != nil {
					return err
				}
			}
			if !slices.ContainsFunc(old.columns, func(o columnInfo) bool { return o.name == c.name }) {
				after := ""
				if prev != "" {
					after = " AFTER " + prev
				}
				if err := w.onCluster(ctx, fmt.Sprintf("ALTER TABLE {local}.%s ON CLUSTER {cluster} ADD COLUMN %s%s", t.name, columnDefs([]columnInfo{c}, false), after)); err != nil {
					return err
				}
			}
			prev = c.name
		}
	}
	dist, err := w.tablesOf(ctx, w.db, t.name)
	if err != nil {
		return err
	}
	if d, ok := dist[t.name]; ok && columnDefs(d.columns, true) == columnDefs(t.columns, true) {
		return nil
	}
	if err := w.onCluster(ctx, "DROP TABLE IF EXISTS {db}."+t.name+" ON CLUSTER {cluster}"); err != nil {
		return err
	}
	return w.onCluster(ctx, fmt.Sprintf("CREATE TABLE {db}.%s ON CLUSTER {cluster} (%s) ENGINE = Distributed({cluster}, {local}, %[1]s, %[3]s)",
		t.name, columnDefs(t.columns, true), shardingKey(t.sortingKey)))
}

// columnDefs writes columns as a CREATE TABLE lists them.
func columnDefs(cols []columnInfo, comments bool) string {
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = c.name + " " + c.typ
		if c.defaultKind != "" {
			defs[i] += " " + c.defaultKind + " " + c.defaultExpr
		}
		if comments && c.comment != "" {
			defs[i] += " COMMENT " + quote(c.comment)
		}
	}
	return strings.Join(defs, ", ")
}

// distribute (re)creates the Distributed table in front of a replicated one
// (a part's: no comments).
func (w *DB) distribute(ctx context.Context, name, key string) error {
	if err := w.onCluster(ctx, "DROP TABLE IF EXISTS {db}."+name+" ON CLUSTER {cluster}"); err != nil {
		return err
	}
	return w.onCluster(ctx, fmt.Sprintf("CREATE TABLE {db}.%s ON CLUSTER {cluster} AS {local}.%[1]s ENGINE = Distributed({cluster}, {local}, %[1]s, %s)", name, key))
}

// shardingKey spreads a table's rows over the shards: by the customer where
// the table is keyed by one, else by its first key column, so that every
// version of a row lands on the same shard (ReplacingMergeTree merges only
// there).
func shardingKey(sortingKey string) string {
	if strings.HasPrefix(sortingKey, "(") {
		sortingKey = strings.TrimSuffix(sortingKey[1:], ")")
	}
	cols := strings.Split(sortingKey, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	switch {
	case cols[0] == hashColumn: // orders and lines: with their customer
		return hashColumn
	case slices.Contains(cols, "customer_id"):
		return warehouse.HashSQL("customer_id")
	case cols[0] == "" || strings.Contains(cols[0], "("):
		return "rand()"
	}
	return warehouse.HashSQL(cols[0])
}

var engineHead = regexp.MustCompile(`^(\w*MergeTree)(\(([^)]*)\))?`)

// unreplicated is a replicated engine clause without its replication: its
// path and replica arguments dropped.
func unreplicated(engineFull string) string {
	m := engineHead.FindStringSubmatch(engineFull)
	if m == nil || !strings.HasPrefix(m[1], "Replicated") {
		return engineFull
	}
	args := strings.Split(m[3], ",")
	head := strings.TrimPrefix(m[1], "Replicated")
	if len(args) > 2 {
		head += "(" + strings.TrimSpace(strings.Join(args[2:], ",")) + ")"
	}
	return head + engineFull[len(m[0]):]
}

// replicated is a MergeTree engine clause made replicated, with a ZooKeeper
// path of its own: tables renamed keep their path, so a path named after the
// table could be taken by another.
func replicated(engineFull, db, table string) (string, error) {
	m := engineHead.FindStringSubmatch(engineFull)
	if m == nil || strings.HasPrefix(m[1], "Replicated") {
		return "", fmt.Errorf("engine %q is not a MergeTree to replicate", engineFull)
	}
	var b [6]byte
	rand.Read(b[:])
	args := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s-%s', '{replica}'", db, table, hex.EncodeToString(b[:]))
	if m[3] != "" {
		args += ", " + m[3]
	}
	return "Replicated" + m[1] + "(" + args + ")" + engineFull[len(m[0]):], nil
}
