package clickhouse

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestScannedRows: the records of scanned rows hold their values, batch
// after batch (the string buffers are reused), empty strings and nulls
// included, and release all they allocate.
func TestScannedRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "clv", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String},
	}, nil)
	s := newScannedRows(mem, schema)
	defer s.release()
	batches := [][]struct {
		id, note string
		clv      *float64
	}{
		{{"C1", "", ptr(1.5)}, {"C22", "gated: too few buyers", nil}, {"", "x", ptr(0.0)}},
		{{"C333", "y", nil}},
		{},
	}
	for _, rows := range batches {
		for _, r := range rows {
			clv := &nullValue[float64]{null: 1}
			if r.clv != nil {
				clv = &nullValue[float64]{v: *r.clv}
			}
			appendScanned(s, 0, &r.id)
			appendScanned(s, 1, clv)
			appendScanned(s, 2, &r.note)
			s.rows++
		}
		rec, err := s.record()
		if err != nil {
			t.Fatal(err)
		}
		if int(rec.NumRows()) != len(rows) {
			t.Fatalf("%d rows, want %d", rec.NumRows(), len(rows))
		}
		ids, clvs, notes := rec.Column(0).(*array.String), rec.Column(1).(*array.Float64), rec.Column(2).(*array.String)
		for i, r := range rows {
			if ids.Value(i) != r.id || notes.Value(i) != r.note {
				t.Errorf("row %d: %q %q, want %q %q", i, ids.Value(i), notes.Value(i), r.id, r.note)
			}
			if clvs.IsNull(i) != (r.clv == nil) || (r.clv != nil && clvs.Value(i) != *r.clv) {
				t.Errorf("row %d: clv %v (null %v), want %v", i, clvs.Value(i), clvs.IsNull(i), r.clv)
			}
		}
		rec.Release()
	}
}

func ptr[T any](v T) *T { return &v }
