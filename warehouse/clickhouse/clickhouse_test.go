package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse"
)

// testWarehouse connects to the ClickHouse `make test` starts, in a database of
// its own that is dropped at the end. A missing server fails the test.
func testWarehouse(t *testing.T) *DB {
	t.Helper()
	c := config.Default().ClickHouse
	c.Addr = servicetest.ClickHouse(t)
	var b [4]byte
	rand.Read(b[:])
	c.Database = "tessera_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := Open(ctx, c)
	if err != nil {
		t.Fatalf("%v (start it with scripts/services.sh up, as make test does)", err)
	}
	t.Cleanup(func() {
		w.Exec(context.Background(), "DROP DATABASE IF EXISTS {db}")
		w.Close()
	})
	return w
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

	// Raw tables hold exactly the canonical columns, then run_id and _version.
	for _, tbl := range canon.Tables {
		types, err := w.columnTypes(ctx, warehouse.RawTable(tbl.Entity))
		if err != nil {
			t.Fatal(err)
		}
		if len(types) != len(tbl.Columns)+2 || types["run_id"] != "String" || types["_version"] != "UInt64" {
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
