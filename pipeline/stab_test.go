package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestSegmentIDsNightToNight: from one night to the next, most buyers stay in
// their micro-segment and most segments keep their id. The same test runs on
// the in-process store and on ClickHouse.
func TestSegmentIDsNightToNight(t *testing.T) {
	dir, _ := generateShop(t, 20000, 0, "csv")
	eachStore(t, func(t *testing.T, cfg config.Config) {
		cfg.Source.Files.Dir = dir
		ctx := context.Background()
		d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		d2 := d1.AddDate(0, 0, 1)
		if err := runStages(ctx, cfg, d1, nil, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		if err := runStages(ctx, cfg, d2, []string{"features", "score", "publish"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		before := map[string]bool{}
		for _, id := range readStrings(t, cfg, warehouse.Segments, "segment_id", d1) {
			before[id] = true
		}
		var kept, total, movers, buyers int
		for _, id := range readStrings(t, cfg, warehouse.Segments, "segment_id", d2) {
			total++
			if before[id] {
				kept++
			}
		}
		for _, dim := range readStrings(t, cfg, warehouse.SegmentChanges, "dimension", d2) {
			if dim == "micro_segment" {
				movers++
			}
		}
		for _, s := range readStrings(t, cfg, warehouse.CustomerScores, "micro_segment", d2) {
			if s != "" {
				buyers++
			}
		}
		t.Logf("%d of %d segments kept their id; %d of %d buyers changed micro-segment", kept, total, movers, buyers)
		if total < 20 || kept*10 < total*8 || movers*5 > buyers {
			t.Errorf("%d of %d segments kept their id, %d of %d buyers moved: want at least 80%% kept and at most 20%% moved", kept, total, movers, buyers)
		}
	})
}

// readStrings reads one text column of a published table's date through the
// configured store.
func readStrings(t *testing.T, cfg config.Config, tbl warehouse.Table, col string, asOf time.Time) []string {
	t.Helper()
	ctx := context.Background()
	st, err := OpenStore(ctx, cfg.ClickHouse, cfg.DataDir, memoryForTest(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.ReadPartition(ctx, memoryForTest(t), tbl.Name, tbl.Columns(col), asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	a := rec.Column(0).(*array.String)
	out := make([]string, a.Len())
	for i := range out {
		out[i] = a.Value(i)
	}
	return out
}
