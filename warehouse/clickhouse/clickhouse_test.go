package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
	tsql "github.com/tessera-cdp/tessera/sql"
	"github.com/tessera-cdp/tessera/warehouse"
)

// testWarehouse connects to the ClickHouse `make test` starts, in a database of
// its own that is dropped at the end. A missing server fails the test.
func testWarehouse(t *testing.T) *DB {
	t.Helper()
	c := config.Default().ClickHouse
	c.Addr = servicetest.ClickHouse(t)
	return openTest(t, c, "tessera_test_", "DROP DATABASE IF EXISTS {db}")
}

// openTest connects with c to a database of the test's own (prefix and random
// hex), running drops when the test ends.
func openTest(t *testing.T, c config.ClickHouse, prefix string, drops ...string) *DB {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	c.Database = prefix + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := Open(ctx, c)
	if err != nil {
		t.Fatalf("%v (start it with scripts/services.sh up, as make test does)", err)
	}
	t.Cleanup(func() {
		for _, q := range drops {
			w.Exec(context.Background(), q)
		}
		w.Close()
	})
	return w
}

// TestOpenMistakes: the HTTP port instead of the native one gets a hint,
// TLS against a plain port fails at the handshake, and a CA file that holds
// no certificate is named.
func TestOpenMistakes(t *testing.T) {
	plain := servicetest.ClickHouse(t)
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	for _, c := range []struct {
		name   string
		set    func(*config.ClickHouse)
		says   string
		noHint bool
	}{
		{"HTTP port", func(c *config.ClickHouse) { c.Addr = servicetest.ClickHouseHTTP(t) },
			"that port speaks HTTP: clickhouse.addr needs the native protocol's port (9000, or 9440 with clickhouse.secure), not the HTTP interface's (8123, 8443)", false},
		{"TLS to a plain port", func(c *config.ClickHouse) { c.Addr, c.Secure = plain, true }, "does not answer", true},
		{"CA file without a certificate", func(c *config.ClickHouse) { c.Addr, c.Secure, c.CAFile = plain, true, notPEM },
			"clickhouse.ca_file " + notPEM + ": no PEM certificate in it", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default().ClickHouse
			cfg.DialTimeout = 3 * time.Second
			c.set(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w, err := Open(ctx, cfg)
			if err == nil {
				w.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), c.says) || (c.noHint && strings.Contains(err.Error(), "speaks HTTP")) {
				t.Errorf("error %q, want it to say %q", err, c.says)
			}
		})
	}
}

// TestTLS: a ClickHouse that speaks TLS on its secure port (a private
// server, its certificate signed by a CA made for the test) is reached with
// clickhouse.secure and the CA file, migrated and written; without the CA
// the certificate is refused, and the plain port refuses TLS.
func TestTLS(t *testing.T) {
	secure, plain, ca := servicetest.PrivateClickHouseTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := config.Default().ClickHouse
	cfg.Addr, cfg.Secure, cfg.CAFile, cfg.Database, cfg.DialTimeout = secure, true, ca, "tessera_tls", 5*time.Second
	w, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("TLS with the CA file: %v", err)
	}
	defer w.Close()
	if _, err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.RecordRun(ctx, warehouse.Run{ID: "tls", Stage: "extract", AsOf: time.Now(), Started: time.Now(), Finished: time.Now(), Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := w.Conn().QueryRow(ctx, "SELECT count() FROM tessera_tls.runs WHERE run_id = 'tls'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d runs over TLS: %v", n, err)
	}
	for _, c := range []struct {
		name string
		set  func(*config.ClickHouse)
		says string
	}{
		{"no CA file: the system's roots do not know the test's CA", func(c *config.ClickHouse) { c.CAFile = "" },
			"set clickhouse.ca_file to the CA that signed the server's certificate"},
		{"TLS to the plain port", func(c *config.ClickHouse) { c.Addr = plain }, "that port does not speak TLS"},
		{"the secure port without TLS", func(c *config.ClickHouse) { c.Secure, c.CAFile = false, "" }, "that port speaks TLS: set clickhouse.secure: true"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := cfg
			c.set(&bad)
			w, err := Open(ctx, bad)
			if err == nil {
				w.Close()
				t.Fatal("connected")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q, want it to say %q", err, c.says)
			}
		})
	}
}

