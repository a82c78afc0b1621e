package pipeline

import (
	"context"
	"testing"
	"time"
)

// TestSegmentIDsNightToNight: from one night to the next, most buyers stay in
// their micro-segment and most segments keep their id.
func TestSegmentIDsNightToNight(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 20000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if err := runStages(ctx, cfg, d1, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if err := runStages(ctx, cfg, d1.AddDate(0, 0, 1), []string{"features", "score", "publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var kept, total, movers, buyers uint64
	queryRow(t, wh, "SELECT countIf(segment_id IN (SELECT segment_id FROM {db}.segments WHERE as_of = toDate('2026-10-01'))), count() FROM {db}.segments WHERE as_of = toDate('2026-10-02')", &kept, &total)
	queryRow(t, wh, "SELECT count() FROM {db}.segment_changes WHERE as_of = toDate('2026-10-02') AND dimension = 'micro_segment'", &movers)
	queryRow(t, wh, "SELECT count() FROM {db}.customer_scores WHERE as_of = toDate('2026-10-02') AND micro_segment != ''", &buyers)
	t.Logf("%d of %d segments kept their id; %d of %d buyers changed micro-segment", kept, total, movers, buyers)
	if total < 20 || kept*10 < total*8 || movers*5 > buyers {
		t.Errorf("%d of %d segments kept their id, %d of %d buyers moved: want at least 80%% kept and at most 20%% moved", kept, total, movers, buyers)
	}
}
