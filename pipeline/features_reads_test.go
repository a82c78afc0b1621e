package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/go-faster/city"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/parquetdir"
)

// eventTally is what a read of site events handed over: its rows and the
// sum of their hashes (customer, time, type), whatever their order.
type eventTally struct {
	rows int
	sum  uint64
}

func (e *eventTally) add(rec arrow.Record) error {
	ids := canon.ArrayOf[*array.String](rec, "customer_id")
	types := canon.ArrayOf[*array.String](rec, "type")
	ts := canon.ArrayOf[*array.Timestamp](rec, "ts")
	for i := range int(rec.NumRows()) {
		e.rows++
		e.sum += city.CH64([]byte(ids.Value(i))) ^ uint64(ts.Value(i))*0x9e3779b97f4a7c15 ^ city.CH64([]byte(types.Value(i)))<<1
	}
	return nil
}

// failingHalf is a store whose reads of the second half of a slice fail
// after handing over one record.
type failingHalf struct {
	streamer
	handed atomic.Int32
}

func (f *failingHalf) Each(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int, fn func(arrow.Record) error) error {
	if q.Slice.Index%2 == 0 {
		return f.streamer.Each(ctx, mem, q, batch, fn)
	}
	return f.streamer.Each(ctx, mem, q, batch, func(rec arrow.Record) error {
		if f.handed.Add(1) > 1 {
			return errWarehouseGone
		}
		return fn(rec)
	})
}

// TestEachAtOnce: site events read in 2 and 3 ranges at once hand over
// every row one read hands over, once, in the warehouse and in the
// in-process store, for the whole date and for a pod's slice; a range that
// fails fails the read with its reason, and every record is released.
func TestEachAtOnce(t *testing.T) {
	ctx := context.Background()
	dir, _ := generateShop(t, 300, 0, "csv")
	chCfg, chDB := testClickHouse(t)
	pqCfg := testEmbeddedConfig(t)
	chCfg.Source.Files.Dir, pqCfg.Source.Files.Dir = dir, dir
	for _, c := range []struct {
		name  string
		stage func() error
		store func(mem memory.Allocator) streamer
	}{
		{"clickhouse", func() error { return runStages(ctx, chCfg, asOf, []string{"extract"}, testLogger(t)) },
			func(memory.Allocator) streamer { return chDB }},
		{"parquet", func() error { return runStages(ctx, pqCfg, asOf, []string{"extract"}, testLogger(t)) },
			func(mem memory.Allocator) streamer {
				pq, err := parquetdir.Open(filepath.Join(pqCfg.DataDir, "warehouse"), mem)
				if err != nil {
					t.Fatal(err)
				}
				return pq
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.stage(); err != nil {
				t.Fatal(err)
			}
			for _, s := range []warehouse.Slice{{Index: 0, Of: 1}, {Index: 2, Of: 3}} {
				mem := memoryForTest(t)
				st := c.store(mem)
				q := eventsBefore(asOf)
				q.Slice = s
				var one eventTally
				if err := st.Each(ctx, mem, q, 64, one.add); err != nil {
					t.Fatal(err)
				}
				if one.rows < 100 {
					t.Fatalf("slice %v: %d site events: too few to tell", s, one.rows)
				}
				for _, n := range []int{2, 3} {
					var split eventTally
					if err := eachAtOnce(ctx, st, mem, q, 64, n, split.add); err != nil {
						t.Fatal(err)
					}
					if split != one {
						t.Errorf("slice %v read in %d at once: %+v, read whole: %+v", s, n, split, one)
					}
				}
				var got eventTally
				err := eachAtOnce(ctx, &failingHalf{streamer: st}, mem, q, 16, 2, got.add)
				if !errors.Is(err, errWarehouseGone) {
					t.Errorf("slice %v, a range failing: %v, want %v", s, err, errWarehouseGone)
				}
			}
		})
	}
}
