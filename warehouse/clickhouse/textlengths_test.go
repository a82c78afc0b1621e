package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestTextLengths: text is read back byte for byte as it landed, whether a
// read selects its column as a FixedString (short values) or as a String
// (one value longer than fixedStringBytes): after a later run lands longer
// values (the writer raises the recorded length first), and when no length
// was recorded (a warehouse that had rows before migration 0036).
func TestTextLengths(t *testing.T) {
	w, mem, sets := rawTables(t)
	ctx := context.Background()
	landRows(t, w, mem, sets, canon.Customers, "run-1", func(add func(map[string]string)) {
		add(map[string]string{"customer_id": "C1", "created_at": "2025-01-01 00:00:00", "updated_at": "2025-01-01 00:00:00"})
	})
	landed := map[string]string{} // session by event id
	land := func(run string, sessions ...string) {
		landRows(t, w, mem, sets, canon.Events, run, func(add func(map[string]string)) {
			for _, s := range sessions {
				id := fmt.Sprintf("E%d", len(landed))
				landed[id] = s
				add(map[string]string{"event_id": id, "ts": "2025-01-02 00:00:00", "customer_id": "C1", "session_id": s, "type": "page_view"})
			}
		})
	}
	q := warehouse.Query{Entity: canon.Events, Columns: []string{"event_id", "session_id", "type"}}
	check := func(name string, wantLongest uint64, wantFixed bool) {
		t.Helper()
		got := map[string]string{}
		if err := w.Each(ctx, mem, q, 2, func(rec arrow.Record) error {
			ids, sessions := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
			for i := range int(rec.NumRows()) {
				got[ids.Value(i)] = sessions.Value(i)
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", landed) {
			t.Errorf("%s: sessions %q, want %q", name, got, landed)
		}
		lengths, err := w.textLengths(ctx, canon.Events, []string{"session_id"})
		if err != nil {
			t.Fatal(err)
		}
		_, cols, _ := q.Schema()
		exprs, dest := []string{"event_id", "session_id", "type"}, make([]any, 3)
		if err := w.fixStrings(ctx, q, cols, exprs, dest); err != nil {
			t.Fatal(err)
		}
		if fixed := strings.HasPrefix(exprs[1], "toFixedString("); lengths["session_id"] != wantLongest || fixed != wantFixed {
			t.Errorf("%s: session_id recorded %d bytes long, read as %s; want %d bytes, fixed %v", name, lengths["session_id"], exprs[1], wantLongest, wantFixed)
		}
	}
	// Empty, multi-byte, with a space, exactly fixedStringBytes.
	land("run-1", "", "S1", "ß-ü", "in between", strings.Repeat("x", fixedStringBytes))
	check("first run", fixedStringBytes, true)
	land("run-2", "S2")
	check("a shorter value", fixedStringBytes, true)
	long := strings.Repeat("y", fixedStringBytes+1)
	land("run-3", long)
	check("a longer value", fixedStringBytes+1, false)
	// Lengths never recorded: measured over the raw table, then recorded.
	if err := w.Exec(ctx, "TRUNCATE TABLE {db}.text_lengths"); err != nil {
		t.Fatal(err)
	}
	check("no length recorded", fixedStringBytes+1, false)
	var n uint64
	if err := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.text_lengths WHERE entity = 'events'", w.db)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("the lengths measured were not recorded")
	}
	// A value landed other than by the writer, longer than recorded: the
	// read fails saying so, and the next one reads it.
	byHand := strings.Repeat("z", 2*fixedStringBytes)
	if err := w.Exec(ctx, "INSERT INTO {db}.raw_events (event_id, ts, customer_id, session_id, type, run_id, _version) SELECT 'E-hand', toDateTime('2025-01-02 00:00:00'), 'C1', '"+byHand+"', 'page_view', 'by-hand', 1"); err != nil {
		t.Fatal(err)
	}
	landed["E-hand"] = byHand
	err := w.Each(ctx, mem, q, 2, func(rec arrow.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "run the stage again") {
		t.Fatalf("a value longer than recorded: %v, want an error that says to run again", err)
	}
	check("after a value landed by hand", 2*fixedStringBytes, false)
}

// TestPublishedText: a part Tessera writes reads back byte for byte, a
// column of values at most fixedStringBytes long as a FixedString, one with
// a longer value as a String, as the lengths the writer recorded say; and
// as Strings where no length was recorded (a part written before migration
// 0037).
func TestPublishedText(t *testing.T) {
	w := migratedWarehouse(t)
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tbl, s := warehouse.SegmentFeed, warehouse.Slice{Index: 0, Of: 1}
	short := func(i int) string { return strings.Repeat("s", i%(fixedStringBytes+1)) }  // "" up to 32 bytes
	long := func(i int) string { return strings.Repeat("é", i%(fixedStringBytes/2+2)) } // up to 34 bytes
	b := array.NewRecordBuilder(mem, tbl.Schema)
	for i := range 100 {
		b.Field(0).(*array.StringBuilder).Append(short(i))
		b.Field(1).(*array.Int32Builder).Append(int32(i))
		b.Field(2).(*array.StringBuilder).Append(long(i))
		b.Field(3).(*array.Int32Builder).Append(0)
		b.Field(4).(*array.Float64Builder).Append(0)
	}
	rec := b.NewRecord()
	b.Release()
	pw, err := w.OpenPart(ctx, tbl.Name, tbl.Schema, asOf, "job", s, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	// In two batches: the lengths recorded are the longest of both.
	for _, part := range []arrow.Record{rec.NewSlice(0, 40), rec.NewSlice(40, 100)} {
		err = pw.Write(ctx, part)
		part.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	rec.Release()
	if err := pw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(name string, want []string) {
		t.Helper()
		read := 0
		if err := w.EachPart(ctx, mem, tbl.Name, tbl.Schema, asOf, "job", []warehouse.Slice{s}, 30, func(rec arrow.Record) error {
			for i := range int(rec.NumRows()) {
				k := int(rec.Column(1).(*array.Int32).Value(i))
				if a, c := rec.Column(0).(*array.String).Value(i), rec.Column(2).(*array.String).Value(i); a != short(k) || c != long(k) {
					return fmt.Errorf("row %d: %q, %q; want %q, %q", k, a, c, short(k), long(k))
				}
				read++
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if read != 100 {
			t.Fatalf("%s: read %d rows of 100", name, read)
		}
		p, err := publishedColumns(tbl.Name, tbl.Schema)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.fixParts(ctx, &p, tbl.Schema, []string{partTable(tbl.Name, asOf, "job", s)}); err != nil {
			t.Fatal(err)
		}
		if got := []string{p.exprs[p.at[0]], p.exprs[p.at[2]]}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: selected %q, want %q", name, got, want)
		}
	}
	check("lengths recorded", []string{"toFixedString(segment_id, 32)", "product_id"})
	if err := w.Exec(ctx, "TRUNCATE TABLE {db}.part_text_lengths"); err != nil {
		t.Fatal(err)
	}
	check("no length recorded", []string{"segment_id", "product_id"})
}

// TestStaleTextLengths: writing a part deletes what part_text_lengths
// recorded more than a day ago of the table's parts (their parts are dropped
// after a day), and keeps the lengths of the part just written, of parts
// written since, and of other tables' parts: on one server and on the
// loopback cluster (a mutation of each shard's replicated table).
func TestStaleTextLengths(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(t *testing.T) *DB
	}{{"one server", migratedWarehouse}, {"cluster", func(t *testing.T) *DB {
		w := testCluster(t)
		if _, err := w.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return w
	}}} {
		t.Run(c.name, func(t *testing.T) { staleTextLengths(t, c.open(t)) })
	}
}

func staleTextLengths(t *testing.T, w *DB) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tbl := warehouse.SegmentFeed
	recorded := func(part string, daysAgo int) {
		t.Helper()
		if err := w.Exec(ctx, fmt.Sprintf("INSERT INTO {db}.part_text_lengths (part, column, longest, saved_at) SELECT %s, 'segment_id', 7, now() - %d", quote(part), daysAgo*86400+60)); err != nil {
			t.Fatal(err)
		}
	}
	recorded(tbl.Name+"_part_old", 2)
	recorded(tbl.Name+"_part_today", 0)
	recorded(warehouse.CustomerPlan.Name+"_part_old", 2) // another table's: its own writes delete it
	b := array.NewRecordBuilder(mem, tbl.Schema)
	for j := range tbl.Schema.NumFields() {
		switch fb := b.Field(j).(type) {
		case *array.StringBuilder:
			fb.Append("x")
		case *array.Int32Builder:
			fb.Append(1)
		case *array.Float64Builder:
			fb.Append(1)
		default:
			t.Fatalf("column %d: %T", j, fb)
		}
	}
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s := warehouse.Slice{Index: 0, Of: 1}
	pw, err := w.OpenPart(ctx, tbl.Name, tbl.Schema, asOf, "job", s, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{warehouse.CustomerPlan.Name + "_part_old", partTable(tbl.Name, asOf, "job", s), tbl.Name + "_part_today"}
	slices.Sort(want)
	// The deletion is a mutation: the server applies it after the ALTER returns.
	var parts []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if err := w.conn.QueryRow(ctx, w.expand("SELECT arraySort(groupUniqArray(part)) FROM {db}.part_text_lengths")).Scan(&parts); err != nil {
			t.Fatal(err)
		}
		if slices.Equal(parts, want) || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Equal(parts, want) {
		t.Errorf("lengths recorded of %q a minute after the part's write, want %q", parts, want)
	}
}
