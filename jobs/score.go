package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// scoreStore is where score reads orders, features and models and stages
// scores, segments, members and feeds for publish.
type scoreStore interface {
	reader
	streamer
	LatestModel(ctx context.Context, asOf time.Time, kinds ...string) (warehouse.Model, error)
	Stage(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
	ReplacePart(ctx context.Context, table string, asOf time.Time, shard int, runID string, rec arrow.Record) error
	ReadParts(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
}

// scoresSchema is customer_scores without as_of and run_id, which publishing adds.
var scoresSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "model_id", Type: arrow.BinaryTypes.String},
	{Name: "frequency", Type: arrow.PrimitiveTypes.Float64},
	{Name: "recency_days", Type: arrow.PrimitiveTypes.Float64},
	{Name: "age_days", Type: arrow.PrimitiveTypes.Float64},
	{Name: "p_alive", Type: arrow.PrimitiveTypes.Float64},
	{Name: "expected_purchases_30d", Type: arrow.PrimitiveTypes.Float64},
	{Name: "expected_purchases_90d", Type: arrow.PrimitiveTypes.Float64},
	{Name: "expected_purchases_365d", Type: arrow.PrimitiveTypes.Float64},
	{Name: "next_order_in_days", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "next_order_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "expected_order_value", Type: arrow.PrimitiveTypes.Float64},
	{Name: "clv_12m", Type: arrow.PrimitiveTypes.Float64},
	{Name: "rfm_r", Type: arrow.PrimitiveTypes.Int32},
	{Name: "rfm_f", Type: arrow.PrimitiveTypes.Int32},
	{Name: "rfm_m", Type: arrow.PrimitiveTypes.Int32},
	{Name: "rfm_code", Type: arrow.BinaryTypes.String},
	{Name: "rfm_segment", Type: arrow.BinaryTypes.String},
	{Name: "rfm_cell", Type: arrow.BinaryTypes.String},
	{Name: "lifecycle_stage", Type: arrow.BinaryTypes.String},
	{Name: "vip_tier", Type: arrow.BinaryTypes.String},
	{Name: "vip_handling", Type: arrow.BinaryTypes.String},
	{Name: "potential_vip_probability", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "strategy", Type: arrow.BinaryTypes.String},
	{Name: "action", Type: arrow.BinaryTypes.String},
	{Name: "micro_segment", Type: arrow.BinaryTypes.String},
	{Name: "discount_sensitivity", Type: arrow.PrimitiveTypes.Float64},
	{Name: "best_hour", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "best_weekday", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "preferred_channel", Type: arrow.BinaryTypes.String},
	{Name: "product_feed", Type: arrow.BinaryTypes.String},
	{Name: "early_vip_model_id", Type: arrow.BinaryTypes.String},
}, nil)

// ScoreSummary sums up the scores of one run.
type ScoreSummary struct {
	Customers, Buyers int
	MeanPAlive        float64
	Expected365       float64
	CLV12             float64
	WithNextOrder     int
	ModelID           string
	EarlyVIPModelID   string
	Segments          int
	MinSize, MaxSize  int
	Lifecycle, Tiers  map[string]int
	Part              bool // a shard other than 0: it wrote its part only
}

// ltv are one buyer's LTV predictions.
type ltv struct {
	x, tx, T, pAlive, e30, e90, e365, value, clv float64
	next                                         float64
	hasNext                                      bool
}

