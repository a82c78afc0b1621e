package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/go-faster/city"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

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
	"top_category", "top_brand", "preferred_channel", "expected_purchases_365d", "next_order_in_days", "prediction_note")

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

// planned is the plan of the date, made in passes over every shard's
// profiles in id order, so that shard 0 holds a few bytes a buyer and one
// batch of macro groups at a time, not every buyer's profile: the global
// cuts first (VIP threshold, value cuts, RFM cut points, the space's means),
// then each buyer's macro group, then the micro-segments of a batch of groups
// at a time. Each pass gives the same numbers in the same order as one pass
// over every profile did (segment.MicroSegments).
type planned struct {
	o      ScoreOptions
	vipBar float64
	cuts   segment.ValueCuts
	rfm    segment.RFMCuts
	// Per buyer, in id order over every shard.
	shard []uint16
	group []uint8 // macro group: a code of groups
	prev  []int32 // the night before's segment: an index in prevIDs, or -1
	segOf []int32 // index in segs, or -1
	// idLen is a buyer's id's mean length, rounded up.
	idLen int
	// idSum and buyers are each shard's sum of its buyers' id hashes and
	// their count: a later pass that reads other buyers says so.
	idSum  []uint64
	buyers []int
	groups codes
	// The night before's segment ids, their members then.
	prevIDs  []string
	prevCode map[string]int32
	prevSize map[string]int
	segs     []segment.Segment
	strategy []string // of each segment: the one most of its members have
	hashed   []string // of each segment: its id if it keeps none of the night before
	// profiles are every shard's profiles, read once, while the buyers fit
	// a batch; nil: each pass reads the warehouse.
	profiles *heldProfiles
}

// heldProfiles are the rows of every shard's profiles the plan reads
// (heldSchema, then heldLaterSchema), in id order: the plan's later passes
// take them from here, not from the warehouse again (at a million
// customers, 210 MB held took about 2 of the plan's 10 to 12 seconds off).
type heldProfiles struct {
	recs   []arrow.Record
	shards [][]uint16 // each row's shard
}

func (h *heldProfiles) release() {
	for _, rec := range h.recs {
		rec.Release()
	}
	h.recs, h.shards = nil, nil
}

// errHoldFull stops a read of the profiles that outgrew what the plan holds.
var errHoldFull = errors.New("the profiles outgrow what the plan holds")

// hold reads every shard's profiles into p.profiles, unless they outgrow
// ScoreOptions.PlanHoldBytes: then the passes read the warehouse each.
// It checks each record as it comes (checkProfiles) and holds what the
// passes read of it (heldSchema).
func (p *planned) hold(ctx context.Context, r Run, wh scoreStore, modelID string, fp prints, out *ScoreSummary) error {
	h := &heldProfiles{}
	of := max(r.Shard.Of, 1)
	size := 0
	var buf []byte
	summary := *out
	err := wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, planProfileSchema, r.AsOf, r.Shard.Job, r.Shard.all(), p.o.BatchRows, func(rec arrow.Record) error {
		var err error
		if buf, err = checkProfiles(rec, modelID, fp, out, buf); err != nil {
			return err
		}
		held := narrowed(rec, heldSchema)
		if size += recordBytes(held); size > p.o.planHoldBytes() {
			held.Release()
			return errHoldFull
		}
		ids := canon.ArrayOf[*array.String](held, "customer_id")
		shards := make([]uint16, held.NumRows())
		for i := range shards {
			shards[i] = uint16(warehouse.ShardOf(ids.Value(i), of))
		}
		h.recs, h.shards = append(h.recs, held), append(h.shards, shards)
		return nil
	})
	if err != nil {
		h.release()
		// The pass over every profile checks them all again.
		*out = summary
		clear(fp.sums)
		clear(fp.rows)
		if errors.Is(err, errHoldFull) {
			r.Log.WithField("bytes", size).Debug("the profiles outgrow what the plan holds: each pass reads them")
			return nil
		}
		return err
	}
	p.profiles = h
	r.Log.WithField("bytes", size).Debug("profiles held for the plan's passes")
	return nil
}

// buyers counts the buyers held.
func (h *heldProfiles) buyers() int {
	n := 0
	for _, rec := range h.recs {
		buyer := canon.ArrayOf[*array.Boolean](rec, "buyer")
		for i := range buyer.Len() {
			if buyer.Value(i) {
				n++
			}
		}
	}
	return n
}

// heldRFM makes the RFM cut points of the buyers held (in the order the
// pass over the warehouse reads them: the same cuts).
func (p *planned) heldRFM() {
	var since, orders, revenue []float64
	for _, rec := range p.profiles.recs {
		c := profileColumnsOf(rec)
		for i := range int(rec.NumRows()) {
			if c.buyer.Value(i) {
				since, orders, revenue = append(since, c.last.Value(i)), append(orders, float64(c.orders.Value(i))), append(revenue, c.revenue.Value(i))
			}
		}
	}
	p.rfm = segment.NewRFMCuts(since, orders, revenue)
}

