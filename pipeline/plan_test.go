package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestPlanInBatches: score takes its customers a hash range at a time, and
// shard 0 plans in passes over the profiles, bisecting a batch of macro
// groups at a time. Scoring about 700 buyers at a time (5 ranges) and
// planning batches of 250 buyers (every group on its own), with macro groups
// too small for a segment (joined to their nearest first), publish exactly
// what one range and one batch of every buyer do, on the first night and on
// the next (segments keep their ids). So does a plan whose profiles outgrow
// what it holds (each pass reads them from the warehouse), against one that
// holds them.
func TestPlanInBatches(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 4000, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.Segmentation.MicroSegments = segment.SegmentOptions{MinSize: 150, MaxSize: 400, Iterations: 12}
	ctx := context.Background()
	batched := func(o *Options) { o.Score.PlanBatchBuyers, o.Score.ScoreBatchBuyers = 250, 700 }
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
			t.Errorf("night %d: ranges of 700 buyers and batches of 250 published %s (%v), one of each %s", night+1, got, err, one)
		}
		unheld := func(o *Options) { o.Score.PlanHoldBytes = 1 }
		if err := runStages(ctx, cfg, day, []string{"score", "publish"}, testLogger(t), unheld); err != nil {
			t.Fatal(err)
		}
		if got, err := publishedSums(cfg, day); err != nil || got != one {
			t.Errorf("night %d: the profiles read again by every pass published %s (%v), held once %s", night+1, got, err, one)
		}
		// A batch between the buyers and the customers: the profiles are
		// held once the RFM pass has counted the buyers.
		counts := queryStrings(t, wh, `SELECT concat(toString(count()), ' ', toString(countIf(lifecycle_stage != 'non_buyer'))) FROM {db}.customer_scores WHERE as_of = toDate('`+d+`')`)
		var customers, buyers int
		if _, err := fmt.Sscan(counts[0], &customers, &buyers); err != nil || buyers >= customers-1 {
			t.Fatalf("night %d: %q customers and buyers: the shop needs customers without orders", night+1, counts[0])
		}
		heldLate := func(o *Options) { o.Score.PlanBatchBuyers = (customers + buyers) / 2 }
		if err := runStages(ctx, cfg, day, []string{"score", "publish"}, testLogger(t), heldLate); err != nil {
			t.Fatal(err)
		}
		if got, err := publishedSums(cfg, day); err != nil || got != one {
			t.Errorf("night %d: the profiles held after the RFM pass published %s (%v), held before it %s", night+1, got, err, one)
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

// TestSubSlices: the ranges score takes a shard's customers in hold each of
// the shard's customers once and no other, as many as its buyers need.
func TestSubSlices(t *testing.T) {
	for _, c := range []struct {
		slice         warehouse.Slice
		buyers, batch int
		want          int
	}{
		{warehouse.Slice{Index: 0, Of: 1}, 3000, 700, 5},
		{warehouse.Slice{Index: 0, Of: 1}, 3000, 3000, 1},
		{warehouse.Slice{Index: 2, Of: 4}, 250_000, 100_000, 3},
		{warehouse.Slice{Index: 3, Of: 4}, 2_500_000, 250_000, 10},
		{warehouse.Slice{Index: 1, Of: 3}, 100, 250_000, 1},
	} {
		subs := subSlices(c.slice, c.buyers, c.batch)
		if len(subs) != c.want {
			t.Errorf("%v of %d buyers by %d: %d ranges, want %d", c.slice, c.buyers, c.batch, len(subs), c.want)
		}
		for i := range 20000 {
			id := "C" + strconv.Itoa(i)
			owners := 0
			for _, s := range subs {
				if s.Owns(id) {
					owners++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[c.slice.Owns(id)]; owners != want {
				t.Fatalf("%v cut in %d: customer %s in %d ranges, want %d", c.slice, len(subs), id, owners, want)
			}
		}
	}
}

// TestPurchases: each segment's counts from purchases held in two bytes,
// and from purchases widened to four when a product's number does not fit,
// are the counts of the same purchases held in four bytes from the start.
func TestPurchases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		products int32
	}{{"two bytes", 300}, {"widened", 70000}} {
		t.Run(tc.name, func(t *testing.T) {
			const segments = 3
			var ps purchases
			want := make([][]int32, segments)
			for range segments {
				ps.grow()
			}
			for k := range int32(3000) {
				seg, n := k%segments, (k*7919)%min(tc.products, 40+k*25)
				ps.add(seg, n)
				want[seg] = append(want[seg], n)
			}
			if tc.products > 65536 && ps.wide == nil {
				t.Fatal("a product numbered above 65,535: the purchases were not widened")
			}
			counts := make([]int32, tc.products)
			for s := range int32(segments) {
				got, w := ps.count(s, counts), segment.CountBought(want[s], counts)
				if len(w) == 0 || !slices.Equal(got, w) {
					t.Errorf("segment %d: counts %v, want %v", s, got, w)
				}
			}
		})
	}
}
