package pipeline

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// scoreFeatureSchema are the customer_features columns score uses: the
// first week's, then the profile's.
var scoreFeatureSchema = warehouse.CustomerFeatures.Columns(append(slices.Clone(firstWeekColumns),
	"orders", "revenue", "avg_check", "discount_share", "days_since_first", "days_since_last", "interorder_mean_days",
	"preferred_hour", "preferred_weekday", "preferred_channel", "top_category", "top_brand", "revenue_12m", "last_gap_days",
	"discount_depth", "price_level", "email_click_rate", "basket")...)

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
	// From the plan: the value tier and the control group; the basket
	// (product ids joined by basketSep) and the feed cut from it.
	value   string
	control bool
	basket  string
	feed    string
}

// writeProfiles writes the shard's part of customer_profiles, a batch at a
// time: the buyers from the features (their baskets included) and LTV
// predictions, then the registered customers without orders. Rows are
// written as they come: the part's readers read them in id order
// (EachPart). It returns the rows.
func writeProfiles(ctx context.Context, r Run, wh scoreStore, pw warehouse.PartWriter, s warehouse.Slice, feats arrow.Record, preds map[string]ltv, early *segment.EarlyVIPModel,
	modelID string, o ScoreOptions) (_ int, err error) {
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
	channel, topCat, topBrand, basket := str("preferred_channel"), str("top_category"), str("top_brand"), str("basket")
	week := firstWeeks(feats)
	pb := newProfileBuilder(r, modelID)
	defer pb.b.Release()
	wb := newWriteBehind(ctx, 1) // written while the next batch is built
	defer func() {
		if werr := wb.wait(); err == nil {
			err = werr
		}
	}()
	rows := 0
	flush := func(least int) error {
		if canon.Len(pb.b) < least {
			return nil
		}
		rec := pb.b.NewRecord()
		defer rec.Release()
		rows += int(rec.NumRows())
		return wb.write(pw, rec)
	}
	// The buyers' ids are views of feats, which outlives the map; the
	// registered customers' are copied (their batches are released).
	seen := make(map[string]bool, feats.NumRows())
	for i := 0; i < int(feats.NumRows()); i++ {
		id := ids.Value(i)
		l, ok := preds[id]
		if !ok {
			return 0, fmt.Errorf("customer %s has features but no purchase summary: features and orders disagree", id)
		}
		c := customer{buyer: true, ltv: l, hour: hour.Value(i), weekday: weekday.Value(i), Profile: segment.Profile{
			ID: id, Orders: int(orders.Value(i)), DaysSinceFirst: sinceFirst.Value(i), DaysSinceLast: sinceLast.Value(i),
			LastGapDays: lastGap.Value(i), InterorderMean: gap.Value(i), Revenue: revenue.Value(i), Revenue12m: rev12.Value(i),
			AvgCheck: check.Value(i), DiscountShare: disc.Value(i), PAlive: l.pAlive, CLV: l.clv, EarlyVIP: math.NaN(),
			TopCategory: topCat.Value(i), TopBrand: topBrand.Value(i), Channel: channel.Value(i)}}
		c.earlyProb, c.firstDay = math.NaN(), int32(first.Value(i))
		c.discountDepth, c.priceLevel, c.clickRate = depth.Value(i), level.Value(i), clicks.Value(i)
		if early != nil && r.AsOf.Sub(first.Value(i).ToTime()) >= 7*day { // the first week is complete: its evidence is whole
			c.earlyProb = early.Probability(week(i))
			if c.DaysSinceFirst <= float64(sg.EarlyVIP.ApplyDays) { // today's setting, not the one the model was trained with
				c.EarlyVIP = c.earlyProb
			}
		}
		pb.add(&c, basket.Value(i))
		if err := flush(o.BatchRows); err != nil {
			return 0, err
		}
		seen[id] = true
	}
	registered := warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "created_at"}, TimeColumn: "created_at", Before: r.AsOf,
		Slice: s}
	if err := wh.Each(ctx, r.Mem, registered, o.BatchRows, func(rec arrow.Record) error {
		ids := canon.ArrayOf[*array.String](rec, "customer_id")
		for i := 0; i < int(rec.NumRows()); i++ {
			if id := ids.Value(i); !seen[id] { // registered, without orders
				seen[strings.Clone(id)] = true
				pb.add(&customer{Profile: segment.Profile{ID: id, EarlyVIP: math.NaN()}, earlyProb: math.NaN()}, "")
				if err := flush(o.BatchRows); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return 0, err
	}
	return rows, flush(1)
}

// basketSep joins a customer's products in customer_profiles.basket, as in
// customer_features.basket.
const basketSep = transform.BasketSep

// profileBuilder builds the rows of customer_profiles, its columns' builders
// found once (a row sets all 35).
type profileBuilder struct {
	b                                               *array.RecordBuilder
	modelID                                         string
	id, model, category, brand, channel, note, bask *array.StringBuilder
	buyer                                           *array.BooleanBuilder
	orders, hour, weekday                           *array.Int32Builder
	first                                           *array.Date32Builder
	floats                                          []*array.Float64Builder // profileFloats
	next                                            *array.Float64Builder
}

// profileFloats are the Float64 columns of customer_profiles that every row
// has, in the order add sets them.
var profileFloats = []string{"days_since_first", "days_since_last", "last_gap_days", "interorder_mean_days", "revenue", "revenue_12m",
	"avg_check", "discount_share", "p_alive", "clv_12m", "early_vip", "potential_vip_probability", "discount_depth", "price_level",
	"email_click_rate", "frequency", "recency_days", "age_days", "expected_purchases_30d", "expected_purchases_90d",
	"expected_purchases_365d", "expected_order_value"}

func newProfileBuilder(r Run, modelID string) *profileBuilder {
	b := array.NewRecordBuilder(r.Mem, warehouse.CustomerProfiles.Schema)
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	i32 := func(name string) *array.Int32Builder { return canon.BuilderOf[*array.Int32Builder](b, name) }
	pb := &profileBuilder{b: b, modelID: modelID, id: str("customer_id"), model: str("model_id"), category: str("top_category"),
		brand: str("top_brand"), channel: str("preferred_channel"), note: str("prediction_note"), bask: str("basket"),
		buyer: canon.BuilderOf[*array.BooleanBuilder](b, "buyer"), orders: i32("orders"), hour: i32("best_hour"), weekday: i32("best_weekday"),
		first: canon.BuilderOf[*array.Date32Builder](b, "first_order_date"), next: canon.BuilderOf[*array.Float64Builder](b, "next_order_in_days")}
	for _, name := range profileFloats {
		pb.floats = append(pb.floats, canon.BuilderOf[*array.Float64Builder](b, name))
	}
	return pb
}

// add appends a customer's row; basket are its products joined by basketSep.
func (pb *profileBuilder) add(c *customer, basket string) {
	l := &c.ltv
	pb.id.Append(c.ID)
	pb.model.Append(pb.modelID)
	pb.buyer.Append(c.buyer)
	pb.orders.Append(int32(c.Orders))
	if c.buyer {
		pb.first.Append(arrow.Date32(c.firstDay))
	} else {
		pb.first.AppendNull()
	}
	for k, v := range [...]float64{c.DaysSinceFirst, c.DaysSinceLast, c.LastGapDays, c.InterorderMean, c.Revenue, c.Revenue12m,
		c.AvgCheck, c.DiscountShare, c.PAlive, c.CLV, c.EarlyVIP, c.earlyProb, c.discountDepth, c.priceLevel,
		c.clickRate, l.x, l.tx, l.T, l.e30, l.e90, l.e365, l.value} {
		pb.floats[k].Append(v)
	}
	pb.category.Append(c.TopCategory)
	pb.brand.Append(c.TopBrand)
	pb.channel.Append(c.Channel)
	pb.hour.Append(c.hour)
	pb.weekday.Append(c.weekday)
	if l.hasNext {
		pb.next.Append(l.next)
	} else {
		pb.next.AppendNull()
	}
	pb.note.Append(l.note)
	pb.bask.Append(basket)
}