// narrow lets go of the columns held that are not in schema.
func (h *heldProfiles) narrow(schema *arrow.Schema) {
	for k, rec := range h.recs {
		h.recs[k] = narrowed(rec, schema)
		rec.Release()
	}
}

// narrowed is a new record of rec's columns of schema.
func narrowed(rec arrow.Record, schema *arrow.Schema) arrow.Record {
	cols := make([]arrow.Array, schema.NumFields())
	for j, f := range schema.Fields() {
		cols[j] = rec.Column(rec.Schema().FieldIndices(f.Name)[0])
	}
	return array.NewRecord(schema, cols, rec.NumRows())
}

// checkProfiles checks that a record of profiles (planProfileSchema) was
// scored with the model, adds its rows to the prints and its buyers'
// predictions to the summary: what the plan takes of the columns it does
// not hold.
func checkProfiles(rec arrow.Record, modelID string, fp prints, out *ScoreSummary, buf []byte) ([]byte, error) {
	str := func(name string) *array.String { return canon.ArrayOf[*array.String](rec, name) }
	ids, models, note := str("customer_id"), str("model_id"), str("prediction_note")
	buyer := canon.ArrayOf[*array.Boolean](rec, "buyer")
	expected := canon.ArrayOf[*array.Float64](rec, "expected_purchases_365d")
	next := canon.ArrayOf[arrow.Array](rec, "next_order_in_days")
	pc := printed(rec)
	for i := 0; i < int(rec.NumRows()); i++ {
		if m := models.Value(i); m != modelID {
			return buf, fmt.Errorf("customer %s was scored with model %s, shard 0 with %s: run every shard of score again", ids.Value(i), m, modelID)
		}
		buf = fp.add(pc, i, buf)
		if !buyer.Value(i) {
			continue
		}
		if e := expected.Value(i); !math.IsNaN(e) {
			out.Expected365 += e
		}
		if next.IsValid(i) {
			out.WithNextOrder++
		}
		if note.Value(i) != "" {
			out.NotPredicted++
		}
	}
	return buf, nil
}

// recordBytes is the size of a record's buffers.
func recordBytes(rec arrow.Record) int {
	n := 0
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += b.Len()
			}
		}
	}
	return n
}

// release lets go of the profiles held, if any.
func (p *planned) release() {
	if p.profiles != nil {
		p.profiles.release()
	}
}

// each hands over the rows of parts of customer_profiles (every shard:
// parts nil) in id order, a record at a time: with the columns of schema at
// least, and, when not nil, in says which of its rows are of parts (the
// profiles held hold every shard's rows).
func (p *planned) each(ctx context.Context, r Run, wh scoreStore, schema *arrow.Schema, parts []warehouse.Slice, fn func(rec arrow.Record, in func(i int) bool) error) error {
	if p.profiles == nil {
		if parts == nil {
			parts = r.Shard.all()
		}
		return wh.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, schema, r.AsOf, r.Shard.Job, parts, p.o.BatchRows, func(rec arrow.Record) error {
			return fn(rec, nil)
		})
	}
	for k, rec := range p.profiles.recs {
		var in func(int) bool
		if len(parts) == 1 && parts[0].Of > 1 {
			shards, want := p.profiles.shards[k], uint16(parts[0].Index)
			in = func(i int) bool { return shards[i] == want }
		}
		if err := fn(rec, in); err != nil {
			return err
		}
	}
	return nil
}

// Columns of customer_profiles each pass reads.
var (
	// rfmSchema: the RFM cut points.
	rfmSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "orders", "days_since_last", "revenue")
	// cutSchema: the VIP threshold, the value cuts and the space's means.
	cutSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "orders", "revenue_12m",
		"avg_check", "discount_share", "p_alive", "clv_12m", "top_category", "top_brand", "preferred_channel")
	// segmentSchema: a buyer's place in the space, its tiers and economics.
	segmentSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "orders", "days_since_first", "days_since_last",
		"last_gap_days", "interorder_mean_days", "revenue", "revenue_12m", "avg_check", "discount_share", "p_alive", "clv_12m",
		"early_vip", "top_category", "top_brand", "preferred_channel")
	// heldSchema: what the profiles held hold of each customer (when they
	// fit): what every pass of the plan reads.
	heldSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "orders", "days_since_first", "days_since_last",
		"last_gap_days", "interorder_mean_days", "revenue", "revenue_12m", "avg_check", "discount_share", "p_alive", "clv_12m",
		"early_vip", "top_category", "top_brand", "preferred_channel")
	// heldLaterSchema: what the profiles held keep after the pass over
	// every profile: the plan's rows.
	heldLaterSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "orders", "days_since_first", "days_since_last",
		"last_gap_days", "interorder_mean_days", "revenue", "revenue_12m", "p_alive", "clv_12m", "early_vip")
	// assignSchema: a customer's stage, tiers and RFM scores.
	assignSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "orders", "days_since_first", "days_since_last",
		"last_gap_days", "interorder_mean_days", "revenue", "revenue_12m", "p_alive", "clv_12m", "early_vip")
)

