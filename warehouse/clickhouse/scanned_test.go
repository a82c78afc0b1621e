package clickhouse

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestScannedRows: the records of scanned rows hold their values, batch
// after batch (the string buffers are reused), empty strings, nulls and
// FixedStrings padded or full included, and release all they allocate.
func TestScannedRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "clv", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String},
		{Name: "code", Type: arrow.BinaryTypes.String}, // read as a FixedString(4)
	}, nil)
	s := newScannedRows(mem, schema)
	defer s.release()
	// What a row is scanned into, as handRows scans it: the same holders
	// for every row.
	var id, note string
	var clv nullValue[float64]
	var code []byte
	var add []func()
	for i, d := range []any{&id, &clv, &note, &code} {
		add = append(add, scannedAppender(s, i, d))
	}
	batches := [][]struct {
		id, note, code string
		clv            *float64
	}{
		{{"C1", "", "AB\x00\x00", ptr(1.5)}, {"C22", "gated: too few buyers", "ABCD", nil}, {"", "x", "\x00\x00\x00\x00", ptr(0.0)}},
		{{"C333", "y", "A\x00\x00\x00", nil}},
		{},
	}
	for _, rows := range batches {
		for _, r := range rows {
			id, note, code = r.id, r.note, []byte(r.code)
			clv = nullValue[float64]{null: 1}
			if r.clv != nil {
				clv = nullValue[float64]{v: *r.clv}
			}
			for _, a := range add {
				a()
			}
			s.rows++
		}
		rec, err := s.record()
		if err != nil {
			t.Fatal(err)
		}
		if int(rec.NumRows()) != len(rows) {
			t.Fatalf("%d rows, want %d", rec.NumRows(), len(rows))
		}
		ids, clvs, notes, codes := rec.Column(0).(*array.String), rec.Column(1).(*array.Float64), rec.Column(2).(*array.String), rec.Column(3).(*array.String)
		for i, r := range rows {
			if ids.Value(i) != r.id || notes.Value(i) != r.note {
				t.Errorf("row %d: %q %q, want %q %q", i, ids.Value(i), notes.Value(i), r.id, r.note)
			}
			if want := strings.TrimRight(r.code, "\x00"); codes.Value(i) != want {
				t.Errorf("row %d: code %q, want %q", i, codes.Value(i), want)
			}
			if clvs.IsNull(i) != (r.clv == nil) || (r.clv != nil && clvs.Value(i) != *r.clv) {
				t.Errorf("row %d: clv %v (null %v), want %v", i, clvs.Value(i), clvs.IsNull(i), r.clv)
			}
		}
		rec.Release()
	}
}

func ptr[T any](v T) *T { return &v }

// TestDayTime: dayTime is Arrow's Date32.ToTime, before and after 1970.
func TestDayTime(t *testing.T) {
	for d := arrow.Date32(-800000); d <= 800000; d += 7 {
		if got, want := dayTime(d), d.ToTime(); !got.Equal(want) || got.Location() != want.Location() || got.String() != want.String() {
			t.Fatalf("day %d: %v, want %v", d, got, want)
		}
	}
}
