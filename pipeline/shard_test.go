package pipeline

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/go-faster/city"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
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
		counts[warehouse.ShardOf(fmt.Sprintf("C%08d", i), 4)]++
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
			UNION ALL SELECT 'feed ' || toString(groupBitXor(cityHash64(segment_id, rank, product_id, lift))) FROM {db}.segment_feed WHERE as_of = toDate('`+day+`')
			UNION ALL SELECT 'changes ' || toString(groupBitXor(cityHash64(customer_id, dimension, change, from_value, to_value))) FROM {db}.segment_changes WHERE as_of = toDate('`+day+`')`)
		sort.Strings(s)
		return strings.Join(s, " ")
	}
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	one := sums()
	runShards(t, cfg, asOf, []string{"score", "publish"}, 4, "score-test-1")
	parts := 0
	for _, table := range []string{warehouse.CustomerProfiles.Name, warehouse.CustomerPlan.Name, warehouse.CustomerScores.Name, warehouse.SegmentMembers.Name, warehouse.SegmentChanges.Name} {
		n, err := wh.PartsWritten(ctx, table, asOf, "score-test-1", 4)
		if err != nil {
			t.Fatal(err)
		}
		parts += n
	}
	if four := sums(); four != one || parts != 5*4 {
		t.Errorf("4 shards (%d parts) published checksums %s, one process %s", parts, four, one)
	}
	// A part that lost rows after its shard wrote it (a hand, a disk): shard 0
	// refuses to publish it, naming the table, and readers keep the night.
	part := fmt.Sprintf("customer_scores_part_%s_%016x_1_of_4", asOf.Format("20060102"), city.CH64([]byte("score-test-1")))
	for _, q := range []string{"CREATE TABLE {db}.cut AS {db}." + part, "INSERT INTO {db}.cut SELECT * FROM {db}." + part + " WHERE cityHash64(customer_id) % 2 = 0",
		"DROP TABLE {db}." + part, "RENAME TABLE {db}.cut TO {db}." + part} {
		if err := wh.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	err := runShard(ctx, cfg, asOf, []string{"publish"}, Shard{Index: 0, Of: 4, Job: "score-test-1"}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "staged customer_scores") {
		t.Errorf("publish of a part cut short: %v, want a refusal naming customer_scores", err)
	}
	if got := sums(); got != one {
		t.Errorf("after the refusal readers see %s, want %s", got, one)
	}
	// Publish's pods one after another, pod 0 last, each waiting a second
	// for the others' counts of their baskets: the first three count every
	// pod's baskets themselves, pod 0 adds up the four pods' counts. The
	// same feeds either way.
	job := "score-test-alone"
	runShards(t, cfg, asOf, []string{"score"}, 4, job)
	for i := 3; i >= 0; i-- {
		if err := runShard(ctx, cfg, asOf, []string{"publish"}, Shard{Index: i, Of: 4, Job: job, ShareWait: time.Second}, testLogger(t)); err != nil {
			t.Fatalf("%s shard %d: %v", job, i, err)
		}
	}
	if got := sums(); got != one {
		t.Errorf("publish's pods one after another published %s, one process %s", got, one)
	}
	if shared := queryStrings(t, wh, "SELECT toString(uniqExact(shard)) FROM {db}.segment_purchases WHERE job = '"+job+"'"); len(shared) != 1 || shared[0] != "4" {
		t.Errorf("%s: the pods that shared their purchases: %v, want 4", job, shared)
	}
	// A pod whose Job's pods all shared their counts, but whose pod 1 did
	// not write its feeds in time (its part of segment_feed gone), ranks
	// every segment itself from the counts: the feeds one process ranked.
	r := NewRun(testLogger(t), memory.NewGoAllocator(), "publish", asOf)
	r.Shard = Shard{Index: 0, Of: 4, Job: job, ShareWait: time.Second}
	scoreRun, _, err := findPlan(ctx, r, wh)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := wh.PurchasesShared(ctx, asOf, job, scoreRun)
	if err != nil || len(runs) != 4 {
		t.Fatalf("the pods that shared: %v (%v)", runs, err)
	}
	if err := wh.Exec(ctx, fmt.Sprintf("DROP TABLE {db}.segment_feed_part_%s_%016x_1_of_4", asOf.Format("20060102"), city.CH64([]byte(job)))); err != nil {
		t.Fatal(err)
	}
	ranked, err := sharedFeeds(ctx, r, wh, wh, OptionsFrom(cfg).Score, scoreRun, runs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, row := range queryStrings(t, wh, "SELECT segment_id || ' ' || product_id FROM {db}.segment_feed WHERE as_of = toDate('"+day+"') ORDER BY segment_id, rank") {
		seg, product, _ := strings.Cut(row, " ")
		want[seg] = append(want[seg], product)
	}
	for seg := range ranked {
		if len(ranked[seg]) == 0 {
			delete(ranked, seg)
		}
	}
	if len(want) == 0 || !maps.EqualFunc(ranked, want, slices.Equal) {
		t.Errorf("without pod 1's feeds: %d segments ranked, one process's feeds %d segments; want the same", len(ranked), len(want))
	}
}

// TestShardedScoreEmbedded: on the embedded store, which has no table for
// the pods to share their baskets' counts through, each publish pod counts
// every shard's baskets itself: 4 shards publish what one process does.
func TestShardedScoreEmbedded(t *testing.T) {
	cfg := testEmbeddedConfig(t)
	dir, _ := generateShop(t, 2000, 0, "csv")
	cfg.Source.Files.Dir = dir
	cfg.Kube.Wait = time.Minute
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	one, err := publishedSums(cfg, asOf)
	if err != nil {
		t.Fatal(err)
	}
	runShards(t, cfg, asOf, []string{"score", "publish"}, 4, "score-embedded")
	if four, err := publishedSums(cfg, asOf); err != nil || four != one {
		t.Errorf("4 shards on the embedded store published\n%s(%v)\none process\n%s", four, err, one)
	}
}

// TestShardedFeatures: features split over 4 shards, run at once as the pods
// of an Indexed Job run, publish the same rows as one process, on the
// embedded store and on ClickHouse. A second job for the date publishes the
// same again.
func TestShardedFeatures(t *testing.T) {
	eachStore(t, func(t *testing.T, cfg config.Config) {
		dir, _ := generateShop(t, 3000, 0, "csv")
		cfg.Source.Files.Dir = dir
		cfg.Kube.Wait = time.Minute
		ctx := context.Background()
		if err := runStages(ctx, cfg, asOf, []string{"extract", "features"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		one := featureRows(t, cfg)
		// Two Jobs whose pods run at once (they take the category medians
		// from each other's counts), and one whose pods run one after
		// another, pod 0 last, each waiting a second for the others' counts
		// (the first computes the medians from every line, the others take
		// them).
		for _, job := range []string{"features-test-1", "features-test-2", "features-test-alone"} {
			if job == "features-test-alone" {
				for i := 3; i >= 0; i-- {
					if err := runShard(ctx, cfg, asOf, []string{"features"}, Shard{Index: i, Of: 4, Job: job, ShareWait: time.Second}, testLogger(t)); err != nil {
						t.Fatalf("%s shard %d: %v", job, i, err)
					}
				}
			} else {
				runShards(t, cfg, asOf, []string{"features"}, 4, job)
			}
			if cfg.ClickHouse.Addr != "" {
				shared, medians, storers := jobMedianRows(t, cfg, job)
				want := 4 // every pod shared its prices; pod 0 stored the medians of all, the others took them
				if job == "features-test-alone" {
					want = 1 // the first shared, then computed them; the others took them
				}
				if shared != want || medians < 3 || storers != 1 {
					t.Errorf("%s: %d pods shared their prices (want %d), %d category medians stored by %d runs (want one)", job, shared, want, medians, storers)
				}
			}
			four := featureRows(t, cfg)
			if len(four) != len(one) {
				t.Fatalf("%s: 4 shards published %d customers' features, one process %d", job, len(four), len(one))
			}
			differ := 0
			for id, row := range one {
				if four[id] != row {
					if differ++; differ <= 3 {
						t.Errorf("%s: customer %s:\n4 shards  %s\n1 process %s", job, id, four[id], row)
					}
				}
			}
			if differ > 0 {
				t.Errorf("%s: %d of %d customers' features differ", job, differ, len(one))
			}
		}
	})
}

// jobMedianRows counts the pods of a Job that shared their lines' prices,
// the category medians stored for it and the runs that stored them.
func jobMedianRows(t *testing.T, cfg config.Config, job string) (shared, medians, storers int) {
	t.Helper()
	st, _ := openTestStore(t, cfg)
	defer st.Close()
	var s, m, r uint64
	err := st.(*clickhouse.DB).Conn().QueryRow(context.Background(), fmt.Sprintf(`SELECT
    (SELECT uniqExact(shard) FROM %[1]s.category_prices WHERE job = ?),
    (SELECT uniqExact(top_category) FROM %[1]s.category_medians WHERE job = ?), (SELECT uniqExact(run_id) FROM %[1]s.category_medians WHERE job = ?)`,
		cfg.ClickHouse.Database), job, job, job).Scan(&s, &m, &r)
	if err != nil {
		t.Fatal(err)
	}
	return int(s), int(m), int(r)
}

// openTestStore opens cfg's warehouse with a checked allocator.
func openTestStore(t *testing.T, cfg config.Config) (warehouse.Store, memory.Allocator) {
	t.Helper()
	mem := memoryForTest(t)
	st, err := OpenStore(context.Background(), cfg.ClickHouse, cfg.DataDir, mem)
	if err != nil {
		t.Fatal(err)
	}
	return st, mem
}

// featureRows reads the date's customer_features, every column but run_id
// written out, by customer.
func featureRows(t *testing.T, cfg config.Config) map[string]string {
	t.Helper()
	st, mem := openTestStore(t, cfg)
	defer st.Close()
	rec, err := st.ReadPartition(context.Background(), mem, warehouse.CustomerFeatures.Name, warehouse.CustomerFeatures.Schema, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	out := map[string]string{}
	ids := rec.Column(0).(*array.String)
	for i := 0; i < int(rec.NumRows()); i++ {
		var row []string
		for c := 1; c < int(rec.NumCols()); c++ {
			row = append(row, rec.Column(c).ValueStr(i))
		}
		out[ids.Value(i)] = strings.Join(row, " ")
	}
	return out
}

// TestCategoryMedians: ClickHouse computes the medians the features of one
// process compute in Go, on a shop whose lines include unknown products and
// cancelled orders; the Job's later pods get the stored ones back, another
// Job computes its own.
func TestCategoryMedians(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 2000, 0.02, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	mem := memoryForTest(t)
	orders, err := wh.Read(ctx, mem, ordersBefore(asOf), 1<<14)
	if err != nil {
		t.Fatal(err)
	}
	defer release(orders)
	products, err := wh.Read(ctx, mem, catalogue, 1<<14)
	if err != nil {
		t.Fatal(err)
	}
	defer release(products)
	lines := func(fn func(arrow.Record) error) error { return wh.Each(ctx, mem, orderLines, 1<<14, fn) }
	want, err := transform.CategoryMedians(transform.FeatureInputs{Orders: orders, Products: products, Lines: lines}, asOf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wh.JobMedians(ctx, asOf, "job-a", "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 3 || !maps.Equal(got, want) {
		t.Errorf("ClickHouse's medians %v, Go's %v", got, want)
	}
	// What the next pod reads is what is stored: mark one stored median.
	marked := slices.Sorted(maps.Keys(want))[0]
	if err := wh.Exec(ctx, "INSERT INTO {db}.category_medians (as_of, job, top_category, median_price, run_id, computed_at) "+
		"SELECT as_of, job, top_category, -1, 'marked', computed_at + 1 FROM {db}.category_medians WHERE job = 'job-a' AND top_category = ?", marked); err != nil {
		t.Fatal(err)
	}
	again, err := wh.JobMedians(ctx, asOf, "job-a", "run-2")
	if err != nil {
		t.Fatal(err)
	}
	if again[marked] != -1 || len(again) != len(want) {
		t.Errorf("the Job's second pod got %v, want the stored medians (%s's marked -1)", again, marked)
	}
	other, err := wh.JobMedians(ctx, asOf, "job-b", "run-3")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(other, want) {
		t.Errorf("another Job got %v, want %v", other, want)
	}
}

func TestCustomerFeed(t *testing.T) {
	var fc feedCutter
	basket := strings.Join([]string{"P1", "P3"}, basketSep)
	for _, c := range []struct {
		basket string
		feed   []string
		k      int
		want   string
	}{{basket, []string{"P3", "P2", "P1", "P4", "P5"}, 2, "P2,P4"}, {"", []string{"P1", "P2"}, 5, "P1,P2"}, {basket, []string{"P1", "P3"}, 2, ""},
		// ids that hold or end other ids are not bought for them
		{strings.Join([]string{"AP1", "P10", "P2X"}, basketSep), []string{"P1", "P2", "P10", "AP1"}, 5, "P1,P2"},
		{strings.Join([]string{"P1", "P1", "P12"}, basketSep), []string{"P12", "P2", "P1"}, 5, "P2"},
		// a longer basket before a shorter one: the cutter's list is reused
		{strings.Join([]string{"P0", "P1", "P2", "P3", "P4"}, basketSep), []string{"P4", "P5"}, 5, "P5"},
		{"P6", []string{"P4", "P6", "P2"}, 5, "P4,P2"}} {
		if got := fc.cut(c.basket, c.feed, c.k); got != c.want {
			t.Errorf("basket %q, feed %v: %q, want %q", c.basket, c.feed, got, c.want)
		}
	}
}

// BenchmarkFeedCut cuts the feeds of customers shaped like the generated
// shop's (1 to 6 of 5,000 products bought, a segment feed of 30, 10 a
// customer): publish cuts one a buyer.
func BenchmarkFeedCut(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	product := func() string { return fmt.Sprintf("P%06d", rng.IntN(5000)) }
	baskets := make([]string, 4096)
	for i := range baskets {
		bought := make([]string, 1+rng.IntN(6))
		for k := range bought {
			bought[k] = product()
		}
		slices.Sort(bought)
		baskets[i] = strings.Join(slices.Compact(bought), basketSep)
	}
	feed := make([]string, 30)
	for k := range feed {
		feed[k] = product()
	}
	var fc feedCutter
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		fc.cut(baskets[i%len(baskets)], feed, 10)
	}
}

// TestShardedExtractAlone: a sharded run refuses extract with other stages
// (all of them by default), before it takes a lock or reads anything: a pod
// would compute features before the other pods' shares had landed.
func TestShardedExtractAlone(t *testing.T) {
	p := &Runner{Log: testLogger(t)}
	for _, stages := range [][]string{nil, {"extract", "features"}, {"extract", "train"}} {
		err := p.Run(context.Background(), asOf, stages, Shard{Index: 1, Of: 4, Job: "j"})
		if err == nil || !strings.Contains(err.Error(), "takes extract alone") {
			t.Errorf("stages %v in a sharded run: %v", stages, err)
		}
	}
}