// profileColumns are the columns of a record of customer_profiles that make
// a segment.Profile; nil where the record does not have them.
type profileColumns struct {
	ids, category, brand, channel                                                      *array.String
	buyer                                                                              *array.Boolean
	orders                                                                             *array.Int32
	first, last, gap, between, revenue, revenue12m, check, discount, alive, clv, early *array.Float64
}

func profileColumnsOf(rec arrow.Record) profileColumns {
	var c profileColumns
	str := map[string]**array.String{"customer_id": &c.ids, "top_category": &c.category, "top_brand": &c.brand, "preferred_channel": &c.channel}
	f64 := map[string]**array.Float64{"days_since_first": &c.first, "days_since_last": &c.last, "last_gap_days": &c.gap,
		"interorder_mean_days": &c.between, "revenue": &c.revenue, "revenue_12m": &c.revenue12m, "avg_check": &c.check,
		"discount_share": &c.discount, "p_alive": &c.alive, "clv_12m": &c.clv, "early_vip": &c.early}
	for k, f := range rec.Schema().Fields() {
		switch col := rec.Column(k).(type) {
		case *array.String:
			if p, ok := str[f.Name]; ok {
				*p = col
			}
		case *array.Float64:
			if p, ok := f64[f.Name]; ok {
				*p = col
			}
		case *array.Boolean:
			if f.Name == "buyer" {
				c.buyer = col
			}
		case *array.Int32:
			if f.Name == "orders" {
				c.orders = col
			}
		}
	}
	return c
}

// profile is row i as a profile: its strings are the record's, kept only
// while the record is. Columns the record does not have are 0 ("").
func (c profileColumns) profile(i int) segment.Profile {
	f := func(a *array.Float64) float64 {
		if a == nil {
			return 0
		}
		return a.Value(i)
	}
	s := func(a *array.String) string {
		if a == nil {
			return ""
		}
		return a.Value(i)
	}
	p := segment.Profile{ID: c.ids.Value(i), DaysSinceFirst: f(c.first), DaysSinceLast: f(c.last), LastGapDays: f(c.gap),
		InterorderMean: f(c.between), Revenue: f(c.revenue), Revenue12m: f(c.revenue12m), AvgCheck: f(c.check),
		DiscountShare: f(c.discount), PAlive: f(c.alive), CLV: f(c.clv), EarlyVIP: math.NaN(),
		TopCategory: s(c.category), TopBrand: s(c.brand), Channel: s(c.channel)}
	if c.orders != nil {
		p.Orders = int(c.orders.Value(i))
	}
	if c.early != nil {
		p.EarlyVIP = c.early.Value(i)
	}
	return p
}

// eachBuyer reads the buyers of parts in id order: fn gets buyer k's row.
// Over every shard (parts nil), it checks that the buyers are those of the
// first full pass (sums); over one shard, that they are that shard's.
func (p *planned) eachBuyer(ctx context.Context, r Run, wh scoreStore, schema *arrow.Schema, parts []warehouse.Slice, fn func(c profileColumns, i, k int) error) error {
	all := parts == nil
	var sum uint64
	k := 0
	if err := p.each(ctx, r, wh, schema, parts, func(rec arrow.Record, in func(int) bool) error {
		c := profileColumnsOf(rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			if !c.buyer.Value(i) || (in != nil && !in(i)) {
				continue
			}
			sum += city.CH64([]byte(c.ids.Value(i)))
			if err := fn(c, i, k); err != nil {
				return err
			}
			k++
		}
		return nil
	}); err != nil {
		return err
	}
	want, wantSum := len(p.shard), uint64(0)
	for _, s := range p.idSum {
		wantSum += s
	}
	if !all {
		want, wantSum = p.buyers[parts[0].Index], p.idSum[parts[0].Index]
	}
	if p.idSum != nil && (k != want || sum != wantSum) {
		return fmt.Errorf("%w: the buyers' profiles changed while shard 0 planned (%d buyers read, %d before): run score again", warehouse.ErrPartGone, k, want)
	}
	return nil
}

