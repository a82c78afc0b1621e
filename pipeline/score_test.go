package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/parquetdir"
)

// scoreFaults is a store whose reads of a slice's orders or features can be
// made to fail or to come short, the rest of it the real store's.
type scoreFaults struct {
	*parquetdir.Dir
	ordersErr     error
	featuresShort bool
}

func (f *scoreFaults) Read(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int) ([]arrow.Record, error) {
	if f.ordersErr != nil {
		return nil, f.ordersErr
	}
	return f.Dir.Read(ctx, mem, q, batch)
}

func (f *scoreFaults) ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s warehouse.Slice) (arrow.Record, error) {
	rec, err := f.Dir.ReadRunSlice(ctx, mem, table, schema, asOf, runID, s)
	if err != nil || !f.featuresShort {
		return rec, err
	}
	defer rec.Release()
	return rec.NewSlice(1, rec.NumRows()), nil
}

// TestScoreSliceFaults: a slice's features are read while its orders are;
// an orders read that fails, or features that miss a buyer, fail the slice
// with the reason, and every Arrow buffer of both reads is released.
func TestScoreSliceFaults(t *testing.T) {
	ctx := context.Background()
	cfg := testEmbeddedConfig(t)
	dir, _ := generateShop(t, 400, 0, "csv")
	cfg.Source.Files.Dir = dir
	if err := runStages(ctx, cfg, asOf, []string{"extract", "features", "train"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("the warehouse went away")
	for _, tc := range []struct {
		name  string
		store scoreFaults
		want  string
	}{
		{"orders fail", scoreFaults{ordersErr: broken}, broken.Error()},
		{"features short", scoreFaults{featuresShort: true}, "run features for the date first"},
		{"whole", scoreFaults{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memoryForTest(t)
			pq, err := parquetdir.Open(filepath.Join(cfg.DataDir, "warehouse"), mem)
			if err != nil {
				t.Fatal(err)
			}
			wh := tc.store
			wh.Dir = pq
			r := NewRun(testLogger(t), mem, "score", asOf)
			m, err := wh.LatestModel(ctx, asOf, model.LTVKinds...)
			if err != nil {
				t.Fatal(err)
			}
			s := NoShard.slice()
			pw, err := wh.OpenPart(ctx, warehouse.CustomerProfiles.Name, warehouse.CustomerProfiles.Schema, asOf, "test", s, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer pw.Abort(ctx)
			n, _, err := scoreSlice(ctx, r, &wh, pw, s, OptionsFrom(cfg).Score, m, nil)
			switch {
			case tc.want == "" && (err != nil || n == 0):
				t.Errorf("%d profiles written, err %v", n, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}