// predictLTV predicts, with the newest LTV model trained on or before the
// as-of date, every buyer's P(alive), expected purchases, next order and CLV
// from the history before that date.
func predictLTV(rc *runContext, m warehouse.Model, orders []arrow.Record, sh Shard) (map[string]ltv, string, error) {
	a, err := model.LoadArtefact([]byte(m.Artefact))
	if err != nil {
		return nil, "", fmt.Errorf("model %s: %w", m.ID, err)
	}
	pm, err := a.Purchases()
	if err != nil {
		return nil, "", err
	}
	if a.TimeUnit != "day" {
		return nil, "", fmt.Errorf("model %s is in %ss; score works in days", m.ID, a.TimeUnit)
	}
	sum, s, err := summarise(orders, rc, transform.SummaryOptions{CalibrationEnd: rc.asOf.Add(-day), Unit: day})
	if err != nil {
		return nil, "", err
	}
	defer sum.Release()
	if sh.Of > 1 { // only this shard's customers
		var keep []int
		for i := range s.x {
			if sh.owns(s.ids.Value(i)) {
				keep = append(keep, i)
			}
		}
		s = s.subset(keep)
	}
	spend := model.GammaGamma{P: 1, Q: 2, Gamma: 0} // no spend model: values of 0
	if a.Spend != nil {
		spend = *a.Spend
	}
	clv := model.CLVOptions{Months: rc.cfg.LTV.CLVMonths, DiscountMonthly: rc.cfg.LTV.DiscountMonthly, UnitsPerMonth: 365.25 / 12, Margin: 1}
	p30 := model.Predict(pm, spend, s.x, s.tx, s.T, s.money, 30, clv)
	p90 := model.Predict(pm, spend, s.x, s.tx, s.T, s.money, 90, clv)
	p365 := model.Predict(pm, spend, s.x, s.tx, s.T, s.money, 365, clv)
	next, hasNext := pm.(interface {
		NextOrder(x, tx, T float64) (float64, bool)
	})
	type nextOrder struct {
		tau float64
		ok  bool
	}
	nextCache := map[[3]float64]nextOrder{} // customers with the same history share it
	out := make(map[string]ltv, len(s.x))
	for i := range s.x {
		l := ltv{x: s.x[i], tx: s.tx[i], T: s.T[i], pAlive: p90.ProbAlive[i], e30: p30.ExpectedPurchases[i], e90: p90.ExpectedPurchases[i],
			e365: p365.ExpectedPurchases[i], value: p90.ExpectedValue[i], clv: p90.CLV[i]}
		if hasNext {
			key := [3]float64{s.x[i], s.tx[i], s.T[i]}
			n, seen := nextCache[key]
			if !seen {
				n.tau, n.ok = next.NextOrder(s.x[i], s.tx[i], s.T[i])
				nextCache[key] = n
			}
			l.next, l.hasNext = n.tau, n.ok // from the end of the last observed day, that is from as_of
		}
		out[strings.Clone(s.id(i))] = l
	}
	return out, m.ID, nil
}

// scoreFeatureSchema are the customer_features columns score uses.
var scoreFeatureSchema = arrow.NewSchema(append(slices.Clone(firstWeekSchema.Fields()),
	arrow.Field{Name: "orders", Type: arrow.PrimitiveTypes.Int64},
	arrow.Field{Name: "revenue", Type: arrow.PrimitiveTypes.Float64},
	arrow.Field{Name: "avg_check", Type: arrow.PrimitiveTypes.Float64},
	arrow.Field{Name: "discount_share", Type: arrow.PrimitiveTypes.Float64},
	arrow.Field{Name: "days_since_first", Type: arrow.PrimitiveTypes.Float64},
	arrow.Field{Name: "days_since_last", Type: arrow.PrimitiveTypes.Float64},
	arrow.Field{Name: "interorder_mean_days", Type: arrow.PrimitiveTypes.Float64},
	arrow.Field{Name: "preferred_hour", Type: arrow.PrimitiveTypes.Int32},
	arrow.Field{Name: "preferred_weekday", Type: arrow.PrimitiveTypes.Int32},
	arrow.Field{Name: "preferred_channel", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "top_category", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "top_brand", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "revenue_12m", Type: arrow.PrimitiveTypes.Float64},
	arrow.Field{Name: "last_gap_days", Type: arrow.PrimitiveTypes.Float64},
), nil)

// customer is one row of the scores being built.
type customer struct {
	segment.Profile
	ltv                ltv
	buyer              bool
	hour, weekday      int32
	earlyVIP           bool // EarlyVIP holds a probability
	stage, tier, strat string
	action, segment    string
	rfm                segment.RFM
}