// TestConcurrentMigrate: three runners migrating a fresh database at once
// (the chart's migration Job and two stages) apply each migration once, one
// after the other, and all succeed.
func TestConcurrentMigrate(t *testing.T) {
	c := config.Default().ClickHouse
	c.Addr = servicetest.ClickHouse(t)
	var b [4]byte
	rand.Read(b[:])
	c.Database = "tessera_race_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const runners = 3
	dbs := make([]*DB, runners)
	for i := range dbs {
		w, err := Open(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() }) // after the drop below: cleanups run last first
		dbs[i] = w
	}
	t.Cleanup(func() { dbs[0].Exec(context.Background(), "DROP DATABASE IF EXISTS {db}") })
	applied := make([][]string, runners)
	errs := make([]error, runners)
	var wg sync.WaitGroup
	for i, w := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = w.Migrate(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range dbs {
		if errs[i] != nil {
			t.Errorf("runner %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	var n, distinct uint64
	if err := dbs[0].conn.QueryRow(ctx, dbs[0].expand("SELECT count(), uniqExact(name) FROM {db}.schema_migrations")).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(tsql.Migrations, "migrations/*.sql")
	t.Logf("%d runners applied %d migrations between them; schema_migrations has %d rows, %d names", runners, total, n, distinct)
	if n != distinct || int(n) != len(names) || total != len(names) {
		t.Errorf("schema_migrations has %d rows of %d names for %d migrations, and the runners applied %d: each must be applied once", n, distinct, len(names), total)
	}
}

func TestMigrate(t *testing.T) {
	w := testWarehouse(t)
	ctx := context.Background()
	applied, err := w.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0] != "0001_raw.sql" {
		t.Fatalf("applied %v", applied)
	}
	again, err := w.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, %v; want nothing", again, err)
	}

	// Every column of every table explains itself to analysts (views take the
	// comments of their SQL: ClickHouse has none for view columns).
	rows, err := w.Conn().Query(ctx, "SELECT concat(table, '.', name) FROM system.columns WHERE database = ? AND comment = '' AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine != 'View')", w.Database(), w.Database())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var col string
		rows.Scan(&col)
		t.Errorf("column %s has no comment", col)
	}
	rows.Close()

	// Raw tables hold exactly the canonical columns, then run_id and
	// _version; orders and lines also their customer's hash and _deleted.
	for _, tbl := range canon.Tables {
		types, err := w.columnTypes(ctx, warehouse.RawTable(tbl.Entity))
		if err != nil {
			t.Fatal(err)
		}
		extra := 2
		if tbl.Entity == canon.Orders || tbl.Entity == canon.OrderLines {
			extra = 4
			if types[hashColumn] != "UInt64" || types["_deleted"] != "UInt8" {
				t.Errorf("%s: columns %v, want customer_hash UInt64 and _deleted UInt8", warehouse.RawTable(tbl.Entity), types)
			}
		}
		if len(types) != len(tbl.Columns)+extra || types["run_id"] != "String" || types["_version"] != "UInt64" {
			t.Errorf("%s: columns %v", warehouse.RawTable(tbl.Entity), types)
		}
		for _, c := range tbl.Columns {
			if _, ok := types[c.Name]; !ok {
				t.Errorf("%s lacks %s", warehouse.RawTable(tbl.Entity), c.Name)
			}
		}
	}
}

func TestStatements(t *testing.T) {
	src := "-- a comment\nCREATE TABLE a (x UInt8 COMMENT 'a;b')\n;\n\n  ;  \nCREATE TABLE b (y UInt8)\n"
	got := Statements(src)
	if len(got) != 2 || !strings.HasPrefix(got[0], "CREATE TABLE a") || !strings.Contains(got[0], "'a;b'") || !strings.HasPrefix(got[1], "CREATE TABLE b") {
		t.Errorf("%q", got)
	}
}

// TestSliceFilter: the SQL of a slice keeps, on the server, exactly the ids
// Go gives the slice; every id in one slice.
func TestSliceFilter(t *testing.T) {
	w := testWarehouse(t)
	ctx := context.Background()
	for _, n := range []int{2, 3, 4, 7, 16} {
		owners := map[string]int{}
		for i := 0; i < n; i++ {
			s := warehouse.Slice{Index: i, Of: n}
			rows, err := w.conn.Query(ctx, "SELECT id FROM (SELECT concat('C', toString(number)) AS id FROM system.numbers LIMIT 5000) WHERE "+s.Filter("id"))
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				if _, twice := owners[id]; twice || !s.Owns(id) {
					t.Errorf("%s: in slice %d of %d on the server; Go gives it %d", id, i, n, warehouse.ShardOf(id, n))
				}
				owners[id] = i
			}
			rows.Close()
		}
		if len(owners) != 5000 {
			t.Errorf("%d of %d: %d ids in a slice, want 5000", n, n, len(owners))
		}
	}
}
