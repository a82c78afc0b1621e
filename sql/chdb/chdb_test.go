//go:build chdb

package chdb_test

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	tsql "github.com/tessera-cdp/tessera/sql"
	"github.com/tessera-cdp/tessera/sql/chdb"
)

// statements splits a migration or query file at lines holding only ';'.
func statements(text string) []string {
	var out []string
	for _, s := range strings.Split(text, "\n;") {
		if s = strings.TrimSpace(s); s != "" && !onlyComments(s) {
			out = append(out, s)
		}
	}
	return out
}

func onlyComments(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

// TestCurrentClickHouse applies the migrations in order as Tessera does,
// reads every table and view they leave, and runs every report query.
func TestCurrentClickHouse(t *testing.T) {
	e, err := chdb.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	version, err := e.Query("SELECT version()")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s (chDB)", strings.TrimSpace(version))
	const db = "tessera_current"
	run := func(what, q string) {
		t.Helper()
		if _, err := e.Query(strings.ReplaceAll(q, "{db}", db)); err != nil {
			t.Errorf("%s fails on ClickHouse %s: %v\n%s", what, strings.TrimSpace(version), err, q)
		}
	}
	run("CREATE DATABASE", "CREATE DATABASE IF NOT EXISTS {db}")
	run("schema_migrations", tsql.SchemaMigrations)
	names, err := fs.Glob(tsql.Migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations (%v)", err)
	}
	for _, name := range names {
		b, err := tsql.Migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range statements(string(b)) {
			run(fmt.Sprintf("%s, statement %d", path.Base(name), i+1), s)
		}
	}
	tables, err := e.Query("SELECT name FROM system.tables WHERE database = '" + db + "' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tbl := range strings.Fields(tables) {
		run("reading "+tbl, "SELECT * FROM {db}."+tbl+" LIMIT 1")
		n++
	}
	reports, err := fs.Glob(tsql.Reports, "reports/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range reports {
		b, err := tsql.Reports.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		q := strings.NewReplacer("{from}", "2026-10-01", "{to}", "2026-10-02").Replace(string(b))
		for i, s := range statements(q) {
			run(fmt.Sprintf("%s, statement %d", path.Base(name), i+1), s)
		}
	}
	t.Logf("%d migrations, %d tables and views read, %d report queries", len(names), n, len(reports))
}