// score scores every customer as of the date (LTV, RFM, lifecycle, VIP tier,
// early-VIP probability, strategy, micro-segment, product feed) and stages the
// date's partitions of customer_scores, segments, segment_members and
// segment_feed; publish swaps them in.
func score(ctx context.Context, rc *runContext, wh scoreStore, sh Shard) (ScoreSummary, error) {
	sg := rc.cfg.Segmentation
	m, err := wh.LatestModel(ctx, rc.asOf, model.PurchaseKinds...)
	if err != nil {
		return ScoreSummary{}, err
	}
	orders, err := wh.Read(ctx, rc.mem, ordersBefore(rc.asOf), rc.cfg.BatchRows)
	if err != nil {
		return ScoreSummary{}, err
	}
	defer release(orders)
	preds, modelID, err := predictLTV(rc, m, orders, sh)
	if err != nil {
		return ScoreSummary{}, err
	}
	if sh.Of > 1 {
		if err := stagePart(ctx, rc, wh, sh, modelID, preds); err != nil {
			return ScoreSummary{}, err
		}
		if sh.Index != 0 {
			rc.log.WithFields(logrus.Fields{"shard": sh.Index, "shards": sh.Of, "customers": len(preds)}).Info("score part written; shard 0 segments and stages the date")
			return ScoreSummary{Customers: len(preds), ModelID: modelID, Part: true}, nil
		}
		if preds, err = waitForParts(ctx, rc, wh, sh, modelID); err != nil {
			return ScoreSummary{}, err
		}
	}
	feats, err := wh.ReadPartition(ctx, rc.mem, "customer_features", scoreFeatureSchema, rc.asOf)
	if err != nil && !errors.Is(err, warehouse.ErrNoPartition) {
		return ScoreSummary{}, err
	}
	if err != nil || feats.NumRows() != int64(len(preds)) {
		n := 0
		if feats != nil {
			n = int(feats.NumRows())
			feats.Release()
		}
		return ScoreSummary{}, fmt.Errorf("customer_features as of %s has %d buyers, the orders %d: run features for the date first", rc.asOf.Format(time.DateOnly), n, len(preds))
	}
	defer feats.Release()
	var early *segment.EarlyVIPModel
	earlyID := ""
	if m, err := wh.LatestModel(ctx, rc.asOf, model.KindEarlyVIP); err == nil {
		early = new(segment.EarlyVIPModel)
		if err := json.Unmarshal([]byte(m.Artefact), early); err != nil {
			return ScoreSummary{}, fmt.Errorf("model %s: %w", m.ID, err)
		}
		earlyID = m.ID
	} else if errors.Is(err, warehouse.ErrNoModel) {
		rc.log.Warn("no early potential-VIP model (train stores one when the shop has a full cohort): potential VIPs come from CLV alone")
	} else {
		return ScoreSummary{}, err
	}
	custs, err := profiles(ctx, rc, wh, feats, preds, early)
	if err != nil {
		return ScoreSummary{}, err
	}
	segs, err := segmentCustomers(ctx, rc, wh, custs)
	if err != nil {
		return ScoreSummary{}, err
	}
	lines := func(fn func(arrow.Record) error) error { return wh.Each(ctx, rc.mem, orderLines, rc.cfg.BatchRows, fn) }
	baskets, err := transform.Baskets(orders, lines, rc.asOf)
	if err != nil {
		return ScoreSummary{}, err
	}
	feedRec, custFeeds := feeds(rc, custs, segs, baskets, sg.Feeds)
	defer feedRec.Release()

	out := ScoreSummary{Customers: len(custs), ModelID: modelID, EarlyVIPModelID: earlyID, Segments: len(segs),
		Lifecycle: map[string]int{}, Tiers: map[string]int{}, MinSize: math.MaxInt}
	for _, s := range segs {
		out.MinSize, out.MaxSize = min(out.MinSize, len(s.Members)), max(out.MaxSize, len(s.Members))
	}
	scores := scoreRecord(rc, custs, custFeeds, modelID, earlyID, &out)
	defer scores.Release()
	segRec := segmentRecord(rc, custs, segs)
	defer segRec.Release()
	members := memberRecord(rc, custs, segs, custFeeds)
	defer members.Release()
	start := time.Now()
	for _, t := range []struct {
		table string
		rec   arrow.Record
	}{{"customer_scores", scores}, {"segments", segRec}, {"segment_members", members}, {"segment_feed", feedRec}} {
		if err := wh.Stage(ctx, t.table, rc.asOf, rc.runID, t.rec); err != nil {
			return ScoreSummary{}, err
		}
	}
	rc.log.WithFields(logrus.Fields{"model_id": modelID, "early_vip_model_id": earlyID, "rows_landed": scores.NumRows(), "segments": len(segs),
		"seconds": round(time.Since(start).Seconds())}).Info("scores, segments, members and feeds staged for publish")
	return out, nil
}