// plan reads every shard's profiles (shard 0's run, after each part is
// in), plans the date over all buyers (lifecycle, VIP and value tiers, RFM,
// micro-segments with last night's ids, control groups), stages segments,
// and writes each shard's part of customer_plan.
//
// A pod 0 of a sharded run run again (its pod killed and restarted) whose
// job already planned the date from the same profiles keeps that plan: the
// other shards may have written their rows from it already.
func plan(ctx context.Context, r Run, wh scoreStore, o ScoreOptions, modelID, earlyID string, out *ScoreSummary) error {
	sh := r.Shard
	if sh.Of > math.MaxUint16 {
		return fmt.Errorf("score: %d shards; shard 0 plans for at most %d", sh.Of, math.MaxUint16)
	}
	summary := *out
	var p *planned
	var fp prints
	// A shard run again rewrites its part: read again once it is back.
	for attempt := 1; ; attempt++ {
		p, *out = &planned{o: o}, summary
		out.Lifecycle, out.Tiers = map[string]int{}, map[string]int{}
		var stands bool
		var err error
		fp, stands, err = p.read(ctx, r, wh, modelID, out)
		if err == nil && stands {
			p.release()
			return nil
		}
		if err == nil {
			break
		}
		p.release()
		if !errors.Is(err, warehouse.ErrPartGone) || attempt == 5 {
			return err
		}
		r.Log.WithError(err).Warn("a shard rewrote its profiles while shard 0 read them: reading them again")
		if err := awaitParts(ctx, r, wh, warehouse.CustomerProfiles.Name); err != nil {
			return err
		}
	}
	defer p.release()
	out.Segments = len(p.segs)
	out.MinSize = math.MaxInt
	members := 0
	for _, s := range p.segs {
		out.MinSize, out.MaxSize = min(out.MinSize, s.Size), max(out.MaxSize, s.Size)
		members += s.Size
	}
	segRec := p.segmentRecord(r)
	defer segRec.Release()
	// Of profiles held, two shards' plans written at once: one's rows are
	// built while the warehouse takes the other's. Else one at a time: the
	// second's batch cost pod 0 25-70 MiB at ten million customers (its
	// peak 936-983 MiB against 910 of its 1 GiB goal; 104 s either way).
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(1)
	if p.profiles != nil {
		g.SetLimit(2)
	}
	for _, s := range sh.all() {
		g.Go(func() error { return p.writePlan(gctx, r, wh, s) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	out.Staged = map[string]int{warehouse.CustomerScores.Name: out.Customers, warehouse.SegmentMembers.Name: members}
	if err := wh.Stage(ctx, warehouse.Segments.Name, r.AsOf, r.ID, segRec); err != nil {
		return err
	}
	out.Staged[warehouse.Segments.Name] = int(segRec.NumRows())
	out.Plan = &Plan{Job: sh.Job, Shards: sh.Of, EarlyVIPModelID: earlyID, Prints: fp.strings()}
	for _, n := range fp.rows {
		out.Plan.Customers = append(out.Plan.Customers, int(n))
	}
	r.Log.WithFields(logrus.Fields{"customers": out.Customers, "buyers": out.Buyers, "segments": out.Segments, "shards": sh.Of}).
		Info("date planned: segments staged, each shard's plan written for publish")
	if w := out.ZeroRevenueWarning(); w != "" {
		r.Log.Warn(w)
	}
	return nil
}

// read makes the plan in passes over the profiles. stands: the job planned
// the date from these profiles already, and that plan stands.
func (p *planned) read(ctx context.Context, r Run, wh scoreStore, modelID string, out *ScoreSummary) (fp prints, stands bool, err error) {
	sh, sg := r.Shard, p.o.Segmentation
	// Profiles that fit what the plan holds are read once, before the RFM
	// cut points when the customers fit a batch (a count of the parts' rows
	// says), after them when the buyers do.
	fp = newPrints(sh.Of)
	customers, err := wh.PartRows(ctx, warehouse.CustomerProfiles.Name, r.AsOf, sh.Job, sh.all())
	if err != nil {
		return fp, false, err
	}
	tried := customers <= p.o.planBatch()
	if tried {
		if err := p.hold(ctx, r, wh, modelID, fp, out); err != nil {
			return fp, false, err
		}
	}
	// The global cuts, and the space's means, in two passes: shard 0 holds
	// three values a buyer, then two. Of profiles held, the RFM cut points
	// are made beside the passes that follow (none of which needs them),
	// until the profiles held are narrowed.
	var rfmMade sync.WaitGroup
	defer rfmMade.Wait()
	var n int
	if p.profiles != nil {
		n = p.profiles.buyers()
		rfmMade.Go(p.heldRFM)
	} else {
		var since, orders, revenue []float64
		if err := p.eachBuyer(ctx, r, wh, rfmSchema, nil, func(c profileColumns, i, _ int) error {
			since, orders, revenue = append(since, c.last.Value(i)), append(orders, float64(c.orders.Value(i))), append(revenue, c.revenue.Value(i))
			return nil
		}); err != nil {
			return fp, false, err
		}
		n = len(since)
		p.rfm = segment.NewRFMCuts(since, orders, revenue)
		since, orders, revenue = nil, nil, nil
		if !tried && n <= p.o.planBatch() {
			if err := p.hold(ctx, r, wh, modelID, fp, out); err != nil {
				return fp, false, err
			}
		}
	}
	// The 12-month revenues of every buyer; the CLVs of the buyers that have
	// one from the front of values, the revenues of those that do not from
	// its back.
	revenue12m, values := make([]float64, 0, n), make([]float64, n)
	withCLV, withoutCLV := 0, n
	stats := segment.NewSpaceStats()
	idBytes := 0 // of every buyer's id: what the segments' buyers hold of theirs
	if err := p.eachBuyer(ctx, r, wh, cutSchema, nil, func(c profileColumns, i, k int) error {
		if k >= n {
			return fmt.Errorf("%w: the buyers' profiles changed while shard 0 planned: run score again", warehouse.ErrPartGone)
		}
		pr := c.profile(i)
		idBytes += len(pr.ID)
		revenue12m = append(revenue12m, pr.Revenue12m)
		if pr.Orders > 0 {
			if math.IsNaN(pr.CLV) {
				withoutCLV--
				values[withoutCLV] = pr.Revenue12m
			} else {
				values[withCLV] = pr.CLV
				withCLV++
			}
			stats.Mean(pr)
		}
		return nil
	}); err != nil {
		return fp, false, err
	}
	// Each sorts its own values: the two at once.
	var cut sync.WaitGroup
	cut.Go(func() { p.vipBar = sg.VIP.ThresholdOf(revenue12m) })
	p.cuts = segment.ValueCutsOf(values[:withCLV], values[withoutCLV:])
	cut.Wait()
	revenue12m, values = nil, nil
	if n > 0 && !p.cuts.CLVSignal && !p.cuts.RevSignal {
		r.Log.Warn("no buyer has a CLV or 12-month revenue above 0 to rank by: the segments have no value dimension (their macro groups are lifecycle stages alone)")
	}

	// Every profile: the summary, the fingerprints, each buyer's shard and
	// macro group, and the space's variances.
	p.shard, p.group = make([]uint16, 0, n), make([]uint8, 0, n)
	// Buyers that fit one batch are held as they are read: the segments
	// need no pass of their own.
	var held *batchBuyers
	if n <= p.o.planBatch() {
		held = newBatchBuyers(stats.RawPoints(n), n, idBytes)
	}
	p.idSum, p.buyers = make([]uint64, max(sh.Of, 1)), make([]int, max(sh.Of, 1))
	var buf []byte
	nonBuyer := sg.Lifecycle.Stage(segment.Profile{EarlyVIP: math.NaN()})
	names := map[[2]string]string{} // a few dozen names, not one string a buyer
	sizes := map[string]int{}
	total := 0.0
	err = p.each(ctx, r, wh, planProfileSchema, nil, func(rec arrow.Record, _ func(int) bool) error {
		if p.profiles == nil { // else checked as they were read
			var err error
			if buf, err = checkProfiles(rec, modelID, fp, out, buf); err != nil {
				return err
			}
		}
		c := profileColumnsOf(rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			out.Customers++
			if !c.buyer.Value(i) {
				out.Lifecycle[nonBuyer]++
				continue
			}
			pr := c.profile(i)
			h := city.CH64([]byte(pr.ID))
			s := warehouse.ShardOfHash(h, max(sh.Of, 1))
			p.shard = append(p.shard, uint16(s))
			p.idSum[s] += h
			p.buyers[s]++
			stage := sg.Lifecycle.Stage(pr)
			tier := sg.VIP.Tier(pr, stage, p.vipBar)
			value := p.cuts.Tier(pr, tier)
			out.Lifecycle[stage]++
			if tier != "" {
				out.Tiers[tier]++
			}
			k := [2]string{stage, value}
			name, ok := names[k]
			if !ok {
				name = strings.ReplaceAll(stage, "_", " ")
				if value != segment.NoValue {
					name += " · " + value
				}
				names[k] = name
			}
			p.group = append(p.group, p.groups.code(name))
			if pr.Orders > 0 {
				stats.Spread(pr)
				sizes[name]++
				total += pr.Revenue12m
				if held != nil {
					held.add(len(p.shard)-1, pr, stage, tier)
				}
			}
			out.Buyers++
			if pr.Revenue == 0 {
				out.ZeroRevenue++
			}
			if !math.IsNaN(pr.PAlive) {
				out.MeanPAlive += pr.PAlive
				out.WithPAlive++
			}
			if !math.IsNaN(pr.CLV) {
				out.CLV12 += pr.CLV
			}
		}
		return nil
	})
	if err != nil {
		return fp, false, err
	}
	if len(p.shard) != n {
		return fp, false, fmt.Errorf("%w: the buyers' profiles changed while shard 0 planned (%d buyers, %d before): run score again", warehouse.ErrPartGone, len(p.shard), n)
	}
	if p.profiles != nil {
		// The passes left read what makes each customer's plan.
		rfmMade.Wait()
		p.profiles.narrow(heldLaterSchema)
	}
	if out.WithPAlive > 0 {
		out.MeanPAlive /= float64(out.WithPAlive)
	}
	if sh.Of > 1 {
		run, existing, _, err := currentPlan(ctx, r, wh)
		if err != nil {
			return fp, false, err
		}
		if existing != nil && slices.Equal(existing.Prints, fp.strings()) {
			out.PlanOf = run
			r.Log.WithField("plan_run", run).Info("the job planned the date from these profiles already: its plan stands")
			return fp, true, nil
		}
	}
	if err := p.lastNight(ctx, r, wh); err != nil {
		return fp, false, err
	}
	p.idLen = (idBytes + n - 1) / max(n, 1)
	err = p.segment(ctx, r, wh, stats.Frame(), sizes, total, held)
	// Last night's segments and the macro groups made the segments: the
	// shards' plans, written next, need each buyer's segment alone (at ten
	// million customers, 38 MB let go before them).
	p.prev, p.group, p.prevIDs, p.prevCode, p.prevSize = nil, nil, nil, nil, nil
	return fp, false, err
}

// lastNight gives each buyer its segment of the night before, one shard's
// customers at a time: shard 0 holds one shard's rows of last night's scores.
func (p *planned) lastNight(ctx context.Context, r Run, wh scoreStore) error {
	p.prev = make([]int32, len(p.shard))
	p.prevCode, p.prevSize = map[string]int32{}, map[string]int{}
	for _, s := range r.Shard.all() {
		ln, err := readLastNight(ctx, r, wh, s)
		if err != nil {
			return err
		}
		for id, n := range ln.size {
			p.prevSize[id] += n
		}
		k := 0 // the buyer over every shard
		err = p.eachBuyer(ctx, r, wh, buyerSchema, []warehouse.Slice{s}, func(c profileColumns, i, _ int) error {
			for k < len(p.shard) && int(p.shard[k]) != s.Index {
				k++
			}
			if k == len(p.shard) {
				return fmt.Errorf("%w: the buyers' profiles of shard %d changed while shard 0 planned: run score again", warehouse.ErrPartGone, s.Index)
			}
			p.prev[k] = -1
			if id := ln.of(c.ids.Value(i)); id != "" {
				code, ok := p.prevCode[id]
				if !ok {
					code = int32(len(p.prevIDs))
					p.prevCode[id] = code
					p.prevIDs = append(p.prevIDs, id)
				}
				p.prev[k] = code
			}
			k++
			return nil
		})
		ln.release()
		if err != nil {
			return err
		}
	}
	return nil
}

// segment makes the micro-segments of the macro groups (their buyers sizes,
// their 12-month revenue total): small groups joined to the nearest, then
// the groups in name order, as many at a time as the plan's batch holds.
// held, when not nil, holds every buyer already (placed while the
// variances were summed): no pass reads them again.
func (p *planned) segment(ctx context.Context, r Run, wh scoreStore, frame *segment.Frame, sizes map[string]int, total float64, held *batchBuyers) error {
	sg := p.o.Segmentation
	o := sg.MicroSegments
	if err := o.Validate(); err != nil {
		return err
	}
	p.segOf = make([]int32, len(p.group))
	for k := range p.segOf {
		p.segOf[k] = -1
	}
	if len(sizes) == 0 {
		return nil
	}
	if held != nil {
		held.pts.Standardize(frame)
	}
	into, err := segment.JoinSmall(sizes, o.MinSize, func(into map[string]string) (map[string][]float64, error) {
		c := frame.Centroids()
		if held != nil {
			for row, k := range held.buyer {
				c.AddRow(into[p.groups.name(p.group[k])], held.pts, row)
			}
			return c.Means(), nil
		}
		err := p.eachBuyer(ctx, r, wh, segmentSchema, nil, func(cols profileColumns, i, k int) error {
			if pr := cols.profile(i); pr.Orders > 0 {
				c.Add(into[p.groups.name(p.group[k])], pr)
			}
			return nil
		})
		return c.Means(), err
	})
	if err != nil {
		return err
	}
	joined := map[string]int{}
	for g, n := range sizes {
		joined[into[g]] += n
	}
	// The group each code's buyers are in now.
	target := make([]string, len(p.groups.list))
	for code, name := range p.groups.list {
		target[code] = into[name]
	}
	keys := slices.Sorted(maps.Keys(joined))
	if held != nil {
		p.segmentGroups(held, keys, held.rows(keys, func(k int32) string { return target[p.group[k]] }), total)
		keys = nil
	}
	var batch []string
	inBatch := 0
	for k, g := range keys {
		batch, inBatch = append(batch, g), inBatch+joined[g]
		if k+1 < len(keys) && inBatch+joined[keys[k+1]] <= p.o.planBatch() {
			continue
		}
		bb := newBatchBuyers(frame.Points(inBatch), inBatch, inBatch*p.idLen)
		in := map[string]bool{}
		for _, g := range batch {
			in[g] = true
		}
		if err := p.eachBuyer(ctx, r, wh, segmentSchema, nil, func(c profileColumns, i, k int) error {
			if !in[target[p.group[k]]] {
				return nil
			}
			if pr := c.profile(i); pr.Orders > 0 {
				stage := sg.Lifecycle.Stage(pr)
				bb.add(k, pr, stage, sg.VIP.Tier(pr, stage, p.vipBar))
			}
			return nil
		}); err != nil {
			return err
		}
		p.segmentGroups(bb, batch, bb.rows(batch, func(k int32) string { return target[p.group[k]] }), total)
		batch, inBatch = nil, 0
	}
	segment.NameSegments(p.segs, p.hashed)
	return nil
}

// batchBuyers are the buyers of a batch of macro groups as their segments
// need them, by row: their point, their number among every buyer, economics,
// stage and VIP tier (coded), id.
type batchBuyers struct {
	pts    *segment.Points
	buyer  []int32
	values []segment.Member
	tiers  []uint8
	named  codes
	ids    []byte
	ends   []int
}

// newBatchBuyers has room for n buyers and idBytes of their ids: grown a
// doubling at a time, the buyers of a million customers cost the plan 0.3 s
// of copies (a CPU profile of score's pod 0).
func newBatchBuyers(pts *segment.Points, n, idBytes int) *batchBuyers {
	return &batchBuyers{pts: pts, buyer: make([]int32, 0, n), values: make([]segment.Member, 0, n), tiers: make([]uint8, 0, 2*n),
		ids: make([]byte, 0, idBytes), ends: make([]int, 0, n)}
}

// add adds buyer k, of the stage and VIP tier: the next row.
func (bb *batchBuyers) add(k int, pr segment.Profile, stage, tier string) {
	bb.pts.Add(pr)
	bb.buyer = append(bb.buyer, int32(k))
	bb.values = append(bb.values, segment.Member{Revenue12m: pr.Revenue12m, CLV: pr.CLV, PAlive: pr.PAlive})
	bb.tiers = append(bb.tiers, bb.named.code(stage), bb.named.code(tier))
	bb.ids = append(bb.ids, pr.ID...)
	bb.ends = append(bb.ends, len(bb.ids))
}

func (bb *batchBuyers) id(row int32) string {
	start := 0
	if row > 0 {
		start = bb.ends[row-1]
	}
	return string(bb.ids[start:bb.ends[row]])
}

// rows are the rows of each of groups (in order), by the group of the
// buyer of each row.
func (bb *batchBuyers) rows(groups []string, groupOf func(k int32) string) [][]int32 {
	in := map[string]int{}
	for b, g := range groups {
		in[g] = b
	}
	out := make([][]int32, len(groups))
	for row, k := range bb.buyer {
		b := in[groupOf(k)]
		out[b] = append(out[b], int32(row))
	}
	return out
}

// segmentGroups bisects each of groups (rows: each group's rows of bb, in
// order) and appends their segments, each with its hashed id for a segment
// that keeps no id of the night before. Each group's segments are made on
// the goroutine that bisected it, several groups at once, and appended in
// the groups' order: the same segments in the same order as one group at a
// time.
func (p *planned) segmentGroups(bb *batchBuyers, groups []string, rows [][]int32, total float64) {
	made := make([]groupSegments, len(groups))
	bb.pts.BisectGroups(rows, p.o.Segmentation.MicroSegments, func(b int, leaves [][]int32) {
		made[b] = p.leafSegments(bb, groups[b], leaves, total)
	})
	for _, m := range made {
		for j, leaf := range m.leaves {
			for _, row := range leaf {
				p.segOf[bb.buyer[row]] = int32(len(p.segs))
			}
			p.segs = append(p.segs, m.segs[j])
			p.strategy = append(p.strategy, m.strategy[j])
			p.hashed = append(p.hashed, m.hashed[j])
		}
	}
}

// groupSegments are a macro group's segments: for each leaf of its
// bisection, its segment, the strategy most of its members have and its
// hashed id (when it keeps none of the night before).
type groupSegments struct {
	leaves           [][]int32
	segs             []segment.Segment
	strategy, hashed []string
}

// leafSegments makes the segments of the leaves of macro group g. It only
// reads p and bb: it runs for several groups at once.
func (p *planned) leafSegments(bb *batchBuyers, g string, leaves [][]int32, total float64) groupSegments {
	sg := p.o.Segmentation
	m := groupSegments{leaves: leaves}
	for _, leaf := range leaves {
		seg := segment.Segment{Macro: g, Size: len(leaf)}
		overlap := map[string]int{}
		count := map[string]int{}
		for _, row := range leaf {
			if c := p.prev[bb.buyer[row]]; c >= 0 {
				overlap[p.prevIDs[c]]++
			}
			v := bb.values[row]
			strat, _ := segment.Strategy(sg.Strategies, segment.Profile{CLV: v.CLV, PAlive: v.PAlive}, bb.named.name(bb.tiers[2*row]), bb.named.name(bb.tiers[2*row+1]))
			count[strat]++
		}
		seg.Tally(func(yield func(segment.Member) bool) {
			for _, row := range leaf {
				if !yield(bb.values[row]) {
					return
				}
			}
		}, total)
		seg.Label = bb.pts.Label(g, leaf)
		seg.ID = segment.KeptID(seg.Size, overlap, p.prevSize)
		h := ""
		if seg.ID == "" {
			memberIDs := make([]string, len(leaf))
			for j, row := range leaf {
				memberIDs[j] = bb.id(row)
			}
			slices.Sort(memberIDs)
			h = segment.HashedID(slices.Values(memberIDs))
		}
		best := ""
		for _, st := range segment.Strategies {
			if count[st] > count[best] {
				best = st
			}
		}
		m.segs = append(m.segs, seg)
		m.strategy = append(m.strategy, best)
		m.hashed = append(m.hashed, h)
	}
	return m
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

// readLastNight reads the night before's micro-segments of a slice's
// customers (none when it is not published, or not whole).
func readLastNight(ctx context.Context, r Run, wh scoreStore, s warehouse.Slice) (*lastNight, error) {
	ln := &lastNight{names: map[string]string{}, size: map[string]int{}}
	rec, err := warehouse.ReadPublishedSlice(ctx, wh, r.Mem, warehouse.CustomerScores.Name, prevSegmentsSchema, r.AsOf.AddDate(0, 0, -1), s)
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
func (p *planned) segmentRecord(r Run) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, warehouse.Segments.Schema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	f64 := func(name string) *array.Float64Builder { return canon.BuilderOf[*array.Float64Builder](b, name) }
	id, macro, label, strategy := str("segment_id"), str("macro_group"), str("label"), str("strategy")
	size := canon.BuilderOf[*array.Int32Builder](b, "size")
	revenue, share, clv, churn, atRisk := f64("revenue_12m"), f64("revenue_share"), f64("mean_clv"), f64("churn_risk"), f64("revenue_at_risk")
	for s, seg := range p.segs {
		id.Append(seg.ID)
		macro.Append(seg.Macro)
		label.Append(seg.Label)
		size.Append(int32(seg.Size))
		revenue.Append(seg.Revenue12m)
		share.Append(seg.RevenueShare)
		clv.Append(seg.MeanCLV)
		churn.Append(seg.ChurnRisk)
		atRisk.Append(seg.RevenueAtRisk)
		strategy.Append(p.strategy[s])
	}
	return b.NewRecord()
}

// buyerSchema reads whether each customer is a buyer.
var buyerSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer")

// writePlan writes the part of customer_plan of one shard's customers: each
// buyer's stage, tiers and RFM scores from the cuts, its segment from the
// passes, its control place from its id.
func (p *planned) writePlan(ctx context.Context, r Run, wh scoreStore, s warehouse.Slice) error {
	sg := p.o.Segmentation
	b := array.NewRecordBuilder(r.Mem, warehouse.CustomerPlan.Schema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	i32 := func(name string) *array.Int32Builder { return canon.BuilderOf[*array.Int32Builder](b, name) }
	idB, stageB, tierB, valueB, segB := str("customer_id"), str("lifecycle_stage"), str("vip_tier"), str("value_tier"), str("micro_segment")
	rfmB := [3]*array.Int32Builder{i32("rfm_r"), i32("rfm_f"), i32("rfm_m")}
	control := canon.BuilderOf[*array.BooleanBuilder](b, "control_group")
	hold, today := newControlHold(p.o.ControlShare, p.o.CampaignDays, p.o.LiftWindowDays), r.AsOf.Unix()/86400
	assign := func(pr segment.Profile, buyer bool, seg int32) {
		stage := sg.Lifecycle.Stage(pr)
		tier := sg.VIP.Tier(pr, stage, p.vipBar)
		idB.Append(pr.ID)
		stageB.Append(stage)
		tierB.Append(tier)
		valueB.Append(p.cuts.Tier(pr, tier))
		rfm := [3]int32{}
		if buyer {
			s := p.rfm.Score(pr.DaysSinceLast, float64(pr.Orders), pr.Revenue)
			rfm = [3]int32{int32(s.R), int32(s.F), int32(s.M)}
		}
		for d, c := range rfmB {
			c.Append(rfm[d])
		}
		if seg < 0 {
			segB.Append("")
			control.Append(false)
			return
		}
		segB.Append(p.segs[seg].ID)
		control.Append(hold.held(place(pr.ID), today))
	}
	// Written a batch at a time: shard 0 holds a batch of a shard's plan.
	pw, err := wh.OpenPart(ctx, warehouse.CustomerPlan.Name, warehouse.CustomerPlan.Schema, r.AsOf, r.Shard.Job, s, r.ID)
	if err != nil {
		return err
	}
	var sum uint64
	k, n := 0, 0 // the buyer over every shard, of this shard
	if err := p.each(ctx, r, wh, assignSchema, []warehouse.Slice{s}, func(rec arrow.Record, in func(int) bool) error {
		c := profileColumnsOf(rec)
		for i := 0; i < int(rec.NumRows()); i++ {
			if in != nil && !in(i) {
				continue
			}
			pr := c.profile(i)
			if !c.buyer.Value(i) {
				assign(segment.Profile{ID: pr.ID, EarlyVIP: math.NaN()}, false, -1)
				continue
			}
			for k < len(p.shard) && int(p.shard[k]) != s.Index {
				k++
			}
			if k == len(p.shard) {
				return fmt.Errorf("the profiles of customer %s changed while shard 0 planned: run score again", pr.ID)
			}
			sum += city.CH64([]byte(pr.ID))
			n++
			assign(pr, true, p.segOf[k])
			k++
		}
		out := b.NewRecord()
		defer out.Release()
		return pw.Write(ctx, out)
	}); err != nil {
		pw.Abort(ctx)
		return err
	}
	if n != p.buyers[s.Index] || sum != p.idSum[s.Index] {
		pw.Abort(ctx)
		return fmt.Errorf("the profiles of shard %d changed while shard 0 planned: run score again", s.Index)
	}
	return pw.Close(ctx)
}
