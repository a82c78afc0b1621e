package pipeline

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/go-faster/city"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Plan is what shard 0 of score decided for the date from every shard's
// profiles, recorded with its run: publish's shards build their rows from it.
type Plan struct {
	Job    string `json:"job"`
	Shards int    `json:"shards"`
	// Prints are the fingerprints of the profiles the plan read, by shard
	// (printColumns): a shard of publish checks that its profiles are still
	// those, whichever run of its score wrote them.
	Prints []string `json:"prints"`
	// Customers of each shard.
	Customers []int `json:"customers"`
	// EarlyVIPModelID is the early potential-VIP model of the profiles.
	EarlyVIPModelID string `json:"early_vip_model_id"`
}

// planProfileSchema are the columns of customer_profiles the plan reads:
// what makes the profile of a buyer, and the sums of the summary.
var planProfileSchema = warehouse.CustomerProfiles.Columns("customer_id", "model_id", "buyer", "orders", "days_since_first", "days_since_last",
	"last_gap_days", "interorder_mean_days", "revenue", "revenue_12m", "avg_check", "discount_share", "p_alive", "clv_12m", "early_vip",
	"top_category", "top_brand", "preferred_channel", "expected_purchases_365d", "next_order_in_days", "prediction_note", "basket")

// printColumns are the columns of customer_profiles the plan depends on.
var printColumns = planProfileSchema.Fields()

// prints sums up rows' fingerprints over printColumns per shard: a sum of
// each row's hash, so that it does not depend on the order rows are read in.
// It counts the rows of each shard too.
type prints struct{ sums, rows []uint64 }

func newPrints(shards int) prints { return prints{make([]uint64, shards), make([]uint64, shards)} }

// printed are the columns of rec that make a fingerprint, customer_id first
// (rec has printColumns among its columns).
func printed(rec arrow.Record) []arrow.Array {
	out := make([]arrow.Array, len(printColumns))
	for k, f := range printColumns {
		out[k] = rec.Column(rec.Schema().FieldIndices(f.Name)[0])
	}
	return out
}

// add adds row i of the columns printed.
func (p prints) add(cols []arrow.Array, i int, buf []byte) []byte {
	buf = buf[:0]
	for _, c := range cols {
		if c.IsNull(i) {
			buf = append(buf, 0xff)
			continue
		}
		switch a := c.(type) {
		case *array.String:
			buf = append(append(buf, a.Value(i)...), 0)
		case *array.Float64:
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.Value(i)))
		case *array.Int32:
			buf = binary.LittleEndian.AppendUint32(buf, uint32(a.Value(i)))
		case *array.Boolean:
			buf = append(buf, map[bool]byte{false: 0, true: 1}[a.Value(i)])
		}
	}
	k := warehouse.ShardOf(cols[0].(*array.String).Value(i), len(p.sums))
	p.sums[k] += city.CH64(buf)
	p.rows[k]++
	return buf
}

// strings are the sums as the plan records them.
func (p prints) strings() []string {
	out := make([]string, len(p.sums))
	for i, v := range p.sums {
		out[i] = strconv.FormatUint(v, 16) + "/" + strconv.FormatUint(p.rows[i], 10)
	}
	return out
}

// planned is the plan of the buyers, in id order.
type planned struct {
	ps      []segment.Profile
	stages  []string
	tiers   []string
	values  []string
	rfm     []segment.RFM
	segOf   []int32 // index in segs
	control []bool
	segs    []segment.Segment
	cuts    segment.ValueCuts
	vipBar  float64
}

