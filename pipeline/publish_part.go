package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// planReader finds the date's plan.
type planReader interface {
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
	RunRecord(ctx context.Context, id string) (warehouse.Run, bool, error)
}

// currentPlan is the plan of the score run that staged the date's
// segments when it finished and is of the shard's job (nil otherwise), and
// why not.
func currentPlan(ctx context.Context, r Run, st planReader) (string, *Plan, string, error) {
	sh := r.Shard
	day := r.AsOf.Format(time.DateOnly)
	runs, err := st.PartitionRuns(ctx, warehouse.Segments.Name+"_staging", r.AsOf)
	if err != nil || len(runs) != 1 {
		return "", nil, fmt.Sprintf("no segments staged for %s by one score run (%v): run score first", day, runs), err
	}
	var run string
	for run = range runs {
	}
	rec, ok, err := st.RunRecord(ctx, run)
	if err != nil {
		return "", nil, "", err
	}
	var detail struct {
		Plan *Plan `json:"plan"`
	}
	if ok {
		json.Unmarshal([]byte(rec.Detail), &detail)
	}
	if !ok || rec.Status != "ok" || rec.Stage != "score" || detail.Plan == nil {
		return "", nil, fmt.Sprintf("score run %s, whose segments are staged for %s, did not finish planning the date: run score again", run, day), nil
	}
	if pl := detail.Plan; pl.Job != sh.Job || pl.Shards != sh.Of {
		return "", nil, fmt.Sprintf("the date's plan is of run %q in %d shards, this shard of %q in %d: run score with these shards", pl.Job, pl.Shards, sh.Job, sh.Of), nil
	}
	return run, detail.Plan, "", nil
}

// findPlan finds the score run whose plan publish's shard builds from:
// the run that staged the date's segments, finished, of the same job. A
// shard of a sharded run waits for it (up to the shard's Wait).
func findPlan(ctx context.Context, r Run, st publishStore) (string, Plan, error) {
	var run string
	var pl Plan
	find := func() (bool, string, error) {
		found, p, why, err := currentPlan(ctx, r, st)
		if err != nil || p == nil {
			return false, why, err
		}
		run, pl = found, *p
		return true, "", nil
	}
	if !r.Shard.Sharded() {
		ok, state, err := find()
		if err == nil && !ok {
			err = errors.New(state)
		}
		return run, pl, err
	}
	err := waitFor(ctx, r.Shard.Wait, find)
	return run, pl, err
}

// profileReadSchema is every column of customer_profiles and the run.
var profileReadSchema = arrow.NewSchema(append(slices.Clone(warehouse.CustomerProfiles.Schema.Fields()),
	arrow.Field{Name: "run_id", Type: arrow.BinaryTypes.String}), nil)

// planReadSchema is every column of customer_plan and the run.
var planReadSchema = arrow.NewSchema(append(slices.Clone(warehouse.CustomerPlan.Schema.Fields()),
	arrow.Field{Name: "run_id", Type: arrow.BinaryTypes.String}), nil)

// planRow is a customer's row of the shard's plan.
type planRow struct {
	id, stage, tier, value, segment string
	rfm                             [3]int8
	control                         bool
}

// readPlan reads slice s's part of the plan, in id order; the repeated
// names are shared.
func readPlan(ctx context.Context, r Run, st publishStore, o ScoreOptions, scoreRun string, pl Plan, s warehouse.Slice) ([]planRow, error) {
	sh := r.Shard
	var rows []planRow
	if s.Index < len(pl.Customers) {
		rows = make([]planRow, 0, pl.Customers[s.Index])
	}
	names := map[string]string{}
	name := func(s string) string {
		if v, ok := names[s]; ok {
			return v
		}
		v := strings.Clone(s)
		names[v] = v
		return v
	}
	err := st.EachPart(ctx, r.Mem, warehouse.CustomerPlan.Name, planReadSchema, r.AsOf, sh.Job, []warehouse.Slice{s}, o.BatchRows, func(rec arrow.Record) error {
		str := func(name string) *array.String { return canon.ArrayOf[*array.String](rec, name) }
		i32 := func(name string) *array.Int32 { return canon.ArrayOf[*array.Int32](rec, name) }
		ids, stages, tiers, values, segs, runs := str("customer_id"), str("lifecycle_stage"), str("vip_tier"), str("value_tier"), str("micro_segment"), str("run_id")
		rfmR, rfmF, rfmM := i32("rfm_r"), i32("rfm_f"), i32("rfm_m")
		control := canon.ArrayOf[*array.Boolean](rec, "control_group")
		for i := 0; i < int(rec.NumRows()); i++ {
			if run := runs.Value(i); run != scoreRun {
				return fmt.Errorf("the plan of shard %d is of score run %s, the date's of %s: run score again", s.Index, run, scoreRun)
			}
			rows = append(rows, planRow{id: strings.Clone(ids.Value(i)), stage: name(stages.Value(i)), tier: name(tiers.Value(i)), value: name(values.Value(i)),
				rfm: [3]int8{int8(rfmR.Value(i)), int8(rfmF.Value(i)), int8(rfmM.Value(i))}, segment: name(segs.Value(i)), control: control.Value(i)})
		}
		return nil
	})
	return rows, err
}

