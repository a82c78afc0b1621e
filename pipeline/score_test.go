package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/parquetdir"
)

// scoreFaults is a store whose reads of a slice's orders can fail from the
// nth on, and whose reads of features can come short, the rest of it the
// real store's.
type scoreFaults struct {
	*parquetdir.Dir
	ordersFailAt  int32 // 0: never
	reads         atomic.Int32
	featuresShort bool
}

var errWarehouseGone = errors.New("the warehouse went away")

func (f *scoreFaults) Read(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int) ([]arrow.Record, error) {
	if n := f.reads.Add(1); f.ordersFailAt > 0 && n >= f.ordersFailAt {
		return nil, errWarehouseGone
	}
	return f.Dir.Read(ctx, mem, q, batch)
}

func (f *scoreFaults) ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s warehouse.Slice) (arrow.Record, error) {
	rec, err := f.Dir.ReadRunSlice(ctx, mem, table, schema, asOf, runID, s)
	if err != nil || !f.featuresShort || schema.NumFields() == 1 { // the ids that cut the slices: whole
		return rec, err
	}
	defer rec.Release()
	return rec.NewSlice(1, rec.NumRows()), nil
}

// TestScoreSliceFaults: a shard's part is scored in slices, each slice's
// features read while its orders are predicted and the next slice's orders
// while its profiles are written. An orders read that fails (the first
// slice's, or a later one's while a slice is written), or features that
// miss a buyer, fail the part with the reason, and every Arrow buffer of
// every read is released.
func TestScoreSliceFaults(t *testing.T) {
	ctx := context.Background()
	cfg := testEmbeddedConfig(t)
	dir, _ := generateShop(t, 400, 0, "csv")
	cfg.Source.Files.Dir = dir
	if err := runStages(ctx, cfg, asOf, []string{"extract", "features", "train"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		ordersFailAt  int32
		featuresShort bool
		want          string
	}{
		{"first orders fail", 1, false, errWarehouseGone.Error()},
		{"later orders fail", 3, false, errWarehouseGone.Error()},
		{"features short", 0, true, "run features for the date first"},
		{"whole", 0, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memoryForTest(t)
			pq, err := parquetdir.Open(filepath.Join(cfg.DataDir, "warehouse"), mem)
			if err != nil {
				t.Fatal(err)
			}
			wh := &scoreFaults{Dir: pq, ordersFailAt: tc.ordersFailAt, featuresShort: tc.featuresShort}
			r := NewRun(testLogger(t), mem, "score", asOf)
			m, err := wh.LatestModel(ctx, asOf, model.LTVKinds...)
			if err != nil {
				t.Fatal(err)
			}
			o := OptionsFrom(cfg).Score
			o.ScoreBatchBuyers = 60 // about five slices
			n, _, err := scorePart(ctx, r, wh, o, m, nil)
			switch {
			case tc.want == "" && (err != nil || n < 300):
				t.Errorf("%d profiles written, err %v; want every customer's", n, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
			if reads := wh.reads.Load(); tc.want == "" && reads < 4 {
				t.Errorf("%d orders reads: the part was not scored in slices", reads)
			}
		})
	}
}
