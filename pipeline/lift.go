package pipeline

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/lift"
	"github.com/tessera-cdp/tessera/warehouse"
)

// LiftResult is what lift measured for a published date.
type LiftResult struct {
	AsOf       string `json:"as_of"`
	WindowDays int    `json:"window_days"`
	// ExtractedThrough is the newest date a successful extract read the
	// sources for: the window is over once it reaches the window's end.
	ExtractedThrough string `json:"extracted_through"`
	// Switched are the members held out on some days of the window only (a
	// control group replaced inside it): they measure neither arm.
	Switched int             `json:"switched"`
	Segments []SegmentLifted `json:"segments"`
}

// SegmentLifted is one segment's measurement.
type SegmentLifted struct {
	ID, Label string
	lift.Result
}

// Lift measures, for every segment published for asOf, its treated members
// against its control group over the window after asOf: orders (not
// cancelled) from the raw tables. The arms are the members never held out in
// the window and those held out all through it (controlHold), so a control
// group replaced inside the window does not leak campaigns into the
// control. It replaces the date's partition of segment_lift. A window the
// extracts have not read to its end is labelled so, with nothing measured.
func (p *Runner) Lift(ctx context.Context, asOf time.Time, windowDays int) (LiftResult, error) {
	r := NewRun(p.Log, p.Mem, "lift", asOf)
	res, err := p.lift(ctx, r, asOf, windowDays)
	p.record(ctx, Result{Run: r, Lift: &res}, err)
	if err != nil {
		return res, fmt.Errorf("lift: %w", err)
	}
	return res, nil
}

func (p *Runner) lift(ctx context.Context, r Run, asOf time.Time, windowDays int) (LiftResult, error) {
	res := LiftResult{AsOf: asOf.Format(time.DateOnly), WindowDays: windowDays}
	if windowDays < 1 {
		return res, fmt.Errorf("the window must be at least a day, got %d", windowDays)
	}
	pub, err := p.Store.Publication(ctx, asOf)
	if err != nil {
		return res, err
	}
	if pub.ScoreRun == "" {
		return res, fmt.Errorf("%s is not published: lift measures a published date's segments", res.AsOf)
	}
	members, err := p.Store.ReadPartition(ctx, r.Mem, warehouse.SegmentMembers.Name, warehouse.SegmentMembers.Columns("segment_id", "customer_id", "control_group"), asOf)
	if err != nil {
		return res, err
	}
	defer members.Release()
	segs, err := p.Store.ReadPartition(ctx, r.Mem, warehouse.Segments.Name, warehouse.Segments.Columns("segment_id", "label"), asOf)
	if err != nil {
		return res, err
	}
	defer segs.Release()
	end := asOf.AddDate(0, 0, windowDays)
	through, ok, err := p.Store.ExtractedThrough(ctx)
	if err != nil {
		return res, err
	}
	over := ok && !through.Before(end)
	if ok {
		res.ExtractedThrough = through.Format(time.DateOnly)
	}
	var outcomes map[string]lift.Outcome
	if over {
		if outcomes, err = p.windowOutcomes(ctx, r, asOf, end); err != nil {
			return res, err
		}
	}

	type arms struct {
		treated, control []lift.Outcome
	}
	bySeg := map[string]*arms{}
	hold, from := newControlHold(p.Options.Score.ControlShare, p.Options.Score.CampaignDays, p.Options.Score.LiftWindowDays), asOf.Unix()/86400
	segIDs, custIDs := canon.ArrayOf[*array.String](members, "segment_id"), canon.ArrayOf[*array.String](members, "customer_id")
	control := canon.ArrayOf[*array.Boolean](members, "control_group")
	for i := 0; i < int(members.NumRows()); i++ {
		a := bySeg[segIDs.Value(i)]
		if a == nil {
			a = &arms{}
			bySeg[segIDs.Value(i)] = a
		}
		o := outcomes[custIDs.Value(i)]
		switch arm := hold.arm(place(custIDs.Value(i)), from, int64(windowDays)); {
		case (arm == armControl) != control.Value(i) && arm != armSwitched:
			return res, fmt.Errorf("%s's control group was not drawn the way export.control_share, campaign_days and lift_window_days draw it now (customer %s): "+
				"they changed since the date was published, or an older Tessera published it; its arms can no longer be told", res.AsOf, custIDs.Value(i))
		case arm == armSwitched:
			res.Switched++
		case arm == armControl:
			a.control = append(a.control, o)
		default:
			a.treated = append(a.treated, o)
		}
	}
	ids, labels := canon.ArrayOf[*array.String](segs, "segment_id"), canon.ArrayOf[*array.String](segs, "label")
	for i := 0; i < int(segs.NumRows()); i++ {
		a := bySeg[ids.Value(i)]
		if a == nil {
			a = &arms{}
		}
		m := lift.NotOver(len(a.treated), len(a.control))
		if over {
			m = lift.Measure(a.treated, a.control)
		}
		res.Segments = append(res.Segments, SegmentLifted{ID: ids.Value(i), Label: labels.Value(i), Result: m})
	}
	ps := make([]float64, len(res.Segments))
	for i, s := range res.Segments {
		ps[i] = s.ConversionP
		if s.Verdict == lift.WindowNotOver { // not measured yet: not among the tests
			ps[i] = math.NaN()
		}
	}
	for i, q := range lift.QValues(ps) {
		res.Segments[i].ConversionQ = q
	}
	rec := liftRecord(r, res)
	defer rec.Release()
	if err := p.Store.ReplacePartition(ctx, warehouse.SegmentLift.Name, asOf, r.ID, rec); err != nil {
		return res, err
	}
	return res, nil
}

