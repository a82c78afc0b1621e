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
	// Each column's builder found once, not a lookup by name a value (a
	// million customers' scores took 1.1 s of lookups).
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	f64 := func(name string) *array.Float64Builder { return canon.BuilderOf[*array.Float64Builder](b, name) }
	i32 := func(name string) *array.Int32Builder { return canon.BuilderOf[*array.Int32Builder](b, name) }
	date := func(name string) *array.Date32Builder { return canon.BuilderOf[*array.Date32Builder](b, name) }
	id, model, note, early := str("customer_id"), str("model_id"), str("prediction_note"), str("early_vip_model_id")
	rfmCode, rfmSegment, rfmCell := str("rfm_code"), str("rfm_segment"), str("rfm_cell")
	stage, tier, handling, strategy, action, offer := str("lifecycle_stage"), str("vip_tier"), str("vip_handling"), str("strategy"), str("action"), str("offer")
	segmentID, channel, feed := str("micro_segment"), str("preferred_channel"), str("product_feed")
	frequency, recency, age, discount := f64("frequency"), f64("recency_days"), f64("age_days"), f64("discount_sensitivity")
	pAlive, e30, e90, e365 := f64("p_alive"), f64("expected_purchases_30d"), f64("expected_purchases_90d"), f64("expected_purchases_365d")
	value, clv, nextIn, earlyProb, offerDiscount := f64("expected_order_value"), f64("clv_12m"), f64("next_order_in_days"), f64("potential_vip_probability"), f64("offer_discount")
	rfmR, rfmF, rfmM, hour, weekday := i32("rfm_r"), i32("rfm_f"), i32("rfm_m"), i32("best_hour"), i32("best_weekday")
	nextDate, firstDate := date("next_order_date"), date("first_order_date")
	// A prediction the model did not make (NaN) is NULL, never a number.
	orNull := func(fb *array.Float64Builder, v float64) {
		if math.IsNaN(v) {
			fb.AppendNull()
		} else {
			fb.Append(v)
		}
	}
	asOfDay := arrow.Date32FromTime(r.AsOf)
	for _, c := range custs {
		l := c.ltv
		id.Append(c.ID)
		model.Append(modelID)
		frequency.Append(l.x)
		recency.Append(l.tx)
		age.Append(l.T)
		discount.Append(c.DiscountShare)
		orNull(pAlive, l.pAlive)
		orNull(e30, l.e30)
		orNull(e90, l.e90)
		orNull(e365, l.e365)
		orNull(value, l.value)
		orNull(clv, l.clv)
		note.Append(l.note)
		if l.hasNext {
			nextIn.Append(l.next)
			nextDate.Append(asOfDay + arrow.Date32(math.Floor(l.next)))
		} else {
			nextIn.AppendNull()
			nextDate.AppendNull()
		}
		rfmR.Append(int32(c.rfm.R))
		rfmF.Append(int32(c.rfm.F))
		rfmM.Append(int32(c.rfm.M))
		if c.buyer {
			rfmCode.Append(c.rfm.Code())
			rfmSegment.Append(c.rfm.Segment())
			rfmCell.Append(c.rfm.Cell())
			hour.Append(c.hour)
			weekday.Append(c.weekday)
		} else {
			rfmCode.Append("")
			rfmSegment.Append("")
			rfmCell.Append("")
			hour.AppendNull()
			weekday.AppendNull()
		}
		stage.Append(c.stage)
		tier.Append(c.tier)
		handling.Append(segment.VIPHandling[c.tier])
		orNull(earlyProb, c.earlyProb)
		if c.buyer {
			firstDate.Append(arrow.Date32(c.firstDay))
		} else {
			firstDate.AppendNull()
		}
		strategy.Append(c.strat)
		action.Append(c.action)
		offer.Append(c.offer)
		offerDiscount.Append(c.offerDiscount)
		segmentID.Append(c.segment)
		channel.Append(c.Channel)
		feed.Append(c.feed)
		early.Append(earlyID)
	}
	return b.NewRecord()
}
