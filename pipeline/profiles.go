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
// time: the buyers from the features, LTV predictions and baskets, then the
// registered customers without orders (a buyer's basket is its features'). Rows are written as they come: the
// part's readers read them in id order (EachPart). It returns the rows.
func writeProfiles(ctx context.Context, r Run, wh scoreStore, pw warehouse.PartWriter, feats arrow.Record, preds map[string]ltv, early *segment.EarlyVIPModel,
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
			c.earlyProb = early.Probability(firstWeek(feats, i))
			if c.DaysSinceFirst <= float64(sg.EarlyVIP.ApplyDays) { // today's setting, not the one the model was trained with
				c.EarlyVIP = c.earlyProb
			}
		}
		pb.add(c, basket.Value(i))
		if err := flush(o.BatchRows); err != nil {
			return 0, err
		}
		seen[id] = true
	}
	registered := warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "created_at"}, TimeColumn: "created_at", Before: r.AsOf,
		Slice: r.Shard.slice()}
	if err := wh.Each(ctx, r.Mem, registered, o.BatchRows, func(rec arrow.Record) error {
		ids := canon.ArrayOf[*array.String](rec, "customer_id")
		for i := 0; i < int(rec.NumRows()); i++ {
			if id := ids.Value(i); !seen[id] { // registered, without orders
				seen[strings.Clone(id)] = true
				pb.add(customer{Profile: segment.Profile{ID: id, EarlyVIP: math.NaN()}, earlyProb: math.NaN()}, "")
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

// profileBuilder builds the rows of customer_profiles.
type profileBuilder struct {
	b       *array.RecordBuilder
	modelID string
}

func newProfileBuilder(r Run, modelID string) *profileBuilder {
	return &profileBuilder{b: array.NewRecordBuilder(r.Mem, warehouse.CustomerProfiles.Schema), modelID: modelID}
}

// add appends a customer's row; basket are its products joined by basketSep.
func (pb *profileBuilder) add(c customer, basket string) {
	b := pb.b
	field := func(name string) array.Builder {
		return b.Field(warehouse.CustomerProfiles.Schema.FieldIndices(name)[0])
	}
	str := func(name, v string) { field(name).(*array.StringBuilder).Append(v) }
	f64 := func(name string, v float64) { field(name).(*array.Float64Builder).Append(v) }
	i32 := func(name string, v int32) { field(name).(*array.Int32Builder).Append(v) }
	l := c.ltv
	str("customer_id", c.ID)
	str("model_id", pb.modelID)
	field("buyer").(*array.BooleanBuilder).Append(c.buyer)
	i32("orders", int32(c.Orders))
	if c.buyer {
		field("first_order_date").(*array.Date32Builder).Append(arrow.Date32(c.firstDay))
	} else {
		field("first_order_date").AppendNull()
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"days_since_first", c.DaysSinceFirst}, {"days_since_last", c.DaysSinceLast}, {"last_gap_days", c.LastGapDays},
		{"interorder_mean_days", c.InterorderMean}, {"revenue", c.Revenue}, {"revenue_12m", c.Revenue12m}, {"avg_check", c.AvgCheck},
		{"discount_share", c.DiscountShare}, {"p_alive", c.PAlive}, {"clv_12m", c.CLV}, {"early_vip", c.EarlyVIP},
		{"potential_vip_probability", c.earlyProb}, {"discount_depth", c.discountDepth}, {"price_level", c.priceLevel},
		{"email_click_rate", c.clickRate}, {"frequency", l.x}, {"recency_days", l.tx}, {"age_days", l.T},
		{"expected_purchases_30d", l.e30}, {"expected_purchases_90d", l.e90}, {"expected_purchases_365d", l.e365},
		{"expected_order_value", l.value}} {
		f64(v.name, v.v)
	}
	str("top_category", c.TopCategory)
	str("top_brand", c.TopBrand)
	str("preferred_channel", c.Channel)
	i32("best_hour", c.hour)
	i32("best_weekday", c.weekday)
	if l.hasNext {
		f64("next_order_in_days", l.next)
	} else {
		field("next_order_in_days").AppendNull()
	}
	str("prediction_note", l.note)
	str("basket", basket)
}
