package pipeline

import (
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

	"github.com/tessera-cdp/tessera/canon"
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
			b := byte(0)
			if a.Value(i) {
				b = 1
			}
			buf = append(buf, b)
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
	ps  []segment.Profile // freed once the segments are made: ids stay
	ids []string
	// Stages, tiers and value tiers as codes of names: a byte, not a
	// string, each of millions of buyers.
	names                 codes
	stages, tiers, values []uint8
	rfm                   [][3]int8
	segOf                 []int32 // index in segs
	control               []bool
	segs                  []segment.Segment
	cuts                  segment.ValueCuts
	vipBar                float64
	prev                  segment.Previous // the buyers' segments of the night before
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
	sh := r.Shard
	all := sh.all()
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
	ln, err := readLastNight(ctx, r, wh)
	if err != nil {
		return err
	}
	defer ln.release()
	read := func(rec arrow.Record) error {
		str := func(name string) *array.String { return canon.ArrayOf[*array.String](rec, name) }
		f64 := func(name string) *array.Float64 { return canon.ArrayOf[*array.Float64](rec, name) }
		ids, models, category, brand, channel, note := str("customer_id"), str("model_id"), str("top_category"), str("top_brand"), str("preferred_channel"), str("prediction_note")
		buyer, orders := canon.ArrayOf[*array.Boolean](rec, "buyer"), canon.ArrayOf[*array.Int32](rec, "orders")
		first, last, gap, between := f64("days_since_first"), f64("days_since_last"), f64("last_gap_days"), f64("interorder_mean_days")
		revenue, revenue12m, check, discount := f64("revenue"), f64("revenue_12m"), f64("avg_check"), f64("discount_share")
		alive, clv, early, expected := f64("p_alive"), f64("clv_12m"), f64("early_vip"), f64("expected_purchases_365d")
		next := canon.ArrayOf[arrow.Array](rec, "next_order_in_days")
		pc := printed(rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			out.Customers++
			if m := models.Value(i); m != modelID {
				return fmt.Errorf("customer %s was scored with model %s, shard 0 with %s: run every shard of score again", ids.Value(i), m, modelID)
			}
			buf = fp.add(pc, i, buf)
			if !buyer.Value(i) {
				out.Lifecycle[nonBuyer]++
				continue
			}
			pr := segment.Profile{ID: strings.Clone(ids.Value(i)), Orders: int(orders.Value(i)), DaysSinceFirst: first.Value(i), DaysSinceLast: last.Value(i),
				LastGapDays: gap.Value(i), InterorderMean: between.Value(i), Revenue: revenue.Value(i), Revenue12m: revenue12m.Value(i), AvgCheck: check.Value(i),
				DiscountShare: discount.Value(i), PAlive: alive.Value(i), CLV: clv.Value(i), EarlyVIP: early.Value(i),
				TopCategory: intern(category.Value(i)), TopBrand: intern(brand.Value(i)), Channel: intern(channel.Value(i))}
			p.ps = append(p.ps, pr)
			p.prev.Of = append(p.prev.Of, ln.of(pr.ID))
			out.Buyers++
			if pr.Revenue == 0 {
				out.ZeroRevenue++
			}
			if !math.IsNaN(pr.PAlive) {
				out.MeanPAlive += pr.PAlive
				out.WithPAlive++
			}
			if e := expected.Value(i); !math.IsNaN(e) {
				out.Expected365 += e
			}
			if !math.IsNaN(pr.CLV) {
				out.CLV12 += pr.CLV
			}
			if next.IsValid(i) {
				out.WithNextOrder++
			}
			if note.Value(i) != "" {
				out.NotPredicted++
			}
		}
		return nil
	}
	// A shard run again rewrites its part: read again once it is back.
	for attempt := 1; ; attempt++ {
		p, fp, *out = planned{}, newPrints(sh.Of), summary
		out.Lifecycle, out.Tiers = map[string]int{}, map[string]int{}
		ln.next = 0
		// Sized once: the buyers' profiles are most of what shard 0 holds.
		buyers := 0
		err := wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, buyerSchema, r.AsOf, sh.Job, all, o.BatchRows, func(rec arrow.Record) error {
			b := canon.ArrayOf[*array.Boolean](rec, "buyer")
			for i := 0; i < b.Len(); i++ {
				if b.Value(i) {
					buyers++
				}
			}
			return nil
		})
		if err == nil {
			p.ps, p.prev.Of = make([]segment.Profile, 0, buyers), make([]string, 0, buyers)
			err = wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, planProfileSchema, r.AsOf, sh.Job, all, o.BatchRows, read)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, warehouse.ErrPartGone) || attempt == 5 {
			return err
		}
		r.Log.WithError(err).Warn("a shard rewrote its profiles while shard 0 read them: reading them again")
		if err := awaitParts(ctx, r, wh, warehouse.CustomerProfiles.Name); err != nil {
			return err
		}
	}
	p.prev.Size = ln.size
	ln.release()
	if out.WithPAlive > 0 {
		out.MeanPAlive /= float64(out.WithPAlive)
	}
	if sh.Of > 1 {
		run, existing, _, err := currentPlan(ctx, r, wh)
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
	for i := range p.stages {
		out.Lifecycle[p.names.name(p.stages[i])]++
		if t := p.names.name(p.tiers[i]); t != "" {
			out.Tiers[t]++
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
	p.ids = make([]string, len(p.ps)) // in id order, as read
	for i := range p.ps {
		p.ids[i] = p.ps[i].ID
	}
	p.ps = nil
	defer segRec.Release()
	// Each shard's plan is written while the feeds are counted: both only
	// read what decide made, and each waits for the warehouse in turn.
	planCtx, stopPlan := context.WithCancel(ctx)
	defer stopPlan()
	planned := make(chan error, 1)
	go func() {
		for _, s := range all {
			if err := p.writePlan(planCtx, r, wh, o, s); err != nil {
				planned <- err
				return
			}
		}
		planned <- nil
	}()
	feedRec, err := p.feeds(ctx, r, wh, o, all)
	if err != nil {
		stopPlan()
		<-planned
		return err
	}
	defer feedRec.Release()
	if err := <-planned; err != nil {
		return err
	}
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
	out.Plan = &Plan{Job: sh.Job, Shards: sh.Of, EarlyVIPModelID: earlyID, Prints: fp.strings()}
	for _, n := range fp.rows {
		out.Plan.Customers = append(out.Plan.Customers, int(n))
	}
	r.Log.WithFields(logrus.Fields{"customers": out.Customers, "buyers": out.Buyers, "segments": out.Segments, "shards": sh.Of}).
		Info("date planned: segments and feeds staged, each shard's plan written for publish")
	if w := out.ZeroRevenueWarning(); w != "" {
		r.Log.Warn(w)
	}
	return nil
}

// codes numbers a few names.
type codes struct {
	list  []string
	index map[string]uint8
}

func (c *codes) code(name string) uint8 {
	if c.index == nil {
		c.index = map[string]uint8{}
	}
	k, ok := c.index[name]
	if !ok {
		k = uint8(len(c.list))
		c.index[name] = k
		c.list = append(c.list, name)
	}
	return k
}

func (c *codes) name(k uint8) string { return c.list[k] }

// decide gives each buyer its stage, tiers, RFM scores, micro-segment and
// control-group place.
func (p *planned) decide(ctx context.Context, r Run, wh scoreStore, o ScoreOptions) error {
	sg := o.Segmentation
	n := len(p.ps)
	stages := make([]string, n)
	for i, pr := range p.ps {
		stages[i] = sg.Lifecycle.Stage(pr)
	}
	// RFM scores need no other decision: computed meanwhile.
	rfmDone := make(chan struct{})
	go func() {
		defer close(rfmDone)
		since, orders, rev := make([]float64, n), make([]float64, n), make([]float64, n)
		for i, pr := range p.ps {
			since[i], orders[i], rev[i] = pr.DaysSinceLast, float64(pr.Orders), pr.Revenue
		}
		p.rfm = make([][3]int8, n)
		for i, s := range segment.RFMScores(since, orders, rev) {
			p.rfm[i] = [3]int8{int8(s.R), int8(s.F), int8(s.M)}
		}
	}()
	defer func() { <-rfmDone }()
	tiers, vipBar := sg.VIP.VIPTiers(p.ps, stages)
	p.vipBar = vipBar
	p.cuts = segment.NewValueCuts(p.ps)
	if n > 0 && !p.cuts.CLVSignal && !p.cuts.RevSignal {
		r.Log.Warn("no buyer has a CLV or 12-month revenue above 0 to rank by: the segments have no value dimension (their macro groups are lifecycle stages alone)")
	}
	p.stages, p.tiers, p.values = make([]uint8, n), make([]uint8, n), make([]uint8, n)
	macro := make([]string, n)
	groups := map[[2]string]string{} // a few dozen names, not one string a buyer
	for i, pr := range p.ps {
		value := p.cuts.Tier(pr, tiers[i])
		p.stages[i], p.tiers[i], p.values[i] = p.names.code(stages[i]), p.names.code(tiers[i]), p.names.code(value)
		k := [2]string{stages[i], value}
		name, ok := groups[k]
		if !ok {
			name = strings.ReplaceAll(stages[i], "_", " ")
			if value != segment.NoValue {
				name += " · " + value
			}
			groups[k] = name
		}
		macro[i] = name
	}
	stages, tiers = nil, nil
	var err error
	if p.segs, err = segment.MicroSegments(p.ps, macro, p.prev, sg.MicroSegments); err != nil {
		return err
	}
	p.segOf = make([]int32, n)
	for i := range p.segOf {
		p.segOf[i] = -1
	}
	p.control = make([]bool, n)
	hold, today := newControlHold(o.ControlShare, o.CampaignDays, o.LiftWindowDays), r.AsOf.Unix()/86400
	for s, seg := range p.segs {
		for _, i := range seg.Members {
			p.segOf[i] = int32(s)
			p.control[i] = hold.held(place(p.ps[i].ID), today)
		}
	}
	return nil
}

// prevSegmentsSchema reads last night's micro-segment of each customer.
var prevSegmentsSchema = warehouse.CustomerScores.Columns("customer_id", "micro_segment")

// lastNight is the night before's micro-segment of each customer, in id
// order, for the buyers' profiles (read in id order) to be joined with.
type lastNight struct {
	rec   arrow.Record // nil: none
	ids   *array.String
	segs  *array.String
	order []int32
	next  int
	names map[string]string
	size  map[string]int
}

// readLastNight reads the night before's micro-segments (none when it is
// not published, or not whole).
func readLastNight(ctx context.Context, r Run, wh scoreStore) (*lastNight, error) {
	ln := &lastNight{names: map[string]string{}, size: map[string]int{}}
	rec, err := warehouse.ReadPublished(ctx, wh, r.Mem, warehouse.CustomerScores.Name, prevSegmentsSchema, r.AsOf.AddDate(0, 0, -1))
	switch {
	case errors.Is(err, warehouse.ErrIncomplete):
		r.Log.WithError(err).Warn("the night before is incompletely published: segment ids start afresh")
		return ln, nil
	case errors.Is(err, warehouse.ErrNotPublished):
		return ln, nil
	case err != nil:
		return nil, err
	}
	ln.rec = rec
	ln.ids, ln.segs = canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.String](rec, "micro_segment")
	ids, segs := ln.ids, ln.segs
	ln.order = make([]int32, rec.NumRows())
	for i := range ln.order {
		ln.order[i] = int32(i)
		if s := segs.Value(i); s != "" {
			name, ok := ln.names[s]
			if !ok {
				name = strings.Clone(s)
				ln.names[name] = name
			}
			ln.size[name]++
		}
	}
	slices.SortFunc(ln.order, func(a, b int32) int { return strings.Compare(ids.Value(int(a)), ids.Value(int(b))) })
	return ln, nil
}

// of is the segment of the customer the night before (""), for customers
// asked in id order.
func (ln *lastNight) of(id string) string {
	if ln.rec == nil {
		return ""
	}
	ids := ln.ids
	for ln.next < len(ln.order) && ids.Value(int(ln.order[ln.next])) < id {
		ln.next++
	}
	if ln.next < len(ln.order) && ids.Value(int(ln.order[ln.next])) == id {
		return ln.names[ln.segs.Value(int(ln.order[ln.next]))]
	}
	return ""
}

func (ln *lastNight) release() {
	if ln.rec != nil {
		ln.rec.Release()
		ln.rec = nil
	}
}

// segmentRecord lists the segments with their economics and the strategy most
// of their members have (the first in segment.Strategies on ties).
func (p *planned) segmentRecord(r Run, o ScoreOptions) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, warehouse.Segments.Schema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	f64 := func(name string) *array.Float64Builder { return canon.BuilderOf[*array.Float64Builder](b, name) }
	id, macro, label, strategy := str("segment_id"), str("macro_group"), str("label"), str("strategy")
	size := canon.BuilderOf[*array.Int32Builder](b, "size")
	revenue, share, clv, churn, atRisk := f64("revenue_12m"), f64("revenue_share"), f64("mean_clv"), f64("churn_risk"), f64("revenue_at_risk")
	for _, s := range p.segs {
		count := map[string]int{}
		for _, i := range s.Members {
			strat, _ := segment.Strategy(o.Segmentation.Strategies, p.ps[i], p.names.name(p.stages[i]), p.names.name(p.tiers[i]))
			count[strat]++
		}
		best := ""
		for _, st := range segment.Strategies {
			if count[st] > count[best] {
				best = st
			}
		}
		id.Append(s.ID)
		macro.Append(s.Macro)
		label.Append(s.Label)
		size.Append(int32(len(s.Members)))
		revenue.Append(s.Revenue12m)
		share.Append(s.RevenueShare)
		clv.Append(s.MeanCLV)
		churn.Append(s.ChurnRisk)
		atRisk.Append(s.RevenueAtRisk)
		strategy.Append(best)
	}
	return b.NewRecord()
}

