package pipeline

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// feeds ranks each segment's products and cuts each member's feed from it; it
// returns the segment_feed record and each customer's feed.
func feeds(r Run, custs []customer, segs []segment.Segment, cb transform.CustomerBaskets, o segment.FeedOptions) (arrow.Record, []string) {
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
	rb := array.NewRecordBuilder(r.Mem, warehouse.SegmentFeed.Schema)
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

// segmentRecord lists the segments with their economics and the strategy most
// of their members have (the first in segment.Strategies on ties).
func segmentRecord(r Run, custs []customer, segs []segment.Segment) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, warehouse.Segments.Schema)
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
func memberRecord(r Run, custs []customer, segs []segment.Segment, custFeeds []string, o ScoreOptions) arrow.Record {
	period := r.AsOf.Unix() / 86400 / int64(o.CampaignDays)
	b := array.NewRecordBuilder(r.Mem, warehouse.SegmentMembers.Schema)
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
		control := int(math.Round(o.ControlShare * float64(len(members))))
		for k, i := range members {
			c := custs[i]
			str(0, s.ID)
			str(1, c.ID)
			str(2, c.stage)
			str(3, c.tier)
			str(4, c.strat)
			str(5, c.action)
			b.Field(6).(*array.Float64Builder).Append(c.DiscountShare)
			str(7, c.offer)
			b.Field(8).(*array.Float64Builder).Append(c.offerDiscount)
			b.Field(9).(*array.Int32Builder).Append(c.hour)
			b.Field(10).(*array.Int32Builder).Append(c.weekday)
			str(11, c.Channel)
			str(12, custFeeds[i])
			b.Field(13).(*array.BooleanBuilder).Append(k < control)
		}
	}
	return b.NewRecord()
}

// scoreRecord is the customer_scores record.
func scoreRecord(r Run, custs []customer, custFeeds []string, modelID, earlyID string, out *ScoreSummary) arrow.Record {
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
	for i, c := range custs {
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
		str("product_feed", custFeeds[i])
		str("early_vip_model_id", earlyID)
		out.Lifecycle[c.stage]++
		if c.tier != "" {
			out.Tiers[c.tier]++
		}
		if c.buyer && !math.IsNaN(l.pAlive) {
			out.MeanPAlive += l.pAlive
			out.WithPAlive++
		}
		if c.buyer && !math.IsNaN(l.e365) {
			out.Expected365 += l.e365
		}
		if c.buyer && !math.IsNaN(l.clv) {
			out.CLV12 += l.clv
		}
		if c.buyer && l.note != "" {
			out.NotPredicted++
		}
	}
	if out.WithPAlive > 0 {
		out.MeanPAlive /= float64(out.WithPAlive)
	}
	return b.NewRecord()
}
