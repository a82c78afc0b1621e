package pipeline

import (
	"context"
	"strconv"
	"testing"

	"github.com/tessera-cdp/tessera/segment"
)

// TestPlanInBatches: shard 0 plans in passes over the profiles, bisecting a
// batch of macro groups at a time. With batches of 250 buyers (every group
// on its own) and macro groups too small for a segment (joined to their
// nearest first), it publishes exactly what one batch of every buyer does,
// on the first night and on the next (segments keep their ids).
func TestPlanInBatches(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 4000, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.Segmentation.MicroSegments = segment.SegmentOptions{MinSize: 150, MaxSize: 400, Iterations: 12}
	ctx := context.Background()
	batched := func(o *Options) { o.Score.PlanBatchBuyers = 250 }
	for night := range 2 {
		day := asOf.AddDate(0, 0, night)
		d := day.Format("2006-01-02")
		if err := runStages(ctx, cfg, day, nil, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		one, err := publishedSums(cfg, day)
		if err != nil {
			t.Fatal(err)
		}
		if err := runStages(ctx, cfg, day, []string{"score", "publish"}, testLogger(t), batched); err != nil {
			t.Fatal(err)
		}
		if got, err := publishedSums(cfg, day); err != nil || got != one {
			t.Errorf("night %d: batches of 250 buyers published %s (%v), one batch %s", night+1, got, err, one)
		}
		// Members of a segment of another stage's group: a small group joined.
		joined := queryStrings(t, wh, `SELECT toString(count()) FROM (SELECT segment_id, lifecycle_stage FROM {db}.segment_members WHERE as_of = toDate('`+d+`'))
			ANY INNER JOIN (SELECT segment_id, macro_group FROM {db}.segments WHERE as_of = toDate('`+d+`')) USING segment_id
			WHERE NOT startsWith(macro_group, replaceAll(lifecycle_stage, '_', ' '))`)
		if n, _ := strconv.Atoi(joined[0]); n == 0 {
			t.Errorf("night %d: no macro group was joined to another: the test does not cover joining", night+1)
		}
		kept := queryStrings(t, wh, `SELECT toString(count()) FROM {db}.segments WHERE as_of = toDate('`+d+`')
			AND segment_id IN (SELECT segment_id FROM {db}.segments WHERE as_of = toDate('`+d+`') - 1)`)
		t.Logf("night %d: %s members in a joined group's segments, %s segments kept last night's id", night+1, joined[0], kept[0])
		if n, _ := strconv.Atoi(kept[0]); night == 1 && n == 0 {
			t.Errorf("night 2: no segment kept its id")
		}
	}
}