// plan reads every shard's profiles (shard 0's run, after each part is
// in), plans the date over all buyers (lifecycle, VIP and value tiers, RFM,
// micro-segments with last night's ids, control groups, each segment's feed),
// stages segments and segment_feed, and writes each shard's part of
// customer_plan. It holds the buyers' profiles, not their rows.
//
// A pod 0 of a sharded run run again (its pod killed and restarted) whose
// job already planned the date from the same profiles keeps that plan: the
// other shards may have written their rows from it already.
func plan(ctx context.Context, r Run, wh scoreStore, o ScoreOptions, modelID, earlyID string, out *ScoreSummary) error {
	sh := o.Shard
	all := make([]warehouse.Slice, sh.Of)
	for i := range all {
		all[i] = warehouse.Slice{Index: i, Of: sh.Of}
	}
	var p planned
	var fp prints
	var buf []byte
	interned := map[string]string{}
	intern := func(s string) string {
		if v, ok := interned[s]; ok {
			return v
		}
		v := strings.Clone(s)
		interned[v] = v
		return v
	}
	nonBuyer := o.Segmentation.Lifecycle.Stage(segment.Profile{EarlyVIP: math.NaN()})
	summary := *out
	read := func(rec arrow.Record) error {
		c := func(i int) arrow.Array { return rec.Column(i) }
		f := func(col, i int) float64 { return c(col).(*array.Float64).Value(i) }
		s := func(col, i int) string { return c(col).(*array.String).Value(i) }
		pc := printed(rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			out.Customers++
			if m := s(1, i); m != modelID {
				return fmt.Errorf("customer %s was scored with model %s, shard 0 with %s: run every shard of score again", s(0, i), m, modelID)
			}
			buf = fp.add(pc, i, buf)
			if !c(2).(*array.Boolean).Value(i) {
				out.Lifecycle[nonBuyer]++
				continue
			}
			pr := segment.Profile{ID: strings.Clone(s(0, i)), Orders: int(c(3).(*array.Int32).Value(i)), DaysSinceFirst: f(4, i), DaysSinceLast: f(5, i),
				LastGapDays: f(6, i), InterorderMean: f(7, i), Revenue: f(8, i), Revenue12m: f(9, i), AvgCheck: f(10, i), DiscountShare: f(11, i),
				PAlive: f(12, i), CLV: f(13, i), EarlyVIP: f(14, i), TopCategory: intern(s(15, i)), TopBrand: intern(s(16, i)), Channel: intern(s(17, i))}
			p.ps = append(p.ps, pr)
			out.Buyers++
			if !math.IsNaN(pr.PAlive) {
				out.MeanPAlive += pr.PAlive
				out.WithPAlive++
			}
			if e := f(18, i); !math.IsNaN(e) {
				out.Expected365 += e
			}
			if !math.IsNaN(pr.CLV) {
				out.CLV12 += pr.CLV
			}
			if c(19).IsValid(i) {
				out.WithNextOrder++
			}
			if s(20, i) != "" {
				out.NotPredicted++
			}
		}
		return nil
	}
	// A shard run again rewrites its part: read again once it is back.
	for attempt := 1; ; attempt++ {
		p, fp, *out = planned{}, newPrints(sh.Of), summary
		out.Lifecycle, out.Tiers = map[string]int{}, map[string]int{}
		err := wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, planProfileSchema, r.AsOf, sh.Job, all, o.BatchRows, read)
		if err == nil {
			break
		}
		if !errors.Is(err, warehouse.ErrPartGone) || attempt == 5 {
			return err
		}
		r.Log.WithError(err).Warn("a shard rewrote its profiles while shard 0 read them: reading them again")
		if err := waitFor(ctx, o.PartsWait, func() (bool, string, error) {
			have, err := wh.PartsWritten(ctx, warehouse.CustomerProfiles.Name, r.AsOf, sh.Job, sh.Of)
			return have == sh.Of, fmt.Sprintf("score: %d of %d parts of run %s written", have, sh.Of, sh.Job), err
		}); err != nil {
			return err
		}
	}
	if out.WithPAlive > 0 {
		out.MeanPAlive /= float64(out.WithPAlive)
	}
	if sh.Of > 1 {
		run, existing, err := currentPlan(ctx, r, wh, sh)
		if err != nil {
			return err
		}
		if existing != nil && slices.Equal(existing.Prints, fp.strings()) {
			out.PlanOf = run
			r.Log.WithField("plan_run", run).Info("the job planned the date from these profiles already: its plan stands")
			return nil
		}
	}
	if err := p.decide(ctx, r, wh, o); err != nil {
		return err
	}
	for i := range p.ps {
		out.Lifecycle[p.stages[i]]++
		if p.tiers[i] != "" {
			out.Tiers[p.tiers[i]]++
		}
	}
	out.Segments = len(p.segs)
	out.MinSize = math.MaxInt
	members := 0
	for _, s := range p.segs {
		out.MinSize, out.MaxSize = min(out.MinSize, len(s.Members)), max(out.MaxSize, len(s.Members))
		members += len(s.Members)
	}
	segRec := p.segmentRecord(r, o)
	defer segRec.Release()
	feedRec, err := p.feeds(ctx, r, wh, o, all)
	if err != nil {
		return err
	}
	defer feedRec.Release()
	out.Staged = map[string]int{warehouse.CustomerScores.Name: out.Customers, warehouse.SegmentMembers.Name: members}
	for _, t := range []struct {
		table string
		rec   arrow.Record
	}{{warehouse.Segments.Name, segRec}, {warehouse.SegmentFeed.Name, feedRec}} {
		if err := wh.Stage(ctx, t.table, r.AsOf, r.ID, t.rec); err != nil {
			return err
		}
		out.Staged[t.table] = int(t.rec.NumRows())
	}
	for _, s := range all {
		if err := p.writePlan(ctx, r, wh, o, s); err != nil {
			return err
		}
	}
	out.Plan = &Plan{Job: sh.Job, Shards: sh.Of, EarlyVIPModelID: earlyID, Prints: fp.strings()}
	for _, n := range fp.rows {
		out.Plan.Customers = append(out.Plan.Customers, int(n))
	}
	r.Log.WithFields(logrus.Fields{"customers": out.Customers, "buyers": out.Buyers, "segments": out.Segments, "shards": sh.Of}).
		Info("date planned: segments and feeds staged, each shard's plan written for publish")
	return nil
}

