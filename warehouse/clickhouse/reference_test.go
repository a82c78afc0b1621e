package clickhouse

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// updateDocs rewrites docs/tables.md from the migrations:
// go test ./warehouse/clickhouse -run TestTableReference -update-docs
var updateDocs = flag.Bool("update-docs", false, "rewrite docs/tables.md")

const tablesPath = "../../docs/tables.md"

var viewDoc = regexp.MustCompile(`(?m)^-- ([a-z_]+\.[a-z_0-9]+): (.+)$`)

// TestTableReference: docs/tables.md is every table and view analysts read,
// with its columns, their types and meanings, as the migrations make them
// (the columns' comments, read back from ClickHouse after migrating), and
// every column of them has a meaning.
func TestTableReference(t *testing.T) {
	w := testWarehouse(t)
	ctx := context.Background()
	if _, err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	engines := map[string]string{}
	rows, err := w.Conn().Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ?", w.Database())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		engines[name] = engine
	}
	rows.Close()
	// system.columns lists a table's columns in their order.
	rows, err = w.Conn().Query(ctx, "SELECT table, name, type, comment FROM system.columns WHERE database = ?", w.Database())
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ name, typ, comment string }
	tables := map[string][]column{}
	for rows.Next() {
		var table string
		var c column
		if err := rows.Scan(&table, &c.name, &c.typ, &c.comment); err != nil {
			t.Fatal(err)
		}
		tables[table] = append(tables[table], c)
	}
	rows.Close()
	var names []string
	for name := range tables {
		// Staging tables and the bookkeeping of migrations and locks are not read.
		if strings.HasSuffix(name, "_staging") || name == "schema_migrations" || name == "locks" || strings.Contains(name, "_part_") {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("# Table reference\n\n")
	b.WriteString("Generated from the migrations (`go test ./warehouse/clickhouse -run TestTableReference -update-docs`): every table and view of\n")
	b.WriteString("Tessera's database (`tessera` by default) with its columns, their ClickHouse types and meanings (the columns' comments).\n")
	b.WriteString("Tables published by as-of date hold one partition per date; read the rows of the runs a date's publication names, as the views do\n")
	b.WriteString("(`WHERE (as_of, run_id) IN (SELECT as_of, score_run FROM published_runs)`): see [analysts.md](analysts.md).\n\n")
	// A view's columns have no comments in ClickHouse: a column that keeps the
	// name of a table's column means what it does there.
	meaning := map[string]string{}
	for _, name := range names {
		for _, c := range tables[name] {
			if _, ok := meaning[c.name]; !ok && c.comment != "" && engines[name] != "View" {
				meaning[c.name] = c.comment
			}
		}
	}
	// The views' columns are described in the migrations that make them, on
	// comment lines "-- view.column: meaning".
	viewDocs := map[string]string{}
	files, _ := filepath.Glob("../../sql/migrations/*.sql")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range viewDoc.FindAllStringSubmatch(string(src), -1) {
			viewDocs[m[1]] = strings.TrimSpace(m[2])
		}
	}
	var bare []string
	for _, name := range names {
		kind := "table"
		if engines[name] == "View" {
			kind = "view"
		}
		fmt.Fprintf(&b, "## `%s` (%s)\n\n| column | type | meaning |\n|---|---|---|\n", name, kind)
		for _, c := range tables[name] {
			if c.comment == "" && kind == "view" {
				c.comment = cmp.Or(viewDocs[name+"."+c.name], meaning[c.name])
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", c.name, c.typ, strings.ReplaceAll(c.comment, "|", "\\|"))
			if c.comment == "" {
				bare = append(bare, name+"."+c.name)
			}
		}
		b.WriteString("\n")
	}
	if len(bare) > 0 {
		t.Errorf("%d columns have no meaning (no comment in the migrations, nor a table's column of the same name): %v", len(bare), bare)
	}
	got := b.String()
	if *updateDocs {
		if err := os.WriteFile(tablesPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(tablesPath)
	if err != nil || string(want) != got {
		t.Errorf("docs/tables.md is not what the migrations make (%v): go test ./warehouse/clickhouse -run TestTableReference -update-docs", err)
	}
}