func release(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// profiles builds every customer's profile: the buyers from the features and
// LTV predictions, then the registered customers without orders. Sorted by id.
func profiles(ctx context.Context, rc *runContext, wh scoreStore, feats arrow.Record, preds map[string]ltv, early *segment.EarlyVIPModel) ([]customer, error) {
	sg := rc.cfg.Segmentation
	col := func(name string) arrow.Array { return feats.Column(scoreFeatureSchema.FieldIndices(name)[0]) }
	f64 := func(name string) *array.Float64 { return col(name).(*array.Float64) }
	i32 := func(name string) *array.Int32 { return col(name).(*array.Int32) }
	str := func(name string) *array.String { return col(name).(*array.String) }
	ids, orders := str("customer_id"), col("orders").(*array.Int64)
	revenue, check, disc := f64("revenue"), f64("avg_check"), f64("discount_share")
	sinceFirst, sinceLast, gap := f64("days_since_first"), f64("days_since_last"), f64("interorder_mean_days")
	rev12, lastGap := f64("revenue_12m"), f64("last_gap_days")
	hour, weekday := i32("preferred_hour"), i32("preferred_weekday")
	channel, topCat, topBrand := str("preferred_channel"), str("top_category"), str("top_brand")
	custs := make([]customer, 0, feats.NumRows())
	seen := make(map[string]bool, feats.NumRows())
	for i := 0; i < int(feats.NumRows()); i++ {
		id := strings.Clone(ids.Value(i))
		l, ok := preds[id]
		if !ok {
			return nil, fmt.Errorf("customer %s has features but no purchase summary: features and orders disagree", id)
		}
		c := customer{buyer: true, ltv: l, hour: hour.Value(i), weekday: weekday.Value(i), Profile: segment.Profile{
			ID: id, Orders: int(orders.Value(i)), DaysSinceFirst: sinceFirst.Value(i), DaysSinceLast: sinceLast.Value(i),
			LastGapDays: lastGap.Value(i), InterorderMean: gap.Value(i), Revenue: revenue.Value(i), Revenue12m: rev12.Value(i),
			AvgCheck: check.Value(i), DiscountShare: disc.Value(i), PAlive: l.pAlive, CLV: l.clv, EarlyVIP: math.NaN(),
			TopCategory: strings.Clone(topCat.Value(i)), TopBrand: strings.Clone(topBrand.Value(i)), Channel: strings.Clone(channel.Value(i))}}
		if early != nil && c.DaysSinceFirst <= float64(early.ApplyDays) {
			c.EarlyVIP, c.earlyVIP = early.Probability(firstWeek(feats, i)), true
		}
		custs = append(custs, c)
		seen[id] = true
	}
	var others []string // registered, without orders
	registered := warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "created_at"}, TimeColumn: "created_at", Before: rc.asOf}
	if err := wh.Each(ctx, rc.mem, registered, rc.cfg.BatchRows, func(rec arrow.Record) error {
		ids := rec.Column(0).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if id := ids.Value(i); !seen[id] {
				id = strings.Clone(id)
				seen[id] = true
				others = append(others, id)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Grown once: batch by batch, a slice of a few hundred megabytes was
	// copied (and its fresh pages faulted in) again and again.
	custs = slices.Grow(custs, len(others))
	for _, id := range others {
		custs = append(custs, customer{Profile: segment.Profile{ID: id, EarlyVIP: math.NaN()}})
	}
	// Sorted by id through an index: a customer is a few hundred bytes to move.
	order := make([]int32, len(custs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(custs[a].ID, custs[b].ID) })
	sorted := make([]customer, len(custs))
	for i, k := range order {
		sorted[i] = custs[k]
	}
	custs = sorted
	ps := make([]segment.Profile, len(custs))
	var since, ordersN, rev []float64
	for i := range custs {
		ps[i] = custs[i].Profile
		custs[i].stage = sg.Lifecycle.Stage(custs[i].Profile)
		if custs[i].buyer {
			since = append(since, custs[i].DaysSinceLast)
			ordersN = append(ordersN, float64(custs[i].Orders))
			rev = append(rev, custs[i].Revenue)
		}
	}
	stages := make([]string, len(custs))
	for i := range custs {
		stages[i] = custs[i].stage
	}
	tiers, _ := sg.VIP.VIPTiers(ps, stages)
	rfm := segment.RFMScores(since, ordersN, rev)
	k := 0
	for i := range custs {
		c := &custs[i]
		c.tier = tiers[i]
		if c.buyer {
			c.rfm = rfm[k]
			k++
		}
		c.strat, c.action = segment.Strategy(sg.Strategies, c.Profile, c.stage, c.tier)
	}
	return custs, nil
}

// prevSegmentsSchema reads last night's micro-segment of each customer.
var prevSegmentsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "micro_segment", Type: arrow.BinaryTypes.String},
}, nil)

