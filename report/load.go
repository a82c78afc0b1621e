package report

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

var (
	scoreSchema  = warehouse.CustomerScores.Columns("customer_id", "lifecycle_stage", "vip_tier", "clv_12m", "p_alive", "rfm_r", "rfm_f", "rfm_m")
	tierSchema   = warehouse.CustomerScores.Columns("vip_tier")
	trendDates   = 12 // published dates the trends show, the newest last
	changeSchema = warehouse.SegmentChanges.Columns("dimension", "from_value", "to_value", "previous_as_of")
)

// Store is where the report reads a published date and its models.
type Store interface {
	Publication(ctx context.Context, asOf time.Time) (warehouse.Publication, error)
	ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error)
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
	LatestModel(ctx context.Context, asOf time.Time, kinds ...string) (warehouse.Model, error)
	PublicationDates(ctx context.Context) ([]time.Time, error)
	RawCounts(ctx context.Context) ([]warehouse.Count, error)
	RejectedByRule(ctx context.Context, runID string) ([]warehouse.Count, error)
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
}

// WriteFile writes the report to path, through a temporary file and a rename.
func WriteFile(path string, d Data) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := Write(f, d); err != nil {
		f.Close()
		os.Remove(path + ".tmp")
		return fmt.Errorf("report: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// Load reads what the report of a published date shows.
func Load(ctx context.Context, st Store, asOf time.Time, mem memory.Allocator) (Data, error) {
	d := Data{AsOf: asOf.Format(time.DateOnly)}
	if _, err := warehouse.CheckPublished(ctx, st, asOf); err != nil && !errors.Is(err, warehouse.ErrNotPublished) {
		return d, err
	}
	scores, err := warehouse.ReadPublished(ctx, st, mem, warehouse.CustomerScores.Name, scoreSchema, asOf)
	if errors.Is(err, warehouse.ErrNotPublished) {
		return d, fmt.Errorf("nothing published for %s: run score and publish first", d.AsOf)
	}
	if err != nil {
		return d, err
	}
	defer scores.Release()
	stages, tiers := map[string]int{}, map[string]int{}
	stage, tier := canon.ArrayOf[*array.String](scores, "lifecycle_stage"), canon.ArrayOf[*array.String](scores, "vip_tier")
	clv, alive := canon.ArrayOf[*array.Float64](scores, "clv_12m"), canon.ArrayOf[*array.Float64](scores, "p_alive")
	rfmR, rfmF, rfmM := canon.ArrayOf[*array.Int32](scores, "rfm_r"), canon.ArrayOf[*array.Int32](scores, "rfm_f"), canon.ArrayOf[*array.Int32](scores, "rfm_m")
	d.Customers = int(scores.NumRows())
	for i := 0; i < d.Customers; i++ {
		stages[stage.Value(i)]++
		if t := tier.Value(i); t != "" {
			tiers[t]++
		}
		if r := rfmR.Value(i); r >= 1 && r <= 5 {
			f, m := rfmF.Value(i), rfmM.Value(i)
			d.RFM[r-1][(f+m+1)/2-1]++
		}
		if stage.Value(i) != segment.NonBuyer {
			d.Buyers++
			if clv.IsValid(i) { // NULL: not predicted (prediction_note says why)
				d.CLV = append(d.CLV, clv.Value(i))
			}
			if alive.IsValid(i) {
				d.PAlive = append(d.PAlive, alive.Value(i))
			}
		}
	}
	for _, s := range []string{segment.NonBuyer, segment.New, segment.Active, segment.AtRisk, segment.Lost, segment.Reactivated} {
		d.Lifecycle = append(d.Lifecycle, Count{Name: s, N: stages[s]})
	}
	for _, t := range []string{segment.VIP, segment.VIPAtRisk, segment.PotentialVIP, segment.LostVIP} {
		d.Tiers = append(d.Tiers, Count{Name: t, N: tiers[t]})
	}
	segs, err := warehouse.ReadPublished(ctx, st, mem, warehouse.Segments.Name, warehouse.Segments.Schema, asOf)
	if err != nil {
		return d, err
	}
	defer segs.Release()
	for i := 0; i < int(segs.NumRows()); i++ {
		s := func(name string) string { return strings.Clone(canon.ArrayOf[*array.String](segs, name).Value(i)) }
		f := func(name string) float64 { return canon.ArrayOf[*array.Float64](segs, name).Value(i) }
		d.Segments = append(d.Segments, Segment{ID: s("segment_id"), Label: s("label"), Size: int(canon.ArrayOf[*array.Int32](segs, "size").Value(i)),
			RevenueShare: f("revenue_share"), MeanCLV: f("mean_clv"), ChurnRisk: f("churn_risk"), AtRisk: f("revenue_at_risk"), Strategy: s("strategy")})
	}
	slices.SortStableFunc(d.Segments, func(a, b Segment) int { return cmp.Compare(b.RevenueShare, a.RevenueShare) })
	changes, err := warehouse.ReadPublished(ctx, st, mem, warehouse.SegmentChanges.Name, changeSchema, asOf)
	switch {
	case err == nil:
		defer changes.Release()
		dim, from, to := canon.ArrayOf[*array.String](changes, "dimension"), canon.ArrayOf[*array.String](changes, "from_value"), canon.ArrayOf[*array.String](changes, "to_value")
		previous := canon.ArrayOf[*array.Date32](changes, "previous_as_of")
		count := map[[2]string]int{}
		for i := 0; i < int(changes.NumRows()); i++ {
			if dim.Value(i) == "lifecycle_stage" {
				f := from.Value(i)
				if f == "" {
					f = "(new)"
				}
				count[[2]string{f, to.Value(i)}]++
			}
			if prev := previous.Value(i).ToTime(); prev.Year() > 1970 {
				d.PreviousAsOf = prev.Format(time.DateOnly)
			}
		}
		for k, n := range count {
			d.Flows = append(d.Flows, Flow{From: k[0], To: k[1], N: n})
		}
	case !errors.Is(err, warehouse.ErrNoPartition):
		return d, err
	}
	if err := loadQuality(ctx, st, asOf, mem, &d); err != nil {
		return d, err
	}
	if err := loadTrends(ctx, st, asOf, mem, &d); err != nil {
		return d, err
	}
	if err := loadLift(ctx, st, asOf, mem, &d); err != nil {
		return d, err
	}
	return d, loadModels(ctx, st, asOf, &d)
}

var liftSchema = warehouse.SegmentLift.Columns("segment_id", "label", "window_days", "treated", "control", "treated_conversion", "conversion_q_value",
	"control_conversion", "conversion_diff", "conversion_diff_low", "conversion_diff_high", "revenue_diff", "mde_conversion", "verdict")

// loadLift reads what tessera lift measured for the date, if it has.
func loadLift(ctx context.Context, st Store, asOf time.Time, mem memory.Allocator, d *Data) error {
	rec, err := st.ReadPartition(ctx, mem, warehouse.SegmentLift.Name, liftSchema, asOf)
	if errors.Is(err, warehouse.ErrNoPartition) { // the embedded store: not measured
		return nil
	}
	if err != nil {
		return err
	}
	defer rec.Release()
	str := func(name string, i int) string {
		return strings.Clone(canon.ArrayOf[*array.String](rec, name).Value(i))
	}
	i32 := func(name string, i int) int { return int(canon.ArrayOf[*array.Int32](rec, name).Value(i)) }
	f64 := func(name string, i int) float64 {
		a := canon.ArrayOf[*array.Float64](rec, name)
		if a.IsNull(i) {
			return math.NaN()
		}
		return a.Value(i)
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		d.LiftWindow = i32("window_days", i)
		d.Lift = append(d.Lift, Lift{Segment: str("segment_id", i), Label: str("label", i), Treated: i32("treated", i), Control: i32("control", i),
			TreatedConversion: f64("treated_conversion", i), ControlConversion: f64("control_conversion", i), Diff: f64("conversion_diff", i),
			Low: f64("conversion_diff_low", i), High: f64("conversion_diff_high", i), RevenueDiff: f64("revenue_diff", i), MDE: f64("mde_conversion", i),
			Verdict: str("verdict", i), Q: f64("conversion_q_value", i)})
	}
	return nil
}

// loadQuality reads the raw tables' rows, every refused row by rule, and
// how many buyers of the date bought for 0.
func loadQuality(ctx context.Context, st Store, asOf time.Time, mem memory.Allocator, d *Data) error {
	feats, err := st.ReadPartition(ctx, mem, warehouse.CustomerFeatures.Name, warehouse.CustomerFeatures.Columns("customer_id", "revenue"), asOf)
	switch {
	case err == nil:
		revenue := canon.ArrayOf[*array.Float64](feats, "revenue")
		d.FeatureBuyers = revenue.Len()
		for i := 0; i < revenue.Len(); i++ {
			if revenue.Value(i) == 0 {
				d.ZeroBuyers++
			}
		}
		feats.Release()
	case !errors.Is(err, warehouse.ErrNoPartition):
		return err
	}
	raw, err := st.RawCounts(ctx)
	if err != nil {
		return err
	}
	rejected, err := st.RejectedByRule(ctx, "") // every run's
	if err != nil {
		return err
	}
	for _, c := range raw {
		d.Raw = append(d.Raw, Count{Name: c.Name, N: int(c.N)})
	}
	for _, c := range rejected {
		d.Rejected = append(d.Rejected, Count{Name: c.Name, N: int(c.N)})
	}
	return nil
}

// loadTrends reads the segments and VIP tiers of the published dates up to
// asOf (the newest trendDates).
func loadTrends(ctx context.Context, st Store, asOf time.Time, mem memory.Allocator, d *Data) error {
	dates, err := st.PublicationDates(ctx)
	if err != nil {
		return err
	}
	dates = slices.DeleteFunc(dates, func(t time.Time) bool { return t.After(asOf) })
	dates = dates[max(0, len(dates)-trendDates):]
	for _, day := range dates {
		t := Trend{AsOf: day.Format(time.DateOnly)}
		segs, err := warehouse.ReadPublished(ctx, st, mem, warehouse.Segments.Name, warehouse.Segments.Columns("size", "revenue_12m"), day)
		if errors.Is(err, warehouse.ErrIncomplete) || errors.Is(err, warehouse.ErrNotPublished) {
			continue // a date half-published, or replaced meanwhile: not shown
		}
		if err != nil {
			return err
		}
		for i := 0; i < int(segs.NumRows()); i++ {
			t.Segments++
			t.Buyers += int(canon.ArrayOf[*array.Int32](segs, "size").Value(i))
			t.Revenue12m += canon.ArrayOf[*array.Float64](segs, "revenue_12m").Value(i)
		}
		segs.Release()
		tiers, err := warehouse.ReadPublished(ctx, st, mem, warehouse.CustomerScores.Name, tierSchema, day)
		if err != nil {
			return err
		}
		col := canon.ArrayOf[*array.String](tiers, "vip_tier")
		for i := 0; i < int(tiers.NumRows()); i++ {
			switch col.Value(i) {
			case segment.VIP:
				t.VIP++
			case segment.VIPAtRisk:
				t.VIPAtRisk++
			case segment.PotentialVIP:
				t.PotentialVIP++
			case segment.LostVIP:
				t.Lost++
			}
		}
		tiers.Release()
		d.Trends = append(d.Trends, t)
	}
	return nil
}

// loadModels reads the newest purchase model (or the record that none passed
// its gate) and early potential-VIP model trained by the date.
func loadModels(ctx context.Context, st Store, asOf time.Time, d *Data) error {
	if m, err := st.LatestModel(ctx, asOf, model.LTVKinds...); err == nil {
		a, err := model.LoadArtefact([]byte(m.Artefact))
		if err != nil {
			return fmt.Errorf("model %s: %w", m.ID, err)
		}
		l := &LTV{Kind: a.Kind, ModelID: m.ID, Gated: a.Gate.FailedReasons(), SpendLeftOut: a.SpendLeftOut}
		if a.Metrics != nil {
			mt := a.Metrics
			l.MAE, l.RMSE, l.Predicted, l.Actual = mt.MAE, mt.RMSE, mt.PredictedTotal, mt.ActualTotal
			l.Grade, l.NaiveMAE, l.AggregateError, l.CurveError, l.CalibrationError = mt.Grade, mt.NaiveMAE, mt.AggregateError, mt.CurveError, mt.CalibrationError
			l.ZeroRMSE, l.NaiveRMSE, l.RateRMSE = mt.ZeroRMSE, mt.NaiveRMSE, mt.RateRMSE
			for _, c := range mt.Curve {
				l.Curve = append(l.Curve, CurvePoint{At: c.At, Predicted: c.Predicted, Actual: c.Actual})
			}
			for _, c := range mt.Calibration {
				l.Calibration = append(l.Calibration, [2]float64{c.Predicted, c.Observed})
			}
			for _, b := range a.Metrics.Buckets {
				l.Buckets = append(l.Buckets, Bucket{Frequency: b.Frequency, Customers: b.Customers, Predicted: b.Predicted, Actual: b.Actual})
			}
		}
		d.LTV = l
	} else if !errors.Is(err, warehouse.ErrNoModel) {
		return err
	}
	if m, err := st.LatestModel(ctx, asOf, model.KindEarlyVIP); err == nil && m.Status == "gated" {
		d.EarlyVIPReason = m.Reason
	} else if err == nil {
		var e segment.EarlyVIPModel
		if err := json.Unmarshal([]byte(m.Artefact), &e); err != nil {
			return fmt.Errorf("model %s: %w", m.ID, err)
		}
		c := e.Metrics
		d.EarlyVIP = &EarlyVIP{ModelID: m.ID, AUC: c.AUC, Precision: c.Precision, Recall: c.Recall, Threshold: c.Threshold,
			BaseRate: c.BaseRate, AveragePrecision: c.AveragePrecision, PrecisionTop1: c.PrecisionTop1, PrecisionTop5: c.PrecisionTop5,
			Grade: e.Grade, Dropped: e.Model.Dropped, ROC: e.ROC, PR: e.PR, FirstWeekAUC: e.FirstWeekRanking.AUC, FirstWeekTop5: e.FirstWeekRanking.PrecisionTop5}
	} else if !errors.Is(err, warehouse.ErrNoModel) {
		return err
	}
	return nil
}
