package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in, job string
		ok      bool
	}{{"0/1", "", true}, {"3/4", "job", true}, {"3/4", "", false}, {"4/4", "job", false}, {"-1/4", "job", false}, {"1", "job", false}, {"1/0", "job", false}} {
		if _, err := ParseShard(c.in, c.job); (err == nil) != c.ok {
			t.Errorf("%q (job %q): %v", c.in, c.job, err)
		}
	}
	// Every customer in exactly one shard, and shards of similar size.
	counts := make([]int, 4)
	for i := 0; i < 10000; i++ {
		counts[ShardOf(fmt.Sprintf("C%08d", i), 4)]++
	}
	for s, n := range counts {
		if n < 2200 || n > 2800 {
			t.Errorf("shard %d has %d of 10,000 customers", s, n)
		}
	}
}

// TestShardedScore: score and publish split over 4 shards, run at once as the
// pods of an Indexed Job run, publish the same rows as one process.
func TestShardedScore(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 4000, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.Kube.Wait = time.Minute
	ctx := context.Background()
	day := "2026-10-31"
	sums := func() string { // UNION ALL parts come in any order: each is labelled, and sorted
		s := queryStrings(t, wh, `SELECT 'scores ' || toString(groupBitXor(cityHash64(customer_id, model_id, p_alive, clv_12m, next_order_in_days, rfm_code, rfm_segment,
				lifecycle_stage, vip_tier, potential_vip_probability, strategy, action, micro_segment, product_feed))) FROM {db}.customer_scores WHERE as_of = toDate('`+day+`')
			UNION ALL SELECT 'segments ' || toString(groupBitXor(cityHash64(segment_id, label, size, revenue_12m, mean_clv, strategy))) FROM {db}.segments WHERE as_of = toDate('`+day+`')
			UNION ALL SELECT 'members ' || toString(groupBitXor(cityHash64(segment_id, customer_id, strategy, product_feed, control_group))) FROM {db}.segment_members WHERE as_of = toDate('`+day+`')
			UNION ALL SELECT 'feed ' || toString(groupBitXor(cityHash64(segment_id, rank, product_id, lift))) FROM {db}.segment_feed WHERE as_of = toDate('`+day+`')`)
		sort.Strings(s)
		return strings.Join(s, " ")
	}
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	one := sums()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := 3; i >= 0; i-- { // shard 0 last: it must wait for the others
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = runShard(ctx, cfg, asOf, []string{"score", "publish"}, Shard{Index: i, Of: 4, Job: "score-test-1"}, testLogger(t))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	var parts uint64
	queryRow(t, wh, "SELECT uniqExact(shard) FROM {db}.score_parts WHERE as_of = toDate('"+day+"') AND score_job = 'score-test-1'", &parts)
	if four := sums(); four != one || parts != 4 {
		t.Errorf("4 shards (%d parts) published checksums %s, one process %s", parts, four, one)
	}
}