// buyerSchema reads whether each customer is a buyer.
var buyerSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer")

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
	if err := wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, basketSchema, r.AsOf, r.Shard.Job, all, o.BatchRows, func(rec arrow.Record) error {
		custIDs, buyer, baskets := canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.Boolean](rec, "buyer"), canon.ArrayOf[*array.String](rec, "basket")
		for i := 0; i < int(rec.NumRows()); i++ {
			if !buyer.Value(i) {
				continue
			}
			if k >= len(p.ids) || p.ids[k] != custIDs.Value(i) {
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
	segID, product := canon.BuilderOf[*array.StringBuilder](b, "segment_id"), canon.BuilderOf[*array.StringBuilder](b, "product_id")
	rankB, buyersB := canon.BuilderOf[*array.Int32Builder](b, "rank"), canon.BuilderOf[*array.Int32Builder](b, "buyers")
	lift := canon.BuilderOf[*array.Float64Builder](b, "lift")
	for s, seg := range p.segs {
		count := make(map[int32]int, len(counts[s]))
		for n, c := range counts[s] {
			count[renumber[n]] = c
		}
		counts[s] = nil
		for rank, it := range segment.RankFeed(count, len(seg.Members), sortedBase, buyers, o.Segmentation.Feeds) {
			segID.Append(seg.ID)
			rankB.Append(int32(rank + 1))
			product.Append(ids[order[it.Product]])
			buyersB.Append(int32(it.Buyers))
			lift.Append(it.Lift)
		}
	}
	return b.NewRecord(), nil
}

// writePlan writes the part of customer_plan of one shard's customers.
func (p *planned) writePlan(ctx context.Context, r Run, wh scoreStore, o ScoreOptions, s warehouse.Slice) error {
	sg := o.Segmentation
	b := array.NewRecordBuilder(r.Mem, warehouse.CustomerPlan.Schema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	i32 := func(name string) *array.Int32Builder { return canon.BuilderOf[*array.Int32Builder](b, name) }
	idB, stageB, tierB, valueB, segB := str("customer_id"), str("lifecycle_stage"), str("vip_tier"), str("value_tier"), str("micro_segment")
	rfmB := [3]*array.Int32Builder{i32("rfm_r"), i32("rfm_f"), i32("rfm_m")}
	control := canon.BuilderOf[*array.BooleanBuilder](b, "control_group")
	if err := wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, buyerSchema, r.AsOf, r.Shard.Job, []warehouse.Slice{s}, o.BatchRows, func(rec arrow.Record) error {
		ids, buyer := canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.Boolean](rec, "buyer")
		for i := 0; i < int(rec.NumRows()); i++ {
			id := ids.Value(i)
			idB.Append(id)
			if !buyer.Value(i) {
				pr := segment.Profile{ID: id, EarlyVIP: math.NaN()}
				stage := sg.Lifecycle.Stage(pr)
				tier := sg.VIP.Tier(pr, stage, p.vipBar)
				stageB.Append(stage)
				tierB.Append(tier)
				valueB.Append(p.cuts.Tier(pr, tier))
				for _, c := range rfmB {
					c.Append(0)
				}
				segB.Append("")
				control.Append(false)
				continue
			}
			k, found := slices.BinarySearch(p.ids, id)
			if !found {
				return fmt.Errorf("the profiles of customer %s changed while shard 0 planned: run score again", id)
			}
			stageB.Append(p.names.name(p.stages[k]))
			tierB.Append(p.names.name(p.tiers[k]))
			valueB.Append(p.names.name(p.values[k]))
			for d, c := range rfmB {
				c.Append(int32(p.rfm[k][d]))
			}
			seg := ""
			if p.segOf[k] >= 0 {
				seg = p.segs[p.segOf[k]].ID
			}
			segB.Append(seg)
			control.Append(p.control[k])
		}
		return nil
	}); err != nil {
		return err
	}
	rec := b.NewRecord()
	defer rec.Release()
	return warehouse.WritePart(ctx, wh, warehouse.CustomerPlan.Name, r.AsOf, r.Shard.Job, s, r.ID, rec)
}