// shardCustomers hands over, a batch at a time and in id order, the
// shard's customers as score made them and shard 0 planned them, with their
// strategy, offer and feed. Once all are handed over, it checks that the
// profiles are those the plan was made from.
func shardCustomers(ctx context.Context, r Run, st publishStore, o ScoreOptions, plan []planRow, pl Plan, ranked map[string][]string,
	fn func(batch []customer, modelID string) error) error {
	sh, sg := r.Shard, o.Segmentation
	fp := newPrints(sh.Of)
	var buf []byte
	var batch []customer
	var feeds feedCutter
	k := 0
	if err := st.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, profileReadSchema, r.AsOf, sh.Job, []warehouse.Slice{sh.slice()}, o.BatchRows, func(rec arrow.Record) error {
		// Each column found once a batch, not once a value.
		str := func(name string) *array.String { return canon.ArrayOf[*array.String](rec, name) }
		f64 := func(name string) *array.Float64 { return canon.ArrayOf[*array.Float64](rec, name) }
		i32 := func(name string) *array.Int32 { return canon.ArrayOf[*array.Int32](rec, name) }
		ids, models, categories, brands, channels, notes, baskets := str("customer_id"), str("model_id"), str("top_category"),
			str("top_brand"), str("preferred_channel"), str("prediction_note"), str("basket")
		buyer, orders, hours, weekdays := canon.ArrayOf[*array.Boolean](rec, "buyer"), i32("orders"), i32("best_hour"), i32("best_weekday")
		earlyProb, depth, level, clicks := f64("potential_vip_probability"), f64("discount_depth"), f64("price_level"), f64("email_click_rate")
		sinceFirst, sinceLast, lastGap, between := f64("days_since_first"), f64("days_since_last"), f64("last_gap_days"), f64("interorder_mean_days")
		revenue, revenue12m, check, discount := f64("revenue"), f64("revenue_12m"), f64("avg_check"), f64("discount_share")
		alive, clv, early := f64("p_alive"), f64("clv_12m"), f64("early_vip")
		freq, recency, age, e30, e90, e365, value := f64("frequency"), f64("recency_days"), f64("age_days"), f64("expected_purchases_30d"),
			f64("expected_purchases_90d"), f64("expected_purchases_365d"), f64("expected_order_value")
		firstDay, next := canon.ArrayOf[*array.Date32](rec, "first_order_date"), f64("next_order_in_days")
		pc := printed(rec)
		if n := int(rec.NumRows()); cap(batch) < n {
			batch = make([]customer, 0, n) // at its size once, not grown in doublings
		}
		batch = batch[:0]
		modelID := ""
		for i := 0; i < int(rec.NumRows()); i++ {
			buf = fp.add(pc, i, buf)
			if k >= len(plan) || plan[k].id != ids.Value(i) {
				return fmt.Errorf("the plan of shard %d lacks customer %s of its profiles: run score again", sh.Index, ids.Value(i))
			}
			p := plan[k]
			k++
			modelID = models.Value(i)
			c := customer{buyer: buyer.Value(i), hour: hours.Value(i), weekday: weekdays.Value(i),
				earlyProb: earlyProb.Value(i), discountDepth: depth.Value(i), priceLevel: level.Value(i),
				clickRate: clicks.Value(i), stage: p.stage, tier: p.tier, value: p.value, segment: p.segment, control: p.control,
				rfm: segment.RFM{R: int(p.rfm[0]), F: int(p.rfm[1]), M: int(p.rfm[2])},
				Profile: segment.Profile{ID: p.id, Orders: int(orders.Value(i)), DaysSinceFirst: sinceFirst.Value(i),
					DaysSinceLast: sinceLast.Value(i), LastGapDays: lastGap.Value(i), InterorderMean: between.Value(i),
					Revenue: revenue.Value(i), Revenue12m: revenue12m.Value(i), AvgCheck: check.Value(i), DiscountShare: discount.Value(i),
					PAlive: alive.Value(i), CLV: clv.Value(i), EarlyVIP: early.Value(i), TopCategory: categories.Value(i),
					TopBrand: brands.Value(i), Channel: channels.Value(i)},
				ltv: ltv{x: freq.Value(i), tx: recency.Value(i), T: age.Value(i), pAlive: alive.Value(i),
					e30: e30.Value(i), e90: e90.Value(i), e365: e365.Value(i),
					value: value.Value(i), clv: clv.Value(i), next: math.NaN(), note: notes.Value(i)}}
			if firstDay.IsValid(i) {
				c.firstDay = int32(firstDay.Value(i))
			}
			if next.IsValid(i) {
				c.ltv.next, c.ltv.hasNext = next.Value(i), true
			}
			c.strat, c.action = segment.Strategy(sg.Strategies, c.Profile, c.stage, c.tier)
			_, c.offerDiscount, c.offer = sg.Offers.Offer(segment.OfferInput{Stage: c.stage, Tier: c.tier, ValueTier: c.value,
				DiscountShare: c.DiscountShare, DiscountDepth: c.discountDepth, PriceLevel: c.priceLevel, ClickRate: c.clickRate})
			if c.segment != "" {
				c.feed = feeds.cut(baskets.Value(i), ranked[c.segment], sg.Feeds.CustomerSize)
			}
			batch = append(batch, c)
		}
		return fn(batch, modelID) // the batch's strings point into rec: used before it is released
	}); err != nil {
		return err
	}
	if k != len(plan) {
		return fmt.Errorf("the plan of shard %d has %d customers, its profiles %d: run score again", sh.Index, len(plan), k)
	}
	if got := fp.strings()[sh.Index]; len(pl.Prints) != sh.Of || got != pl.Prints[sh.Index] {
		return fmt.Errorf("the profiles of shard %d are not those the date's plan was made from (fingerprint %s, the plan's %v): the shop changed since; run score again", sh.Index, got, pl.Prints)
	}
	return nil
}