// decide gives each buyer its stage, tiers, RFM scores, micro-segment and
// control-group place.
func (p *planned) decide(ctx context.Context, r Run, wh scoreStore, o ScoreOptions) error {
	sg := o.Segmentation
	n := len(p.ps)
	p.stages = make([]string, n)
	since, orders, rev := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, pr := range p.ps {
		p.stages[i] = sg.Lifecycle.Stage(pr)
		since[i], orders[i], rev[i] = pr.DaysSinceLast, float64(pr.Orders), pr.Revenue
	}
	p.tiers, p.vipBar = sg.VIP.VIPTiers(p.ps, p.stages)
	p.cuts = segment.NewValueCuts(p.ps)
	p.values = make([]string, n)
	macro := make([]string, n)
	groups := map[[2]string]string{} // a few dozen names, not one string a buyer
	for i, pr := range p.ps {
		p.values[i] = p.cuts.Tier(pr, p.tiers[i])
		k := [2]string{p.stages[i], p.values[i]}
		name, ok := groups[k]
		if !ok {
			name = strings.ReplaceAll(p.stages[i], "_", " ") + " · " + p.values[i]
			groups[k] = name
		}
		macro[i] = name
	}
	p.rfm = segment.RFMScores(since, orders, rev)
	prev, err := previousSegments(ctx, r, wh, p.ps)
	if err != nil {
		return err
	}
	if p.segs, err = segment.MicroSegments(p.ps, macro, prev, sg.MicroSegments); err != nil {
		return err
	}
	p.segOf = make([]int32, n)
	for i := range p.segOf {
		p.segOf[i] = -1
	}
	p.control = make([]bool, n)
	period := r.AsOf.Unix() / 86400 / int64(o.CampaignDays)
	for s, seg := range p.segs {
		for _, i := range seg.Members {
			p.segOf[i] = int32(s)
		}
		// The control_share of members with the lowest control rank.
		members := slices.Clone(seg.Members)
		rank := make(map[int]uint64, len(members))
		for _, i := range members {
			rank[i] = controlRank(p.ps[i].ID, period)
		}
		slices.SortFunc(members, func(a, b int) int {
			return cmp.Or(cmp.Compare(rank[a], rank[b]), strings.Compare(p.ps[a].ID, p.ps[b].ID))
		})
		for _, i := range members[:int(math.Round(o.ControlShare*float64(len(members))))] {
			p.control[i] = true
		}
	}
	return nil
}

