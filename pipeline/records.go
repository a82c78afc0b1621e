package pipeline

import (
	"hash/fnv"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// controlHold decides who is held out of campaigns on a day, the same way
// in score (the plan's control_group) and in lift (which members measured a
// date all through its window). A customer has a fixed place u in [0, 1),
// from a hash of its id; the control group of campaign period p is the band
// of places [p·δ, p·δ + share) (mod 1), δ = share/4: each period a quarter of
// the control group is replaced, and a customer is held out for four
// periods running. A period's group stays held out for window − 1 days
// after the period ends, so that every date's control group is held out
// until that date's lift window closes: on those days the two periods'
// groups together hold about share + δ of each segment.
type controlHold struct {
	share        float64
	campaignDays int64
	windowDays   int64
}

// controlRotation: the periods a customer stays in the control group.
const controlRotation = 4

func newControlHold(share float64, campaignDays, windowDays int) controlHold {
	return controlHold{share: share, campaignDays: int64(max(1, campaignDays)), windowDays: int64(max(1, windowDays))}
}

// place is a customer's fixed place in [0, 1).
func place(id string) float64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return float64(h.Sum64()>>11) / (1 << 53)
}

// drawn says whether the customer at u is in period p's control group.
func (h controlHold) drawn(u float64, p int64) bool {
	step := h.share / controlRotation
	off := math.Mod(float64(p)*step, 1)
	return math.Mod(u-off+1, 1) < h.share
}

// held says whether the customer at u is held out on day (days since
// 1970-01-01).
func (h controlHold) held(u float64, day int64) bool {
	p := day / h.campaignDays
	if h.drawn(u, p) {
		return true
	}
	// Earlier periods whose last day's window is still open.
	for q := p - 1; q >= 0 && (q+1)*h.campaignDays+h.windowDays-2 >= day; q-- {
		if h.drawn(u, q) {
			return true
		}
	}
	return false
}

// Arms of a lift window.
const (
	armTreated  = iota // never held out in the window
	armControl         // held out every day of the window
	armSwitched        // held out on some days only: in neither arm
)

// arm says which arm of the window [from, from+days) the customer at u
// measures: held out is decided per period and by the end of each period's
// hold, so checking the first day and the days those change is enough.
func (h controlHold) arm(u float64, from, days int64) int {
	to := from + days
	first := h.held(u, from)
	for q := max(0, (from-h.windowDays)/h.campaignDays-1); q*h.campaignDays < to; q++ {
		for _, d := range []int64{q * h.campaignDays, (q+1)*h.campaignDays + h.windowDays - 1} {
			if d > from && d < to && h.held(u, d) != first {
				return armSwitched
			}
		}
	}
	if first {
		return armControl
	}
	return armTreated
}

// memberRecord lists the members of each segment among the customers with
// what a campaign needs, and whether the plan holds them out as control.
func memberRecord(r Run, custs []customer) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, warehouse.SegmentMembers.Schema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	f64 := func(name string) *array.Float64Builder { return canon.BuilderOf[*array.Float64Builder](b, name) }
	i32 := func(name string) *array.Int32Builder { return canon.BuilderOf[*array.Int32Builder](b, name) }
	seg, id, stage, tier, strat, action := str("segment_id"), str("customer_id"), str("lifecycle_stage"), str("vip_tier"), str("strategy"), str("action")
	offer, channel, feed := str("offer"), str("preferred_channel"), str("product_feed")
	sensitivity, discount := f64("discount_sensitivity"), f64("offer_discount")
	hour, weekday := i32("best_hour"), i32("best_weekday")
	control := canon.BuilderOf[*array.BooleanBuilder](b, "control_group")
	for _, c := range custs {
		if c.segment == "" {
			continue
		}
		seg.Append(c.segment)
		id.Append(c.ID)
		stage.Append(c.stage)
		tier.Append(c.tier)
		strat.Append(c.strat)
		action.Append(c.action)
		sensitivity.Append(c.DiscountShare)
		offer.Append(c.offer)
		discount.Append(c.offerDiscount)
		hour.Append(c.hour)
		weekday.Append(c.weekday)
		channel.Append(c.Channel)
		feed.Append(c.feed)
		control.Append(c.control)
	}
	return b.NewRecord()
}

// scoreRecord is the customer_scores record.
func scoreRecord(r Run, custs []customer, modelID, earlyID string) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, warehouse.CustomerScores.Schema)
	defer b.Release()
	b.Reserve(len(custs))
	field := func(name string) array.Builder { return b.Field(warehouse.CustomerScores.Schema.FieldIndices(name)[0]) }
	str := func(name, v string) { field(name).(*array.StringBuilder).Append(v) }
	f64 := func(name string, v float64) { field(name).(*array.Float64Builder).Append(v) }
	// A prediction the model did not make (NaN) is NULL, never a number.
	orNull := func(name string, v float64) {
		if math.IsNaN(v) {
			field(name).AppendNull()
		} else {
			f64(name, v)
		}
	}
	i32 := func(name string, v int32) { field(name).(*array.Int32Builder).Append(v) }
	asOfDay := arrow.Date32FromTime(r.AsOf)
	for _, c := range custs {
		l := c.ltv
		str("customer_id", c.ID)
		str("model_id", modelID)
		for _, v := range []struct {
			name string
			v    float64
		}{{"frequency", l.x}, {"recency_days", l.tx}, {"age_days", l.T}, {"discount_sensitivity", c.DiscountShare}} {
			f64(v.name, v.v)
		}
		for _, v := range []struct {
			name string
			v    float64
		}{{"p_alive", l.pAlive}, {"expected_purchases_30d", l.e30}, {"expected_purchases_90d", l.e90}, {"expected_purchases_365d", l.e365},
			{"expected_order_value", l.value}, {"clv_12m", l.clv}} {
			orNull(v.name, v.v)
		}
		str("prediction_note", l.note)
		if l.hasNext {
			f64("next_order_in_days", l.next)
			field("next_order_date").(*array.Date32Builder).Append(asOfDay + arrow.Date32(math.Floor(l.next)))
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
		orNull("potential_vip_probability", c.earlyProb)
		if c.buyer {
			field("first_order_date").(*array.Date32Builder).Append(arrow.Date32(c.firstDay))
		} else {
			field("first_order_date").AppendNull()
		}
		str("strategy", c.strat)
		str("action", c.action)
		str("offer", c.offer)
		f64("offer_discount", c.offerDiscount)
		str("micro_segment", c.segment)
		str("preferred_channel", c.Channel)
		str("product_feed", c.feed)
		str("early_vip_model_id", earlyID)
	}
	return b.NewRecord()
}
