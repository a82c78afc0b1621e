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

	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// planReader finds the date's plan.
type planReader interface {
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
	RunRecord(ctx context.Context, id string) (warehouse.Run, bool, error)
}

// currentPlanWhy is the plan of the score run that staged the date's
// segments when it finished and is of the shard's job (nil otherwise), and
// why not.
func currentPlanWhy(ctx context.Context, r Run, st planReader, sh Shard) (string, *Plan, string, error) {
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

// currentPlan is currentPlanWhy without the why.
func currentPlan(ctx context.Context, r Run, st planReader, sh Shard) (string, *Plan, error) {
	run, pl, _, err := currentPlanWhy(ctx, r, st, sh)
	return run, pl, err
}

// findPlan finds the score run whose plan publish's shard builds from:
// the run that staged the date's segments, finished, of the same job. A
// shard of a sharded run waits for it (up to wait).
func findPlan(ctx context.Context, r Run, st publishStore, sh Shard, wait time.Duration) (string, Plan, error) {
	var run string
	var pl Plan
	find := func() (bool, string, error) {
		found, p, why, err := currentPlanWhy(ctx, r, st, sh)
		if err != nil || p == nil {
			return false, why, err
		}
		run, pl = found, *p
		return true, "", nil
	}
	if sh.Of == 1 {
		ok, state, err := find()
		if err == nil && !ok {
			err = errors.New(state)
		}
		return run, pl, err
	}
	err := waitFor(ctx, wait, find)
	return run, pl, err
}

// profileReadSchema is every column of customer_profiles and the run.
var profileReadSchema = arrow.NewSchema(append(slices.Clone(warehouse.CustomerProfiles.Schema.Fields()),
	arrow.Field{Name: "run_id", Type: arrow.BinaryTypes.String}), nil)

// planReadSchema is every column of customer_plan and the run.
var planReadSchema = arrow.NewSchema(append(slices.Clone(warehouse.CustomerPlan.Schema.Fields()),
	arrow.Field{Name: "run_id", Type: arrow.BinaryTypes.String}), nil)

// shardCustomers reads the shard's profiles and plan: its customers as
// score made them and shard 0 planned them, with their strategy, offer and
// feed. It returns them in id order and the purchase model of the profiles.
func shardCustomers(ctx context.Context, r Run, st publishStore, o ScoreOptions, scoreRun string, pl Plan) ([]customer, string, error) {
	sh, sg := o.Shard, o.Segmentation
	parts := []warehouse.Slice{sh.slice()}
	var custs []customer
	modelID := ""
	fp := make(prints, sh.Of)
	var buf []byte
	if err := st.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, profileReadSchema, r.AsOf, sh.Job, parts, o.BatchRows, func(rec arrow.Record) error {
		col := func(name string) arrow.Array { return rec.Column(profileReadSchema.FieldIndices(name)[0]) }
		str := func(name string, i int) string { return strings.Clone(col(name).(*array.String).Value(i)) }
		f := func(name string, i int) float64 { return col(name).(*array.Float64).Value(i) }
		i32 := func(name string, i int) int32 { return col(name).(*array.Int32).Value(i) }
		pc := printed(rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			buf = fp.add(pc, i, buf)
			modelID = str("model_id", i)
			c := customer{buyer: col("buyer").(*array.Boolean).Value(i), hour: i32("best_hour", i), weekday: i32("best_weekday", i),
				earlyProb: f("potential_vip_probability", i), discountDepth: f("discount_depth", i), priceLevel: f("price_level", i),
				clickRate: f("email_click_rate", i), basket: str("basket", i),
				Profile: segment.Profile{ID: str("customer_id", i), Orders: int(i32("orders", i)), DaysSinceFirst: f("days_since_first", i),
					DaysSinceLast: f("days_since_last", i), LastGapDays: f("last_gap_days", i), InterorderMean: f("interorder_mean_days", i),
					Revenue: f("revenue", i), Revenue12m: f("revenue_12m", i), AvgCheck: f("avg_check", i), DiscountShare: f("discount_share", i),
					PAlive: f("p_alive", i), CLV: f("clv_12m", i), EarlyVIP: f("early_vip", i), TopCategory: str("top_category", i),
					TopBrand: str("top_brand", i), Channel: str("preferred_channel", i)},
				ltv: ltv{x: f("frequency", i), tx: f("recency_days", i), T: f("age_days", i), pAlive: f("p_alive", i),
					e30: f("expected_purchases_30d", i), e90: f("expected_purchases_90d", i), e365: f("expected_purchases_365d", i),
					value: f("expected_order_value", i), clv: f("clv_12m", i), next: math.NaN(), note: str("prediction_note", i)}}
			if d := col("first_order_date").(*array.Date32); d.IsValid(i) {
				c.firstDay = int32(d.Value(i))
			}
			if next := col("next_order_in_days").(*array.Float64); next.IsValid(i) {
				c.ltv.next, c.ltv.hasNext = next.Value(i), true
			}
			custs = append(custs, c)
		}
		return nil
	}); err != nil {
		return nil, "", err
	}
	if got := fp.strings()[sh.Index]; len(pl.Prints) != sh.Of || got != pl.Prints[sh.Index] {
		return nil, "", fmt.Errorf("the profiles of shard %d are not those the date's plan was made from (fingerprint %s, the plan's %v): the shop changed since; run score again", sh.Index, got, pl.Prints)
	}
	k := 0
	if err := st.EachPart(ctx, r.Mem, warehouse.CustomerPlan.Name, planReadSchema, r.AsOf, sh.Job, parts, o.BatchRows, func(rec arrow.Record) error {
		str := func(c, i int) string { return rec.Column(c).(*array.String).Value(i) }
		i32 := func(c, i int) int { return int(rec.Column(c).(*array.Int32).Value(i)) }
		for i := 0; i < int(rec.NumRows()); i++ {
			if run := str(9, i); run != scoreRun {
				return fmt.Errorf("the plan of shard %d is of score run %s, the date's of %s: run score again", sh.Index, run, scoreRun)
			}
			if k >= len(custs) || custs[k].ID != str(0, i) {
				return fmt.Errorf("the plan of shard %d has customer %s where its profiles have another: run score again", sh.Index, str(0, i))
			}
			c := &custs[k]
			k++
			c.stage, c.tier, c.value = strings.Clone(str(1, i)), strings.Clone(str(2, i)), strings.Clone(str(3, i))
			c.rfm = segment.RFM{R: i32(4, i), F: i32(5, i), M: i32(6, i)}
			c.segment, c.control = strings.Clone(str(7, i)), rec.Column(8).(*array.Boolean).Value(i)
		}
		return nil
	}); err != nil {
		return nil, "", err
	}
	if k != len(custs) {
		return nil, "", fmt.Errorf("the plan of shard %d has %d customers, its profiles %d: run score again", sh.Index, k, len(custs))
	}
	ranked, err := rankedFeeds(ctx, r, st, scoreRun)
	if err != nil {
		return nil, "", err
	}
	for i := range custs {
		c := &custs[i]
		c.strat, c.action = segment.Strategy(sg.Strategies, c.Profile, c.stage, c.tier)
		_, c.offerDiscount, c.offer = sg.Offers.Offer(segment.OfferInput{Stage: c.stage, Tier: c.tier, ValueTier: c.value,
			DiscountShare: c.DiscountShare, DiscountDepth: c.discountDepth, PriceLevel: c.priceLevel, ClickRate: c.clickRate})
		if c.segment != "" {
			c.feed = customerFeed(c.basket, ranked[c.segment], sg.Feeds.CustomerSize)
		}
		c.basket = ""
	}
	return custs, modelID, nil
}

