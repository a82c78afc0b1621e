package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// TestBadInputFiles: a source file cut in the middle of a line, an empty
// file, a header with an extra column, a record with an extra field, a file
// in Latin-1, a NUL byte, times ClickHouse's DateTime cannot hold and an
// absurd amount each give a clear error naming the file, or rejected rows
// with their rule while every other row lands: never a panic, a silent skip
// or a value that wraps.
func TestBadInputFiles(t *testing.T) {
	dir, _ := generateShop(t, 300, 0, "csv")
	for _, tt := range []struct {
		name   string
		file   string
		mutate func([]byte) []byte
		err    string // the run fails saying this
		rule   string // or one row is rejected with this rule (and rows that name it as unknown_*)
	}{
		{name: "cut in the middle of a line", file: "orders.csv",
			mutate: func(b []byte) []byte { return b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+20] },
			rule:   "orders wrong_field_count"},
		{name: "empty file", file: "customers.csv", mutate: func([]byte) []byte { return nil },
			err: "customers.csv: empty file"},
		{name: "extra column in the header", file: "products.csv",
			mutate: func(b []byte) []byte { return bytes.Replace(b, []byte("\n"), []byte(",colour\n"), 1) },
			err:    `products.csv: column "colour" of the header is not a column of products`},
		{name: "extra field on one record", file: "campaign_events.csv",
			mutate: func(b []byte) []byte {
				i := bytes.IndexByte(b, '\n') + 1
				j := i + bytes.IndexByte(b[i:], '\n')
				return append(append(append([]byte{}, b[:j]...), ",surplus"...), b[j:]...)
			},
			rule: "campaign_events wrong_field_count"},
		{name: "Latin-1 file", file: "customers.csv",
			mutate: func(b []byte) []byte {
				i := bytes.IndexByte(b, '\n') + 1
				j := i + bytes.IndexByte(b[i:], '\n')
				row := bytes.Split(b[i:j], []byte(","))
				row[5] = []byte("M\xfcnchen") // ü in Latin-1
				return append(append(append([]byte{}, b[:i]...), bytes.Join(row, []byte(","))...), b[j:]...)
			},
			rule: "customers bad_encoding"},
		{name: "a quote never closed at the start of the file", file: "orders.csv",
			mutate: func(b []byte) []byte {
				i := bytes.IndexByte(b, '\n') + 1
				return append(append(append([]byte{}, b[:i]...), '"'), b[i:]...)
			},
			rule: "orders malformed_record"},
		{name: "NUL byte in a text", file: "customers.csv", mutate: setField(5, "Ber\x00lin"), rule: "customers bad_encoding"},
		{name: "ordered before 1970", file: "orders.csv", mutate: setField(2, "1950-06-01 10:00:00"), rule: "orders out_of_range"},
		{name: "ordered after 2106", file: "orders.csv", mutate: setField(2, "2150-01-01 00:00:00"), rule: "orders out_of_range"},
		{name: "Unix seconds past 2106", file: "orders.csv", mutate: setField(2, "99999999999"), rule: "orders out_of_range"},
		{name: "customer updated in 1950", file: "customers.csv", mutate: setField(10, "1950-06-01 00:00:00"), rule: "customers out_of_range"},
		{name: "amount of 1e308", file: "orders.csv", mutate: setField(7, "1e308"), rule: "orders out_of_range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if e.Name() == tt.file {
					b = tt.mutate(b)
				}
				if err := os.WriteFile(filepath.Join(src, e.Name()), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, wh := testClickHouse(t)
			cfg.Source.Files.Dir = src
			err = runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := queryStrings(t, wh, "SELECT concat(entity, ' ', rule) FROM {db}.rejected_rows FINAL ORDER BY entity, rule")
			causes := 0
			for _, r := range got {
				switch {
				case r == tt.rule:
					causes++
				case strings.HasSuffix(r, " unknown_order") || strings.HasSuffix(r, " unknown_customer") || strings.HasSuffix(r, " parent_rejected"):
				default:
					t.Errorf("rejected for %s", r)
				}
			}
			if causes != 1 {
				t.Errorf("rejected %q: want one %s", got, tt.rule)
			}
			var read, landed, rejected uint64
			queryRow(t, wh, "SELECT rows_read, rows_landed, rows_rejected FROM {db}.runs WHERE stage = 'extract'", &read, &landed, &rejected)
			if read != landed+rejected || rejected != uint64(len(got)) {
				t.Errorf("read %d, landed %d, rejected %d; %d in rejected_rows", read, landed, rejected, len(got))
			}
		})
	}
}