// feedCutter cuts each customer's feed from its segment's. It keeps the
// list of a basket's products from one customer to the next: a list made for
// each customer was a tenth of publish's own work.
type feedCutter struct{ bought []string }

// cut is the first k products of the segment's feed the customer has not
// bought (basket: product ids in id order, joined by basketSep).
func (fc *feedCutter) cut(basket string, feed []string, k int) string {
	fc.bought = fc.bought[:0]
	for p := range strings.SplitSeq(basket, basketSep) {
		fc.bought = append(fc.bought, p)
	}
	var b strings.Builder
	if len(feed) > 0 { // one allocation, not one a product: product ids are about as long as each other
		b.Grow(min(k, len(feed)) * (len(feed[0]) + 1))
	}
	n := 0
	for _, p := range feed {
		if n == k {
			break
		}
		if _, found := slices.BinarySearch(fc.bought, p); !found {
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString(p)
			n++
		}
	}
	return b.String()
}

// publishBatchRows bounds publish's batches below batch_rows. Its memory
// is its batches (a customer's profile, plan and rows, about forty columns
// of each), and fresh memory costs most of its CPU: at 1,000,000 customers,
// batches of 16,384 rows instead of 65,536 took each of four pods from
// 5.6-6.6 to 4.6-5.2 s of CPU and 0.8-0.9 to 0.55-0.6 GiB, and one process
// from 1.2 to 0.8 GiB, with the same server CPU (bench/README).
const publishBatchRows = 16384

