package pipeline

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// recordingPart is a part that keeps the first column of what is written
// and fails from its failAt-th write on (0: never).
type recordingPart struct {
	got    []int64
	writes int
	failAt int
}

func (p *recordingPart) Write(_ context.Context, rec arrow.Record) error {
	p.writes++
	if p.failAt > 0 && p.writes >= p.failAt {
		return errors.New("the server went away")
	}
	p.got = append(p.got, rec.Column(0).(*array.Int64).Int64Values()...)
	return nil
}
func (p *recordingPart) Close(context.Context) error { return nil }
func (p *recordingPart) Abort(context.Context)       {}

// TestWriteBehind: batches land in the order written, each part its own;
// after a failed write the later ones are dropped, the error is returned by
// the next write or by wait, and every record is released.
func TestWriteBehind(t *testing.T) {
	for _, c := range []struct {
		name   string
		failAt int
	}{{"all written", 0}, {"third write fails", 3}} {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			a, b := &recordingPart{failAt: c.failAt}, &recordingPart{}
			wb := newWriteBehind(context.Background(), 2)
			var want []int64
			var writeErr error
			for i := range int64(20) {
				bld := array.NewInt64Builder(mem)
				bld.AppendValues([]int64{2 * i, 2*i + 1}, nil)
				col := bld.NewArray()
				rec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{col}, 2)
				col.Release()
				bld.Release()
				part := a
				if i%2 == 1 {
					part = b
				} else {
					want = append(want, 2*i, 2*i+1)
				}
				if err := wb.write(part, rec); err != nil && writeErr == nil {
					writeErr = err
				}
				rec.Release()
			}
			err := wb.wait()
			if c.failAt == 0 {
				if err != nil || writeErr != nil {
					t.Fatalf("wait %v, write %v", err, writeErr)
				}
				if !slices.Equal(a.got, want) || len(b.got) != 20 {
					t.Errorf("part a got %v, want %v; part b %d values", a.got, want, len(b.got))
				}
				return
			}
			if err == nil {
				t.Fatal("wait: no error after a failed write")
			}
			if len(a.got) != 2*(c.failAt-1) || a.writes < c.failAt {
				t.Errorf("part a got %v in %d writes", a.got, a.writes)
			}
			if a.writes+b.writes >= 20 {
				t.Errorf("%d writes after the failure: none should follow it", a.writes+b.writes)
			}
		})
	}
}