// setField sets field col of the first record (line 2) to v.
func setField(col int, v string) func([]byte) []byte {
	return func(b []byte) []byte {
		i := bytes.IndexByte(b, '\n') + 1
		j := i + bytes.IndexByte(b[i:], '\n')
		row := bytes.Split(b[i:j], []byte(","))
		row[col] = []byte(v)
		return append(append(append([]byte{}, b[:i]...), bytes.Join(row, []byte(","))...), b[j:]...)
	}
}

// TestInjectionInData: values that look like SQL land as they are and run
// nothing: rows travel as typed columns over the native protocol, never as
// SQL text.
func TestInjectionInData(t *testing.T) {
	dir, _ := generateShop(t, 200, 0, "csv")
	evil := `x'); DROP TABLE raw_orders; --\`
	for _, f := range []string{"customers.csv", "products.csv"} {
		path := filepath.Join(dir, f)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.IndexByte(b, '\n') + 1
		j := i + bytes.IndexByte(b[i:], '\n')
		row := bytes.Split(b[i:j], []byte(","))
		col := map[string]int{"customers.csv": 5, "products.csv": 2}[f] // city, name
		row[col] = []byte(`"` + evil + `"`)
		b = append(append(append([]byte{}, b[:i]...), bytes.Join(row, []byte(","))...), b[j:]...)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, wh := testClickHouse(t)
	cfg.Source.Files.Dir = dir
	if err := runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var cities, names, orders uint64
	for q, n := range map[string]*uint64{"raw_customers WHERE city": &cities, "raw_products WHERE name": &names} {
		if err := wh.Conn().QueryRow(context.Background(), "SELECT count() FROM "+wh.Database()+"."+q+" = ?", evil).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	queryRow(t, wh, "SELECT count() FROM {db}.raw_orders", &orders)
	if cities != 1 || names != 1 || orders == 0 {
		t.Errorf("%d customers and %d products hold the value as given, %d orders", cities, names, orders)
	}
}

// TestCorruptParquet: a Parquet file whose pages are damaged (not cut) fails
// extract with an error naming the file, recorded in runs as failed, with
// exact counts of what landed before: never a panic.
func TestCorruptParquet(t *testing.T) {
	dir, _ := generateShop(t, 2000, 0, "parquet")
	path := filepath.Join(dir, "orders.parquet")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 3; i < len(b)/3+4096; i++ { // the middle of the data pages
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, wh := testClickHouse(t)
	cfg.Source.Files.Dir, cfg.Source.Files.Format = dir, "parquet"
	err = runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "orders.parquet") {
		t.Fatalf("extract of a corrupt file: %v, want an error naming orders.parquet", err)
	}
	t.Logf("the failure says: %v", err)
	var status, message string
	var read, landed, rejected uint64
	queryRow(t, wh, "SELECT status, message, rows_read, rows_landed, rows_rejected FROM {db}.runs WHERE stage = 'extract'", &status, &message, &read, &landed, &rejected)
	if status != "failed" || !strings.Contains(message, "orders.parquet") || read != landed+rejected {
		t.Errorf("runs: %s %q, read %d, landed %d, rejected %d", status, message, read, landed, rejected)
	}
	var orders uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_orders WHERE run_id IN (SELECT run_id FROM {db}.runs WHERE stage = 'extract')", &orders)
	if e := entityOf(t, wh, "orders"); orders != e {
		t.Errorf("%d orders landed, the run counted %d", orders, e)
	}
}

// entityOf is what the extract run recorded as landed for an entity.
func entityOf(t *testing.T, wh *clickhouse.DB, entity string) uint64 {
	t.Helper()
	var detail string
	queryRow(t, wh, "SELECT detail FROM {db}.runs WHERE stage = 'extract'", &detail)
	var res ExtractResult
	if err := json.Unmarshal([]byte(detail), &res); err != nil {
		t.Fatalf("runs.detail %q: %v", detail, err)
	}
	var n int64
	for _, e := range res.Entities {
		if string(e.Entity) == entity {
			n += e.Landed
		}
	}
	return uint64(n)
}