// publishPart builds the shard's rows of customer_scores, segment_members and
// segment_changes (against the previous published date, zero for none) a
// batch of customers at a time and writes them as its parts, stamped with the
// score run, after its part of segment_feed (the feeds of the segments dealt
// to it, ranked from every member's basket: segmentFeeds). It returns the
// changes of each dimension.
func publishPart(ctx context.Context, r Run, st publishStore, o ScoreOptions, scoreRun string, pl Plan, prevDate time.Time) (map[string]int, error) {
	sh := r.Shard
	o.BatchRows = min(o.BatchRows, publishBatchRows)
	plan, err := readPlan(ctx, r, st, o, scoreRun, pl, sh.slice())
	if err != nil {
		return nil, err
	}
	ranked, err := segmentFeeds(ctx, r, st, o, scoreRun, pl, plan)
	if err != nil {
		return nil, err
	}
	return writePart(ctx, r, st, o, scoreRun, pl, prevDate, plan, ranked)
}

// customerParts are the tables of the shard's customers whose parts
// writePart writes.
var customerParts = []string{warehouse.CustomerScores.Name, warehouse.SegmentMembers.Name, warehouse.SegmentChanges.Name}

// writePart writes the shard's parts of customer_scores, segment_members
// and segment_changes from its plan and each segment's ranked feed.
func writePart(ctx context.Context, r Run, st publishStore, o ScoreOptions, scoreRun string, pl Plan, prevDate time.Time, plan []planRow, ranked map[string][]string) (map[string]int, error) {
	sh := r.Shard
	var err error
	var prev arrow.Record
	if !prevDate.IsZero() {
		if prev, err = warehouse.ReadPublishedSlice(ctx, st, r.Mem, warehouse.CustomerScores.Name, changeSchema, prevDate, sh.slice()); err != nil {
			return nil, fmt.Errorf("the previous published date, to compare with: %w", err)
		}
		defer prev.Release()
	}
	writers := map[string]warehouse.PartWriter{}
	defer func() {
		for _, w := range writers {
			w.Abort(ctx)
		}
	}()
	for _, t := range []warehouse.Table{warehouse.CustomerScores, warehouse.SegmentMembers, warehouse.SegmentChanges} {
		w, err := st.OpenPart(ctx, t.Name, t.Schema, r.AsOf, sh.Job, sh.slice(), scoreRun)
		if err != nil {
			return nil, err
		}
		writers[t.Name] = w
	}
	// Inserts go on while the next batch is read and built; stopped before
	// the parts are closed, or aborted (deferred above, so run after).
	wb := newWriteBehind(ctx, 1)
	waited := false
	defer func() {
		if !waited {
			wb.wait()
		}
	}()
	write := func(table string, rec arrow.Record) error {
		defer rec.Release()
		if rec.NumRows() == 0 {
			return nil
		}
		return wb.write(writers[table], rec)
	}
	changes := newChangeStream(r.Mem, prev, prevDate)
	defer changes.b.Release()
	customers, members := 0, 0
	if err := shardCustomers(ctx, r, st, o, plan, pl, ranked, func(batch []customer, modelID string) error {
		for _, c := range batch {
			rfm := ""
			if c.buyer {
				rfm = c.rfm.Segment()
			}
			changes.add(c.ID, [4]string{c.segment, rfm, c.stage, c.tier})
		}
		if canon.Len(changes.b) >= o.BatchRows {
			if err := write(warehouse.SegmentChanges.Name, changes.b.NewRecord()); err != nil {
				return err
			}
		}
		scores := scoreRecord(r, batch, modelID, pl.EarlyVIPModelID)
		customers += int(scores.NumRows())
		if err := write(warehouse.CustomerScores.Name, scores); err != nil {
			return err
		}
		m := memberRecord(r, batch)
		members += int(m.NumRows())
		return write(warehouse.SegmentMembers.Name, m)
	}); err != nil {
		return nil, err
	}
	changes.rest()
	if err := write(warehouse.SegmentChanges.Name, changes.b.NewRecord()); err != nil {
		return nil, err
	}
	waited = true
	if err := wb.wait(); err != nil {
		return nil, err
	}
	for _, t := range customerParts {
		if err := writers[t].Close(ctx); err != nil {
			return nil, err
		}
		delete(writers, t)
	}
	r.Log.WithFields(logrus.Fields{"customers": customers, "members": members, "changes": changes.rows}).
		Info("the shard's scores, members and changes written")
	return changes.counts, nil
}