// rankedFeeds are the products of each segment's staged feed, by rank.
func rankedFeeds(ctx context.Context, r Run, st publishStore, scoreRun string) (map[string][]string, error) {
	rec, err := st.ReadRun(ctx, r.Mem, warehouse.SegmentFeed.Name+"_staging", warehouse.SegmentFeed.Columns("segment_id", "rank", "product_id"), r.AsOf, scoreRun)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return map[string][]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	type item struct {
		rank    int32
		product string
	}
	bySeg := map[string][]item{}
	segs, ranks, products := rec.Column(0).(*array.String), rec.Column(1).(*array.Int32), rec.Column(2).(*array.String)
	for i := 0; i < int(rec.NumRows()); i++ {
		s := segs.Value(i)
		bySeg[s] = append(bySeg[s], item{ranks.Value(i), strings.Clone(products.Value(i))})
	}
	out := make(map[string][]string, len(bySeg))
	for s, items := range bySeg {
		slices.SortFunc(items, func(a, b item) int { return int(a.rank - b.rank) })
		for _, it := range items {
			out[strings.Clone(s)] = append(out[strings.Clone(s)], it.product)
		}
	}
	return out, nil
}

// customerFeed is the first k products of the segment's feed the customer
// has not bought (basket: product ids in id order, joined by basketSep).
func customerFeed(basket string, feed []string, k int) string {
	bought := strings.Split(basket, basketSep)
	var out []string
	for _, p := range feed {
		if _, found := slices.BinarySearch(bought, p); !found {
			out = append(out, p)
			if len(out) == k {
				break
			}
		}
	}
	return strings.Join(out, ",")
}