// segmentCustomers builds the micro-segments within lifecycle × value tier,
// keeping the ids of the day before's segments where most members stay.
func segmentCustomers(ctx context.Context, rc *runContext, wh scoreStore, custs []customer) ([]segment.Segment, error) {
	ps := make([]segment.Profile, len(custs))
	tiers := make([]string, len(custs))
	for i := range custs {
		ps[i], tiers[i] = custs[i].Profile, custs[i].tier
	}
	value := segment.ValueTiers(ps, tiers)
	macro := make([]string, len(custs))
	for i := range custs {
		macro[i] = strings.ReplaceAll(custs[i].stage, "_", " ") + " · " + value[i]
	}
	prev := map[string]string{}
	rec, err := wh.ReadPartition(ctx, rc.mem, "customer_scores", prevSegmentsSchema, rc.asOf.AddDate(0, 0, -1))
	switch {
	case err == nil:
		ids, segs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if s := segs.Value(i); s != "" {
				prev[strings.Clone(ids.Value(i))] = strings.Clone(s)
			}
		}
		rec.Release()
	case !errors.Is(err, warehouse.ErrNoPartition):
		return nil, err
	}
	segs, err := segment.MicroSegments(ps, macro, prev, rc.cfg.Segmentation.MicroSegments)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		for _, i := range s.Members {
			custs[i].segment = s.ID
		}
	}
	return segs, nil
}

// feeds ranks each segment's products and cuts each member's feed from it; it
// returns the segment_feed record and each customer's feed.
func feeds(rc *runContext, custs []customer, segs []segment.Segment, cb transform.CustomerBaskets, o segment.FeedOptions) (arrow.Record, []string) {
	// Baskets in the customers' order: index i of custs is customer i of b.
	pos := make(map[string]int, len(cb.Customers))
	for i, id := range cb.Customers {
		pos[id] = i
	}
	b := segment.Baskets{Start: make([]int32, len(custs)+1), NumProducts: len(cb.ProductIDs)}
	for i, c := range custs {
		if k, ok := pos[c.ID]; ok {
			b.Products = append(b.Products, cb.Products[cb.Start[k]:cb.Start[k+1]]...)
		}
		b.Start[i+1] = int32(len(b.Products))
	}
	base, buyers := segment.BaseCounts(b)
	rb := array.NewRecordBuilder(rc.mem, feedSchema)
	defer rb.Release()
	custFeeds := make([]string, len(custs))
	for _, s := range segs {
		items := segment.SegmentFeed(b, s.Members, base, buyers, o)
		ranked := make([]int32, len(items))
		for r, it := range items {
			ranked[r] = it.Product
			rb.Field(0).(*array.StringBuilder).Append(s.ID)
			rb.Field(1).(*array.Int32Builder).Append(int32(r + 1))
			rb.Field(2).(*array.StringBuilder).Append(cb.ProductIDs[it.Product])
			rb.Field(3).(*array.Int32Builder).Append(int32(it.Buyers))
			rb.Field(4).(*array.Float64Builder).Append(it.Lift)
		}
		for _, i := range s.Members {
			var ids []string
			for _, p := range segment.CustomerFeed(b, i, ranked, o.CustomerSize) {
				ids = append(ids, cb.ProductIDs[p])
			}
			custFeeds[i] = strings.Join(ids, ",")
		}
	}
	return rb.NewRecord(), custFeeds
}

var feedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "segment_id", Type: arrow.BinaryTypes.String},
	{Name: "rank", Type: arrow.PrimitiveTypes.Int32},
	{Name: "product_id", Type: arrow.BinaryTypes.String},
	{Name: "buyers", Type: arrow.PrimitiveTypes.Int32},
	{Name: "lift", Type: arrow.PrimitiveTypes.Float64},
}, nil)

var segmentSchema = arrow.NewSchema([]arrow.Field{
	{Name: "segment_id", Type: arrow.BinaryTypes.String},
	{Name: "macro_group", Type: arrow.BinaryTypes.String},
	{Name: "label", Type: arrow.BinaryTypes.String},
	{Name: "size", Type: arrow.PrimitiveTypes.Int32},
	{Name: "revenue_12m", Type: arrow.PrimitiveTypes.Float64},
	{Name: "revenue_share", Type: arrow.PrimitiveTypes.Float64},
	{Name: "mean_clv", Type: arrow.PrimitiveTypes.Float64},
	{Name: "churn_risk", Type: arrow.PrimitiveTypes.Float64},
	{Name: "revenue_at_risk", Type: arrow.PrimitiveTypes.Float64},
	{Name: "strategy", Type: arrow.BinaryTypes.String},
}, nil)

// segmentRecord lists the segments with their economics and the strategy most
// of their members have (the first in segment.Strategies on ties).
func segmentRecord(rc *runContext, custs []customer, segs []segment.Segment) arrow.Record {
	b := array.NewRecordBuilder(rc.mem, segmentSchema)
	defer b.Release()
	for _, s := range segs {
		count := map[string]int{}
		for _, i := range s.Members {
			count[custs[i].strat]++
		}
		best := ""
		for _, st := range segment.Strategies {
			if count[st] > count[best] {
				best = st
			}
		}
		b.Field(0).(*array.StringBuilder).Append(s.ID)
		b.Field(1).(*array.StringBuilder).Append(s.Macro)
		b.Field(2).(*array.StringBuilder).Append(s.Label)
		b.Field(3).(*array.Int32Builder).Append(int32(len(s.Members)))
		for k, v := range []float64{s.Revenue12m, s.RevenueShare, s.MeanCLV, s.ChurnRisk, s.RevenueAtRisk} {
			b.Field(4 + k).(*array.Float64Builder).Append(v)
		}
		b.Field(9).(*array.StringBuilder).Append(best)
	}
	return b.NewRecord()
}

var memberSchema = arrow.NewSchema([]arrow.Field{
	{Name: "segment_id", Type: arrow.BinaryTypes.String},
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "lifecycle_stage", Type: arrow.BinaryTypes.String},
	{Name: "vip_tier", Type: arrow.BinaryTypes.String},
	{Name: "strategy", Type: arrow.BinaryTypes.String},
	{Name: "action", Type: arrow.BinaryTypes.String},
	{Name: "discount_sensitivity", Type: arrow.PrimitiveTypes.Float64},
	{Name: "best_hour", Type: arrow.PrimitiveTypes.Int32},
	{Name: "best_weekday", Type: arrow.PrimitiveTypes.Int32},
	{Name: "preferred_channel", Type: arrow.BinaryTypes.String},
	{Name: "product_feed", Type: arrow.BinaryTypes.String},
	{Name: "control_group", Type: arrow.FixedWidthTypes.Boolean},
}, nil)

// controlRank orders a segment's members for the control group: by a hash of
// the customer and the campaign period, so the same customers are held out for
// the whole period while they stay in the segment.
func controlRank(id string, period int64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(period, 10)))
	return h.Sum64()
}