// windowOutcomes reads what every customer did from asOf until end: orders
// not cancelled, their count and net revenue (a customer converted when it
// ordered: counted alike in both arms, where campaign conversion events
// reach the treated members only).
func (p *Runner) windowOutcomes(ctx context.Context, r Run, asOf, end time.Time) (map[string]lift.Outcome, error) {
	from, to := asOf.Unix(), end.Unix()
	out := map[string]lift.Outcome{}
	err := p.Store.Each(ctx, r.Mem, warehouse.Query{Entity: canon.Orders, Columns: []string{"customer_id", "ordered_at", "status", "net_amount"}}, p.Options.Export.BatchRows,
		func(rec arrow.Record) error {
			cust, at := canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.Timestamp](rec, "ordered_at")
			status, net := canon.ArrayOf[*array.String](rec, "status"), canon.ArrayOf[*array.Float64](rec, "net_amount")
			for i := 0; i < int(rec.NumRows()); i++ {
				t := int64(at.Value(i))
				if t < from || t >= to || status.Value(i) == "cancelled" {
					continue
				}
				o := out[cust.Value(i)]
				o.Orders++
				o.Revenue += net.Value(i)
				o.Converted = true
				out[cust.Value(i)] = o
			}
			return nil
		})
	return out, err
}

// liftRecord is the segment_lift record of a measurement.
func liftRecord(r Run, res LiftResult) arrow.Record {
	b := array.NewRecordBuilder(r.Mem, warehouse.SegmentLift.Schema)
	defer b.Release()
	col := func(name string) array.Builder { return b.Field(warehouse.SegmentLift.Schema.FieldIndices(name)[0]) }
	str := func(name, v string) { col(name).(*array.StringBuilder).Append(v) }
	i32 := func(name string, v int) { col(name).(*array.Int32Builder).Append(int32(v)) }
	f64 := func(name string, v float64) {
		if math.IsNaN(v) {
			col(name).AppendNull()
		} else {
			col(name).(*array.Float64Builder).Append(v)
		}
	}
	for _, s := range res.Segments {
		m := s.Result
		str("segment_id", s.ID)
		str("label", s.Label)
		i32("window_days", res.WindowDays)
		i32("treated", m.Treated)
		i32("control", m.Control)
		i32("treated_buyers", m.TreatedBuyers)
		i32("control_buyers", m.ControlBuyers)
		for _, v := range []struct {
			name string
			v    float64
		}{{"treated_conversion", m.TreatedConversion}, {"control_conversion", m.ControlConversion}, {"conversion_diff", m.ConversionDiff},
			{"conversion_diff_low", m.ConversionLow}, {"conversion_diff_high", m.ConversionHigh}, {"conversion_p_value", m.ConversionP}, {"conversion_q_value", m.ConversionQ},
			{"conversion_relative", m.ConversionRelative}, {"treated_orders_per_member", m.TreatedOrders},
			{"control_orders_per_member", m.ControlOrders}, {"orders_diff", m.OrdersDiff},
			{"treated_revenue_per_member", m.TreatedRevenue}, {"control_revenue_per_member", m.ControlRevenue},
			{"revenue_diff", m.RevenueDiff}, {"revenue_diff_low", m.RevenueLow}, {"revenue_diff_high", m.RevenueHigh},
			{"revenue_relative", m.RevenueRelative}, {"mde_conversion", m.MDE}} {
			f64(v.name, v.v)
		}
		str("verdict", m.Verdict)
	}
	return b.NewRecord()
}