// prevSegmentsSchema reads last night's micro-segment of each customer.
var prevSegmentsSchema = warehouse.CustomerScores.Columns("customer_id", "micro_segment")

// previousSegments are the buyers' segments of the night before, joined on
// the sorted ids (ps is in id order; so is what the warehouse reads).
func previousSegments(ctx context.Context, r Run, wh scoreStore, ps []segment.Profile) (segment.Previous, error) {
	prev := segment.Previous{Of: make([]string, len(ps)), Size: map[string]int{}}
	rec, err := warehouse.ReadPublished(ctx, wh, r.Mem, warehouse.CustomerScores.Name, prevSegmentsSchema, r.AsOf.AddDate(0, 0, -1))
	switch {
	case errors.Is(err, warehouse.ErrIncomplete):
		r.Log.WithError(err).Warn("the night before is incompletely published: segment ids start afresh")
		return prev, nil
	case errors.Is(err, warehouse.ErrNotPublished):
		return prev, nil
	case err != nil:
		return prev, err
	}
	defer rec.Release()
	ids, segs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
	names := map[string]string{}
	k := 0
	for i := 0; i < int(rec.NumRows()); i++ {
		s := segs.Value(i)
		if s == "" {
			continue
		}
		name, ok := names[s]
		if !ok {
			name = strings.Clone(s)
			names[name] = name
		}
		prev.Size[name]++
		id := ids.Value(i)
		for k < len(ps) && ps[k].ID < id {
			k++
		}
		if k < len(ps) && ps[k].ID == id {
			prev.Of[k] = name
		}
	}
	return prev, nil
}