// memberRecord lists each segment's members with what a campaign needs; in
// every segment the control_share of members with the lowest control rank are
// the control group (rounded to the nearest member).
func memberRecord(rc *runContext, custs []customer, segs []segment.Segment, custFeeds []string) arrow.Record {
	ex := rc.cfg.Export
	period := rc.asOf.Unix() / 86400 / int64(ex.CampaignDays)
	b := array.NewRecordBuilder(rc.mem, memberSchema)
	defer b.Release()
	str := func(i int, v string) { b.Field(i).(*array.StringBuilder).Append(v) }
	for _, s := range segs {
		members := slices.Clone(s.Members)
		rank := make(map[int]uint64, len(members))
		for _, i := range members {
			rank[i] = controlRank(custs[i].ID, period)
		}
		slices.SortFunc(members, func(a, b int) int {
			return cmp.Or(cmp.Compare(rank[a], rank[b]), strings.Compare(custs[a].ID, custs[b].ID))
		})
		control := int(math.Round(ex.ControlShare * float64(len(members))))
		for k, i := range members {
			c := custs[i]
			str(0, s.ID)
			str(1, c.ID)
			str(2, c.stage)
			str(3, c.tier)
			str(4, c.strat)
			str(5, c.action)
			b.Field(6).(*array.Float64Builder).Append(c.DiscountShare)
			b.Field(7).(*array.Int32Builder).Append(c.hour)
			b.Field(8).(*array.Int32Builder).Append(c.weekday)
			str(9, c.Channel)
			str(10, custFeeds[i])
			b.Field(11).(*array.BooleanBuilder).Append(k < control)
		}
	}
	return b.NewRecord()
}

// scoreRecord is the customer_scores record.
func scoreRecord(rc *runContext, custs []customer, custFeeds []string, modelID, earlyID string, out *ScoreSummary) arrow.Record {
	b := array.NewRecordBuilder(rc.mem, scoresSchema)
	defer b.Release()
	b.Reserve(len(custs))
	field := func(name string) array.Builder { return b.Field(scoresSchema.FieldIndices(name)[0]) }
	str := func(name, v string) { field(name).(*array.StringBuilder).Append(v) }
	f64 := func(name string, v float64) { field(name).(*array.Float64Builder).Append(v) }
	i32 := func(name string, v int32) { field(name).(*array.Int32Builder).Append(v) }
	asOfDay := arrow.Date32FromTime(rc.asOf)
	for i, c := range custs {
		l := c.ltv
		str("customer_id", c.ID)
		str("model_id", modelID)
		for _, v := range []struct {
			name string
			v    float64
		}{{"frequency", l.x}, {"recency_days", l.tx}, {"age_days", l.T}, {"p_alive", l.pAlive}, {"expected_purchases_30d", l.e30},
			{"expected_purchases_90d", l.e90}, {"expected_purchases_365d", l.e365}, {"expected_order_value", l.value}, {"clv_12m", l.clv},
			{"discount_sensitivity", c.DiscountShare}} {
			f64(v.name, v.v)
		}
		if l.hasNext {
			f64("next_order_in_days", l.next)
			field("next_order_date").(*array.Date32Builder).Append(asOfDay + arrow.Date32(math.Floor(l.next)))
			out.WithNextOrder++
		} else {
			field("next_order_in_days").AppendNull()
			field("next_order_date").AppendNull()
		}
		i32("rfm_r", int32(c.rfm.R))
		i32("rfm_f", int32(c.rfm.F))
		i32("rfm_m", int32(c.rfm.M))
		if c.buyer {
			str("rfm_code", c.rfm.Code())
			str("rfm_segment", c.rfm.Segment())
			str("rfm_cell", c.rfm.Cell())
			i32("best_hour", c.hour)
			i32("best_weekday", c.weekday)
			out.Buyers++
		} else {
			str("rfm_code", "")
			str("rfm_segment", "")
			str("rfm_cell", "")
			field("best_hour").AppendNull()
			field("best_weekday").AppendNull()
		}
		str("lifecycle_stage", c.stage)
		str("vip_tier", c.tier)
		str("vip_handling", segment.VIPHandling[c.tier])
		if c.earlyVIP {
			f64("potential_vip_probability", c.EarlyVIP)
		} else {
			field("potential_vip_probability").AppendNull()
		}
		str("strategy", c.strat)
		str("action", c.action)
		str("micro_segment", c.segment)
		str("preferred_channel", c.Channel)
		str("product_feed", custFeeds[i])
		str("early_vip_model_id", earlyID)
		out.Lifecycle[c.stage]++
		if c.tier != "" {
			out.Tiers[c.tier]++
		}
		if c.buyer {
			out.MeanPAlive += l.pAlive
			out.Expected365 += l.e365
			out.CLV12 += l.clv
		}
	}
	if out.Buyers > 0 {
		out.MeanPAlive /= float64(out.Buyers)
	}
	return b.NewRecord()
}
