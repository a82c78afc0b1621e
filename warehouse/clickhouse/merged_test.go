package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/warehouse"
)

// TestPartMergedByKey: a part of several data parts, whose keys interleave
// and repeat, reads back whole and in key order with its data parts merged
// here (the server's query log has a query a data part and no sorted one);
// of more data parts than are merged at once, whole and in order through the
// server's sort; and data parts listed, then merged away before they are
// read, are told apart (errMergedAway) before any row is handed over.
func TestPartMergedByKey(t *testing.T) {
	w := migratedWarehouse(t)
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	tbl, s, job := warehouse.SegmentFeed, warehouse.Slice{Index: 0, Of: 2}, "merge-job"
	name := partTable(tbl.Name, asOf, job, s)
	pw, err := w.OpenPart(ctx, tbl.Name, tbl.Schema, asOf, job, s, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	rec := feedRows(mem, 0, 500) // segment ids S0 to S6, each many times
	if err := pw.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := pw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if err := w.conn.Exec(ctx, w.expand(q)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Each INSERT is a data part of its own while merges are stopped: the
	// same keys, on other rows, ranks of their own.
	exec("SYSTEM STOP MERGES {db}." + name)
	var cols []string
	rows, err := w.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", w.db, name)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	addPart := func(k int) {
		exprs := make([]string, len(cols))
		for i, c := range cols {
			switch c {
			case "segment_id":
				// As long as the part's ids (text_lengths): S0 to S6 again, of
				// other rows.
				exprs[i] = fmt.Sprintf("concat('S', toString((toUInt8(substring(segment_id, 2)) + %d) %% 7))", k)
			case "rank":
				exprs[i] = fmt.Sprintf("rank + %d", 1000*k)
			default:
				exprs[i] = c
			}
		}
		exec(fmt.Sprintf("INSERT INTO {db}.%s (%s) SELECT %s FROM {db}.%s WHERE rank < 500", name, strings.Join(cols, ", "), strings.Join(exprs, ", "), name))
	}
	addPart(1)
	addPart(2)
	read := func() (ids []string, ranks map[int32]bool) {
		t.Helper()
		ranks = map[int32]bool{}
		if err := w.EachPart(ctx, mem, tbl.Name, tbl.Schema, asOf, job, []warehouse.Slice{s}, 97, func(rec arrow.Record) error {
			if rec.NumRows() > 97 {
				return fmt.Errorf("a record of %d rows, batch 97", rec.NumRows())
			}
			for i := range int(rec.NumRows()) {
				ids = append(ids, rec.Column(0).(*array.String).Value(i))
				r := rec.Column(1).(*array.Int32).Value(i)
				if ranks[r] {
					return fmt.Errorf("rank %d twice", r)
				}
				ranks[r] = true
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ids, ranks
	}
	check := func(parts int) {
		t.Helper()
		ids, ranks := read()
		if len(ids) != 500*parts || len(ranks) != 500*parts {
			t.Fatalf("%d rows read (%d ranks) of %d written", len(ids), len(ranks), 500*parts)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] < ids[i-1] {
				t.Fatalf("row %d: %q after %q", i, ids[i], ids[i-1])
			}
		}
		for k := range parts {
			for r := range 500 {
				if !ranks[int32(1000*k+r)] {
					t.Fatalf("rank %d not read", 1000*k+r)
				}
			}
		}
	}
	logged := func(what string) uint64 {
		t.Helper()
		exec("SYSTEM FLUSH LOGS")
		var n uint64
		if err := w.conn.QueryRow(ctx, `SELECT count() FROM system.query_log WHERE type = 2 AND position(query, ?) > 0
    AND position(query, ?) > 0 AND position(query, 'system.query_log') = 0`, w.db+"."+name, what).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	check(3)
	if n := logged("WHERE _part = "); n != 3 {
		t.Errorf("%d queries of a data part logged, want 3", n)
	}
	if n := logged("ORDER BY"); n != 0 {
		t.Errorf("%d sorted queries logged, want none", n)
	}

	// Five data parts: more than are merged at once.
	addPart(3)
	addPart(4)
	check(5)
	if n := logged("ORDER BY"); n != 1 {
		t.Errorf("%d sorted queries logged, want 1", n)
	}

	// Listed, then merged into one before they are read.
	p, err := publishedColumns(tbl.Name, tbl.Schema)
	if err != nil {
		t.Fatal(err)
	}
	exec("SYSTEM START MERGES {db}." + name)
	exec("OPTIMIZE TABLE {db}." + name + " FINAL")
	parts, err := w.dataParts(ctx, []string{name}, "segment_id")
	if err != nil || len(parts) != 1 {
		t.Fatalf("data parts after OPTIMIZE: %v (%v), want one", parts, err)
	}
	gone := append([]dataPart{{table: name, name: "20261102_1_1_0", rows: 500}}, parts...)
	handed := 0
	err = w.readMerged(ctx, mem, p, tbl.Schema, gone, 97, func(arrow.Record) error { handed++; return nil })
	if !errors.Is(err, errMergedAway) || handed != 0 {
		t.Fatalf("a data part merged away: %v, %d records handed over; want errMergedAway, none", err, handed)
	}
	check(5)
}
