//go:build chdb

package chdb_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
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
	sent := sentStatements(t)
	// The list is sorted; run in the order a sharded stage sends them: a
	// part's table is created, written, renamed into place, read or attached,
	// dropped.
	phase := func(q string) int {
		if strings.HasPrefix(q, "SELECT") && strings.Contains(q, "_part_") && !strings.Contains(q, "_tmp") {
			return 3
		}
		for i, verb := range []string{"CREATE", "SELECT", "RENAME", "DROP"} {
			if strings.HasPrefix(q, verb) {
				return []int{0, 1, 2, 5}[i]
			}
		}
		return 4
	}
	slices.SortStableFunc(sent, func(a, b string) int { return phase(a) - phase(b) })
	for i, q := range sent {
		run(fmt.Sprintf("statement %d the code sends", i+1), q)
	}
	t.Logf("%d migrations, %d tables and views read, %d report queries, %d statements the code sends", len(names), n, len(reports), len(sent))
}

// sentStatements are the statements the warehouse code sends, as
// pipeline.TestStatementsSent recorded them on ClickHouse 18.16, each ready
// to run: its arguments written in as literals, and a batch INSERT (whose
// rows the driver sends apart) as a SELECT of the same columns of the same
// table.
func sentStatements(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/statements.sql")
	if err != nil {
		t.Fatal(err)
	}
	insert := regexp.MustCompile(`^INSERT INTO (\S+) \((.*)\) VALUES$`)
	var out []string
	for _, chunk := range strings.Split(string(b), "\n;\n") {
		var args []any
		var q string
		for _, line := range strings.Split(chunk, "\n") {
			if a, ok := strings.CutPrefix(line, "-- args: "); ok {
				if err := json.Unmarshal([]byte(a), &args); err != nil {
					t.Fatalf("%s: %v", a, err)
				}
			} else if line != "" && !strings.HasPrefix(line, "--") {
				q = line
			}
		}
		if q == "" {
			continue
		}
		if m := insert.FindStringSubmatch(q); m != nil {
			out = append(out, "SELECT "+m[2]+" FROM "+m[1]+" LIMIT 0")
			continue
		}
		var w strings.Builder
		for _, c := range q {
			if c == '?' && len(args) > 0 {
				w.WriteString(literal(args[0]))
				args = args[1:]
				continue
			}
			w.WriteRune(c)
		}
		if len(args) > 0 {
			t.Fatalf("%d arguments left over for %s", len(args), q)
		}
		out = append(out, w.String())
	}
	return out
}

// literal writes a recorded argument as SQL.
func literal(a any) string {
	switch v := a.(type) {
	case nil:
		return "NULL"
	case bool:
		if v {
			return "1"
		}
		return "0"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	case []any:
		items := make([]string, len(v))
		for i, x := range v {
			items[i] = literal(x)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	b, _ := json.Marshal(a)
	return "'" + strings.ReplaceAll(string(b), "'", `\'`) + "'"
}