// segmentRecord lists the segments with their economics and the strategy most
// of their members have (the first in segment.Strategies on ties).
func (p *planned) segmentRecord(r Run, o ScoreOptions) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, warehouse.Segments.Schema)
	defer b.Release()
	for _, s := range p.segs {
		count := map[string]int{}
		for _, i := range s.Members {
			strat, _ := segment.Strategy(o.Segmentation.Strategies, p.ps[i], p.stages[i], p.tiers[i])
			count[strat]++
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

// basketSchema reads a customer's products.
var basketSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "basket")

// feeds counts, over every shard's baskets, the members of each segment who
// bought each product, and ranks each segment's feed by lift against the
// whole base: the segment_feed record.
func (p *planned) feeds(ctx context.Context, r Run, wh scoreStore, o ScoreOptions, all []warehouse.Slice) (arrow.Record, error) {
	products := map[string]int32{}
	var ids []string // by number, first seen first
	var base []int
	counts := make([]map[int32]int, len(p.segs))
	for s := range counts {
		counts[s] = map[int32]int{}
	}
	buyers, k := 0, 0
	if err := wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, basketSchema, r.AsOf, o.Shard.Job, all, o.BatchRows, func(rec arrow.Record) error {
		custIDs, buyer, baskets := rec.Column(0).(*array.String), rec.Column(1).(*array.Boolean), rec.Column(2).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if !buyer.Value(i) {
				continue
			}
			if k >= len(p.ps) || p.ps[k].ID != custIDs.Value(i) {
				return fmt.Errorf("the profiles of customer %s changed while shard 0 planned: run score again", custIDs.Value(i))
			}
			seg := p.segOf[k]
			k++
			basket := baskets.Value(i)
			if basket == "" {
				continue
			}
			buyers++
			for id := range strings.SplitSeq(basket, basketSep) {
				n, ok := products[id]
				if !ok {
					id = strings.Clone(id)
					n = int32(len(ids))
					products[id] = n
					ids = append(ids, id)
					base = append(base, 0)
				}
				base[n]++
				if seg >= 0 {
					counts[seg][n]++
				}
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Products numbered in id order, as one process numbers them: ties of
	// lift and buyers go to the lower number.
	order := make([]int32, len(ids))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(ids[a], ids[b]) })
	renumber := make([]int32, len(ids))
	sortedBase := make([]int, len(ids))
	for n, old := range order {
		renumber[old] = int32(n)
		sortedBase[n] = base[old]
	}
	b := array.NewRecordBuilder(r.Mem, warehouse.SegmentFeed.Schema)
	defer b.Release()
	for s, seg := range p.segs {
		count := make(map[int32]int, len(counts[s]))
		for n, c := range counts[s] {
			count[renumber[n]] = c
		}
		counts[s] = nil
		for rank, it := range segment.RankFeed(count, len(seg.Members), sortedBase, buyers, o.Segmentation.Feeds) {
			b.Field(0).(*array.StringBuilder).Append(seg.ID)
			b.Field(1).(*array.Int32Builder).Append(int32(rank + 1))
			b.Field(2).(*array.StringBuilder).Append(ids[order[it.Product]])
			b.Field(3).(*array.Int32Builder).Append(int32(it.Buyers))
			b.Field(4).(*array.Float64Builder).Append(it.Lift)
		}
	}
	return b.NewRecord(), nil
}

// writePlan writes the part of customer_plan of one shard's customers.
func (p *planned) writePlan(ctx context.Context, r Run, wh scoreStore, o ScoreOptions, s warehouse.Slice) error {
	sg := o.Segmentation
	b := array.NewRecordBuilder(r.Mem, warehouse.CustomerPlan.Schema)
	defer b.Release()
	str := func(i int, v string) { b.Field(i).(*array.StringBuilder).Append(v) }
	i32 := func(i int, v int) { b.Field(i).(*array.Int32Builder).Append(int32(v)) }
	idSchema := warehouse.CustomerProfiles.Columns("customer_id", "buyer")
	if err := wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, idSchema, r.AsOf, o.Shard.Job, []warehouse.Slice{s}, o.BatchRows, func(rec arrow.Record) error {
		ids, buyer := rec.Column(0).(*array.String), rec.Column(1).(*array.Boolean)
		for i := 0; i < int(rec.NumRows()); i++ {
			id := ids.Value(i)
			str(0, id)
			if !buyer.Value(i) {
				pr := segment.Profile{ID: id, EarlyVIP: math.NaN()}
				stage := sg.Lifecycle.Stage(pr)
				tier := sg.VIP.Tier(pr, stage, p.vipBar)
				str(1, stage)
				str(2, tier)
				str(3, p.cuts.Tier(pr, tier))
				i32(4, 0)
				i32(5, 0)
				i32(6, 0)
				str(7, "")
				b.Field(8).(*array.BooleanBuilder).Append(false)
				continue
			}
			k, found := slices.BinarySearchFunc(p.ps, id, func(pr segment.Profile, id string) int { return strings.Compare(pr.ID, id) })
			if !found {
				return fmt.Errorf("the profiles of customer %s changed while shard 0 planned: run score again", id)
			}
			str(1, p.stages[k])
			str(2, p.tiers[k])
			str(3, p.values[k])
			i32(4, p.rfm[k].R)
			i32(5, p.rfm[k].F)
			i32(6, p.rfm[k].M)
			seg := ""
			if p.segOf[k] >= 0 {
				seg = p.segs[p.segOf[k]].ID
			}
			str(7, seg)
			b.Field(8).(*array.BooleanBuilder).Append(p.control[k])
		}
		return nil
	}); err != nil {
		return err
	}
	rec := b.NewRecord()
	defer rec.Release()
	return wh.WritePart(ctx, warehouse.CustomerPlan.Name, r.AsOf, o.Shard.Job, s, r.ID, rec)
}