// publishPart builds the shard's rows of customer_scores, segment_members and
// segment_changes (against the previous published date, zero for none) and
// writes them as its parts, stamped with the score run. It returns the
// changes of each dimension.
func publishPart(ctx context.Context, r Run, st publishStore, o ScoreOptions, scoreRun string, pl Plan, prevDate time.Time) (map[string]int, error) {
	sh := o.Shard
	custs, modelID, err := shardCustomers(ctx, r, st, o, scoreRun, pl)
	if err != nil {
		return nil, err
	}
	var prev arrow.Record
	if !prevDate.IsZero() {
		if prev, err = warehouse.ReadPublishedSlice(ctx, st, r.Mem, warehouse.CustomerScores.Name, changeSchema, prevDate, sh.slice()); err != nil {
			return nil, fmt.Errorf("the previous published date, to compare with: %w", err)
		}
	}
	counts := map[string]int{}
	cur := currentValues(r, custs)
	changes := segmentChanges(r.Mem, prev, cur, prevDate, counts)
	cur.Release()
	if prev != nil {
		prev.Release()
		prev = nil
	}
	// Each record built, written and released in turn: one at a time is held.
	rows := map[string]int64{}
	for _, t := range []struct {
		table string
		build func() arrow.Record
	}{{warehouse.SegmentChanges.Name, func() arrow.Record { return changes }},
		{warehouse.SegmentMembers.Name, func() arrow.Record { return memberRecord(r, custs) }},
		{warehouse.CustomerScores.Name, func() arrow.Record { return scoreRecord(r, custs, modelID, pl.EarlyVIPModelID) }}} {
		rec := t.build()
		err := st.WritePart(ctx, t.table, r.AsOf, sh.Job, sh.slice(), scoreRun, rec)
		rows[t.table] = rec.NumRows()
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	n := len(custs)
	r.Log.WithFields(logrus.Fields{"shard": sh.Index, "shards": sh.Of, "customers": n, "members": rows[warehouse.SegmentMembers.Name], "changes": rows[warehouse.SegmentChanges.Name]}).
		Info("the shard's scores, members and changes written")
	return counts, nil
}

// currentValues are the customers' values of the change dimensions (changeSchema).
func currentValues(r Run, custs []customer) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, changeSchema)
	defer b.Release()
	for _, c := range custs {
		rfm := ""
		if c.buyer {
			rfm = c.rfm.Segment()
		}
		for i, v := range []string{c.ID, c.segment, rfm, c.stage, c.tier} {
			b.Field(i).(*array.StringBuilder).Append(v)
		}
	}
	return b.NewRecord()
}
