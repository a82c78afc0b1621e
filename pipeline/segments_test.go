package pipeline

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestSegmentationShop is the acceptance of segmentation on a generated shop
// of 100,000 customers, scored 90 days before its end so that the last 90 days
// are a holdout for the product feeds: micro-segments within bounds covering
// every buyer, the early potential-VIP model against the truth file's VIP
// flag, the feeds' hit rate against best-sellers, and train then score again
// giving the same output.
func TestSegmentationShop(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 100000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) // the shop's end
	day := end.AddDate(0, 0, -90)
	d := day.Format(time.DateOnly)
	if err := runStages(ctx, cfg, day, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}

	// Every buyer in exactly one micro-segment of 200 to 500 members.
	var buyers, inSegment, segments, minSize, maxSize, listed uint64
	queryRow(t, wh, "SELECT countIf(lifecycle_stage != 'non_buyer'), countIf(micro_segment != ''), uniqExactIf(micro_segment, micro_segment != '') FROM {db}.customer_scores WHERE as_of = toDate('"+d+"')", &buyers, &inSegment, &segments)
	queryRow(t, wh, "SELECT min(n), max(n) FROM (SELECT micro_segment, count() AS n FROM {db}.customer_scores WHERE as_of = toDate('"+d+"') AND micro_segment != '' GROUP BY micro_segment)", &minSize, &maxSize)
	queryRow(t, wh, "SELECT count() FROM {db}.segments WHERE as_of = toDate('"+d+"')", &listed)
	t.Logf("%d buyers in %d micro-segments of %d to %d members", buyers, segments, minSize, maxSize)
	if inSegment != buyers || segments < 150 || minSize < 200 || maxSize > 500 || listed != segments {
		t.Errorf("%d buyers, %d in a segment; %d segments (%d listed) of %d to %d members; want every buyer in one of ≥ 150 segments of 200-500",
			buyers, inSegment, segments, listed, minSize, maxSize)
	}
	for _, r := range queryStrings(t, wh, "SELECT concat(segment_id, ' | ', label, ' | ', toString(size), ' | ', strategy) FROM {db}.segments WHERE as_of = toDate('"+d+"') ORDER BY revenue_share DESC LIMIT 5") {
		t.Logf("segment %s", r)
	}

	// The early potential-VIP model against the truth: on the buyers whose
	// first order falls in the model's test period (not trained on).
	rows := queryStrings(t, wh, "SELECT artefact FROM {db}.models WHERE kind = 'earlyvip' AND as_of = toDate('"+d+"') ORDER BY trained_at DESC LIMIT 1")
	if len(rows) == 0 {
		t.Fatal("no early-VIP model stored")
	}
	var early segment.EarlyVIPModel
	if err := json.Unmarshal([]byte(rows[0]), &early); err != nil {
		t.Fatal(err)
	}
	truth := truthVIP(t, dir)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	feats, err := wh.ReadPartition(ctx, mem, "customer_features", warehouse.CustomerFeatures.Columns(firstWeekColumns...), day)
	if err != nil {
		t.Fatal(err)
	}
	week := firstWeeks(feats)
	var scores []float64
	var labels []bool
	ids, first := feats.Column(0).(*array.String), feats.Column(1).(*array.Date32)
	for i := 0; i < int(feats.NumRows()); i++ {
		if int32(first.Value(i)) >= early.TestFrom {
			scores = append(scores, early.Probability(week(i)))
			labels = append(labels, truth[ids.Value(i)])
		}
	}
	feats.Release()
	m := segment.Classify(scores, labels, early.Metrics.Threshold)
	t.Logf("early VIP against the truth's VIP flag: AUC %.3f on %d buyers of the test period (%d VIPs); precision %.2f and recall %.2f at %.2f; top 1%% %.2f, top 5%% %.2f",
		m.AUC, m.Rows, m.Positives, m.Precision, m.Recall, m.Threshold, m.PrecisionTop1, m.PrecisionTop5)
	t.Logf("early VIP on its own holdout labels: AUC %.3f, base rate %.3f, precision %.2f, recall %.2f, top 1%% %.2f, top 5%% %.2f",
		early.Metrics.AUC, early.Metrics.BaseRate, early.Metrics.Precision, early.Metrics.Recall, early.Metrics.PrecisionTop1, early.Metrics.PrecisionTop5)
	if m.AUC < 0.85 || m.Positives == 0 {
		t.Errorf("early-VIP AUC %.3f against the truth, want ≥ 0.85", m.AUC)
	}

	// Product feeds on the holdout: a hit is a customer who bought, in the 90
	// days after the date, one of the 10 products of their feed; the baseline
	// feed is the 10 best-sellers (by buyers before the date) minus what the
	// customer bought.
	before := "toDateTime('" + d + " 00:00:00')"
	after := "toDateTime('" + end.Format(time.DateOnly) + " 00:00:00')"
	bought := func(where string) map[string]map[string]bool {
		out := map[string]map[string]bool{}
		for _, r := range queryStrings(t, wh, `SELECT concat(o.customer_id, ' ', l.product_id) FROM (SELECT order_id, customer_id FROM {db}.raw_orders FINAL WHERE status != 'cancelled' AND `+where+`) AS o
			ANY INNER JOIN (SELECT order_id, product_id FROM {db}.raw_order_lines FINAL) AS l USING order_id`) {
			c, p, _ := strings.Cut(r, " ")
			if out[c] == nil {
				out[c] = map[string]bool{}
			}
			out[c][p] = true
		}
		return out
	}
	past, holdout := bought("ordered_at < "+before), bought("ordered_at >= "+before+" AND ordered_at < "+after)
	best := queryStrings(t, wh, `SELECT product_id FROM (SELECT o.customer_id AS c, l.product_id AS product_id FROM (SELECT order_id, customer_id FROM {db}.raw_orders FINAL WHERE status != 'cancelled' AND ordered_at < `+before+`) AS o
		ANY INNER JOIN (SELECT order_id, product_id FROM {db}.raw_order_lines FINAL) AS l USING order_id) GROUP BY product_id ORDER BY uniqExact(c) DESC, product_id LIMIT 40`)
	var customers, feedHits, bestHits int
	for _, r := range queryStrings(t, wh, "SELECT concat(customer_id, ' ', product_feed) FROM {db}.customer_scores WHERE as_of = toDate('"+d+"') AND micro_segment != ''") {
		c, feed, _ := strings.Cut(r, " ")
		next := holdout[c]
		if len(next) == 0 {
			continue
		}
		customers++
		for _, p := range strings.Split(feed, ",") {
			if next[p] {
				feedHits++
				break
			}
		}
		k := 0
		for _, p := range best {
			if past[c][p] {
				continue
			}
			if next[p] {
				bestHits++
				break
			}
			if k++; k == 10 {
				break
			}
		}
	}
	feedRate, bestRate := float64(feedHits)/float64(customers), float64(bestHits)/float64(customers)
	t.Logf("hit rate at 10 on the holdout, %d buyers who bought again: segment feeds %.4f, best-sellers %.4f (%.2f×)", customers, feedRate, bestRate, feedRate/bestRate)
	if customers < 1000 || feedRate < 1.5*bestRate {
		t.Errorf("feeds hit %.4f, best-sellers %.4f over %d customers: want ≥ 1.5×", feedRate, bestRate, customers)
	}

	// Deterministic: train and score again give the same scores, segments and
	// feeds (model ids name their run, so they are left out).
	sums := func() []string { // UNION ALL parts come in any order: labelled, sorted
		s := queryStrings(t, wh, `SELECT 'scores ' || toString(groupBitXor(cityHash64(customer_id, frequency, p_alive, clv_12m, next_order_in_days, rfm_code, rfm_segment, rfm_cell,
				lifecycle_stage, vip_tier, potential_vip_probability, strategy, action, micro_segment, product_feed))) FROM {db}.customer_scores WHERE as_of = toDate('`+d+`')
			UNION ALL SELECT 'segments ' || toString(groupBitXor(cityHash64(segment_id, label, size, revenue_12m, mean_clv, strategy))) FROM {db}.segments WHERE as_of = toDate('`+d+`')
			UNION ALL SELECT 'feed ' || toString(groupBitXor(cityHash64(segment_id, rank, product_id, lift))) FROM {db}.segment_feed WHERE as_of = toDate('`+d+`')`)
		sort.Strings(s)
		return s
	}
	firstSums := sums()
	if err := runStages(ctx, cfg, day, []string{"train", "score", "publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if again := sums(); strings.Join(again, " ") != strings.Join(firstSums, " ") {
		t.Errorf("train and score again: checksums %v, first %v", again, firstSums)
	}
}

// truthVIP reads the generated shop's VIP flag per customer.
func truthVIP(t *testing.T, dir string) map[string]bool {
	return truthFlag(t, dir, "vip")
}

// truthFlag reads a true/false column of the generated shop's truth per customer.
func truthFlag(t *testing.T, dir, column string) map[string]bool {
	col, rows := readTruth(t, dir)
	out := map[string]bool{}
	for _, rec := range rows {
		out[rec[col["customer_id"]]] = rec[col[column]] == "true"
	}
	return out
}

// readTruth reads the generated shop's truth_customers.csv: its columns by
// name, and its rows.
func readTruth(t *testing.T, dir string) (map[string]int, [][]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "truth_customers.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("truth_customers.csv: %v", err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	return col, recs[1:]
}
