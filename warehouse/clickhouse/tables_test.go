package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/tessera-cdp/tessera/warehouse"
)

// chTypes are the ClickHouse types a column of an Arrow type may have in a
// published table.
func chTypes(f arrow.Field) []string {
	var ts []string
	switch f.Type.ID() {
	case arrow.STRING:
		ts = []string{"String", "LowCardinality(String)"}
	case arrow.FLOAT64:
		ts = []string{"Float64"}
	case arrow.INT32:
		ts = []string{"Int32", "UInt32", "UInt16", "UInt8", "Int8", "Int16"}
	case arrow.INT64:
		ts = []string{"Int64", "UInt64"}
	case arrow.DATE32:
		ts = []string{"Date"}
	case arrow.BOOL:
		ts = []string{"UInt8"}
	}
	if f.Nullable {
		for i, t := range ts {
			ts[i] = "Nullable(" + t + ")"
		}
	}
	return ts
}

// TestPublishedTables: the one list of published tables (warehouse.Tables)
// and the migrations agree, for each table and its staging table: the same
// columns in the same order (as_of and run_id aside), of compatible types.
func TestPublishedTables(t *testing.T) {
	w := testWarehouse(t)
	ctx := context.Background()
	if _, err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range warehouse.Tables {
		names := []string{tbl.Name, tbl.Name + "_staging"}
		if slices.ContainsFunc(warehouse.Parted, func(p warehouse.Table) bool { return p.Name == tbl.Name }) {
			names = names[1:] // written as parts of the structure of <name>_staging
		}
		for _, name := range names {
			rows, err := w.Conn().Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", w.Database(), name)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			types := map[string]string{}
			for rows.Next() {
				var n, typ string
				if err := rows.Scan(&n, &typ); err != nil {
					t.Fatal(err)
				}
				if n != "as_of" && n != "run_id" {
					got = append(got, n)
					types[n] = typ
				}
			}
			rows.Close()
			var want []string
			for _, f := range tbl.Schema.Fields() {
				want = append(want, f.Name)
				if ok := strings.Contains(" "+strings.Join(chTypes(f), " ")+" ", " "+types[f.Name]+" "); !ok {
					t.Errorf("%s.%s is %s in ClickHouse, %s (nullable %v) in warehouse.Tables", name, f.Name, types[f.Name], f.Type, f.Nullable)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: the migrations have columns\n%v\nwarehouse.Tables has\n%v", name, got, want)
			}
		}
	}
}
