package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// scoreFeatureSchema are the customer_features columns score uses: the
// first week's, then the profile's.
var scoreFeatureSchema = warehouse.CustomerFeatures.Columns(append(slices.Clone(firstWeekColumns),
	"orders", "revenue", "avg_check", "discount_share", "days_since_first", "days_since_last", "interorder_mean_days",
	"preferred_hour", "preferred_weekday", "preferred_channel", "top_category", "top_brand", "revenue_12m", "last_gap_days",
	"discount_depth", "price_level", "email_click_rate")...)

// customer is one row of the scores being built.
type customer struct {
	segment.Profile
	ltv           ltv
	buyer         bool
	hour, weekday int32
	// earlyProb is the early potential-VIP probability from the first week
	// (NaN: none, the week is not complete or there is no model); Profile's
	// EarlyVIP holds it only within apply_days of the first order, where it
	// can make a potential VIP.
	earlyProb          float64
	firstDay           int32 // first order, days since 1970-01-01
	stage, tier, strat string
	action, segment    string
	rfm                segment.RFM
	// The offer's inputs besides the profile, and the offer.
	discountDepth, priceLevel, clickRate float64
	offer                                string
	offerDiscount                        float64
}

// profiles builds every customer's profile: the buyers from the features and
// LTV predictions, then the registered customers without orders. Sorted by id.
func profiles(ctx context.Context, r Run, wh scoreStore, feats arrow.Record, preds map[string]ltv, early *segment.EarlyVIPModel, o ScoreOptions) ([]customer, error) {
	sg := o.Segmentation
	col := func(name string) arrow.Array { return feats.Column(scoreFeatureSchema.FieldIndices(name)[0]) }
	f64 := func(name string) *array.Float64 { return col(name).(*array.Float64) }
	i32 := func(name string) *array.Int32 { return col(name).(*array.Int32) }
	str := func(name string) *array.String { return col(name).(*array.String) }
	ids, orders := str("customer_id"), col("orders").(*array.Int64)
	first := col("first_order_date").(*array.Date32)
	revenue, check, disc := f64("revenue"), f64("avg_check"), f64("discount_share")
	sinceFirst, sinceLast, gap := f64("days_since_first"), f64("days_since_last"), f64("interorder_mean_days")
	rev12, lastGap := f64("revenue_12m"), f64("last_gap_days")
	hour, weekday := i32("preferred_hour"), i32("preferred_weekday")
	depth, level, clicks := f64("discount_depth"), f64("price_level"), f64("email_click_rate")
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
		c.earlyProb, c.firstDay = math.NaN(), int32(first.Value(i))
		c.discountDepth, c.priceLevel, c.clickRate = depth.Value(i), level.Value(i), clicks.Value(i)
		if early != nil && r.AsOf.Sub(first.Value(i).ToTime()) >= 7*day { // the first week is complete: its evidence is whole
			c.earlyProb = early.Probability(firstWeek(feats, i))
			if c.DaysSinceFirst <= float64(sg.EarlyVIP.ApplyDays) { // today's setting, not the one the model was trained with
				c.EarlyVIP = c.earlyProb
			}
		}
		custs = append(custs, c)
		seen[id] = true
	}
	var others []string // registered, without orders
	registered := warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "created_at"}, TimeColumn: "created_at", Before: r.AsOf}
	if err := wh.Each(ctx, r.Mem, registered, o.BatchRows, func(rec arrow.Record) error {
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
		custs = append(custs, customer{Profile: segment.Profile{ID: id, EarlyVIP: math.NaN()}, earlyProb: math.NaN()})
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
	value := segment.ValueTiers(ps, tiers)
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
		_, c.offerDiscount, c.offer = sg.Offers.Offer(segment.OfferInput{Stage: c.stage, Tier: c.tier, ValueTier: value[i],
			DiscountShare: c.DiscountShare, DiscountDepth: c.discountDepth, PriceLevel: c.priceLevel, ClickRate: c.clickRate})
	}
	return custs, nil
}

// prevSegmentsSchema reads last night's micro-segment of each customer.
var prevSegmentsSchema = warehouse.CustomerScores.Columns("customer_id", "micro_segment")

// segmentCustomers builds the micro-segments within lifecycle × value tier,
// keeping the ids of the day before's segments where most members stay.
func segmentCustomers(ctx context.Context, r Run, wh scoreStore, custs []customer, o segment.SegmentOptions) ([]segment.Segment, error) {
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
	rec, err := warehouse.ReadPublished(ctx, wh, r.Mem, warehouse.CustomerScores.Name, prevSegmentsSchema, r.AsOf.AddDate(0, 0, -1))
	switch {
	case err == nil:
		ids, segs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if s := segs.Value(i); s != "" {
				prev[strings.Clone(ids.Value(i))] = strings.Clone(s)
			}
		}
		rec.Release()
	case errors.Is(err, warehouse.ErrIncomplete):
		r.Log.WithError(err).Warn("the night before is incompletely published: segment ids start afresh")
	case !errors.Is(err, warehouse.ErrNotPublished):
		return nil, err
	}
	segs, err := segment.MicroSegments(ps, macro, prev, o)
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
