package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// modelStore is where train reads orders and keeps models.
type modelStore interface {
	reader
	Customers(ctx context.Context, q warehouse.Query) (int, error)
	InsertModel(ctx context.Context, m warehouse.Model) error
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
}

// Trained are the models a train run stored. LTV is never nil: when the
// history fails its gate, or every fit is degenerate, it is a model of kind
// none that says why (Reasons). Early is nil when no early potential-VIP model
// could be fitted, EarlyReason says why.
type Trained struct {
	LTV         *model.Artefact
	ModelID     string
	Early       *segment.EarlyVIPModel
	EarlyReason string
}

// Reasons are why the date has no usable LTV model; empty when it has one.
func (t Trained) Reasons() []string {
	if t.LTV == nil || t.LTV.Gate == nil || t.LTV.Gate.Passed {
		return nil
	}
	return t.LTV.Gate.Reasons
}

// Train checks the history against the gate, fits the candidate purchase
// models on the history up to the holdout, ranks them by their holdout
// (model.Choose), refits the best whose fit is not degenerate, with the spend
// model, on the whole history before the as-of date, and stores it; then the
// early potential-VIP model. A history that fails the gate, or fits that are
// all degenerate, are not an error: the stored model says why nothing is
// predicted, and score publishes no predicted number.
func Train(ctx context.Context, r Run, wh modelStore, o TrainOptions) (Trained, error) {
	sample, buyers, err := trainSample(ctx, r, wh, o.LTV)
	if err != nil {
		return Trained{}, err
	}
	q := ordersBefore(r.AsOf)
	q.Slice = sample
	recs, err := wh.Read(ctx, r.Mem, q, o.BatchRows)
	if err != nil {
		return Trained{}, err
	}
	defer release(recs)
	a, err := trainLTV(r, recs, o.LTV)
	if err != nil {
		return Trained{}, err
	}
	if !sample.Whole() {
		a.Sample = &model.Sample{Of: sample.Of, Index: sample.Index, Buyers: buyers}
	}
	m, err := modelRow(r, a)
	if err != nil {
		return Trained{}, err
	}
	if err := wh.InsertModel(ctx, m); err != nil {
		return Trained{}, err
	}
	out := Trained{LTV: a, ModelID: m.ID}
	if reasons := out.Reasons(); len(reasons) > 0 {
		r.Log.WithFields(logrus.Fields{"model_id": m.ID, "reasons": reasons, "history": a.Gate.History}).
			Warn("no purchase model is used: score publishes no P(alive), expected purchases, next order or CLV for the date, and lifecycle and VIP tiers follow recency and rhythm alone")
	} else {
		r.Log.WithFields(logrus.Fields{"model": a.Kind, "model_id": m.ID, "params": a.Params, "log_likelihood": round(a.Fit.LogLikelihood),
			"customers": a.Fit.Customers, "grade": m.Grade}).Info("model stored")
	}
	out.Early, out.EarlyReason, err = trainEarlyVIP(ctx, r, wh, recs, o.EarlyVIP)
	return out, err
}

// trainSample is the customers train fits on: every buyer, or, with more
// than max_customers, one in ⌈buyers/max_customers⌉ of them by the hash of
// the customer id (the slice of that index the seed picks). It also returns
// the buyers counted.
func trainSample(ctx context.Context, r Run, wh modelStore, o config.LTV) (warehouse.Slice, int, error) {
	if o.MaxCustomers == 0 {
		return warehouse.Slice{}, 0, nil
	}
	buyers, err := wh.Customers(ctx, ordersBefore(r.AsOf))
	if err != nil || buyers <= o.MaxCustomers {
		return warehouse.Slice{}, buyers, err
	}
	of := (buyers + o.MaxCustomers - 1) / o.MaxCustomers
	s := warehouse.Slice{Index: int(o.SampleSeed % uint64(of)), Of: of}
	r.Log.WithFields(logrus.Fields{"buyers": buyers, "max_customers": o.MaxCustomers, "sample": fmt.Sprintf("%d/%d", s.Index, s.Of)}).
		Info(fmt.Sprintf("train fits on one in %d buyers (about %d of %d)", of, buyers/of, buyers))
	return s, buyers, nil
}

// trainLTV is the LTV model of the date: gated, or chosen and refitted.
// A candidate is used only when it was checked on the holdout and earned at
// least ltv.min_grade there; otherwise the stored model says why none is.
func trainLTV(r Run, recs []arrow.Record, o config.LTV) (*model.Artefact, error) {
	lastDay := r.AsOf.Add(-day)
	allSum, all, err := summarise(r.Mem, recs, transform.SummaryOptions{CalibrationEnd: lastDay, Unit: day})
	if err != nil {
		return nil, err
	}
	defer allSum.Release()
	gate := o.Gate.Check(model.HistoryOf(all.x, all.tx, all.T))
	if !gate.Passed {
		return model.NewGatedArtefact(gate, "day", lastDay.Format(time.DateOnly)), nil
	}
	ranked, why, err := rankCandidates(r, recs, o)
	if err != nil {
		return nil, err
	}
	for _, c := range ranked {
		if m := c.metrics; model.GradeBelow(m.Grade, o.MinGrade) {
			d := fmt.Sprintf("%s: grade %s on the %d-day holdout, below ltv.min_grade %s (RMSE %.3f against %.3f for the best rule of thumb, %s; total %+.0f%%)",
				c.kind, m.Grade, o.HoldoutDays, o.MinGrade, m.RMSE, m.BaselineRMSE, baselineName[m.Baseline], 100*m.AggregateError)
			r.Log.WithField("model", c.kind).Warn("candidate refused: " + d)
			why = append(why, d)
			continue
		}
		a, err := fitModel(r, all, c.kind, c.metrics, o)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if d := model.Degenerate(a); d != "" {
			r.Log.WithField("model", c.kind).Warn("degenerate fit on the whole history: " + d)
			why = append(why, d)
			continue
		}
		a.Gate = &gate
		return a, nil
	}
	gate.Passed, gate.Reasons = false, why
	return model.NewGatedArtefact(gate, "day", lastDay.Format(time.DateOnly)), nil
}

// baselineName says what each rule of thumb of model.Quality predicts.
var baselineName = map[string]string{"zero": "no purchase for anyone", "naive": "each customer's rate carried forward", "rate": "the base's rate for everyone"}

// ranked is a candidate in the order train tries them, with its holdout
// metrics.
type ranked struct {
	kind    string
	metrics *model.Metrics
}

// rankCandidates fits each candidate on the history up to the holdout and
// ranks those whose fit is not degenerate by model.Choose's criterion. The
// reasons say why each other candidate was left out.
func rankCandidates(r Run, recs []arrow.Record, o config.LTV) ([]ranked, []string, error) {
	lastDay := r.AsOf.Add(-day)
	calEnd := lastDay.AddDate(0, 0, -o.HoldoutDays)
	opt := model.FitOptions{Penalty: o.Penalty}
	var candidates []model.Candidate
	var why []string
	evalSum, ev, err := summarise(r.Mem, recs, transform.SummaryOptions{CalibrationEnd: calEnd, HoldoutEnd: lastDay, Unit: day})
	if err != nil {
		return nil, nil, err
	}
	defer evalSum.Release()
	if len(ev.x) == 0 {
		return nil, []string{fmt.Sprintf("no buyer before %s, the start of the %d-day holdout (ltv.holdout_days): no model can be checked",
			calEnd.AddDate(0, 0, 1).Format(time.DateOnly), o.HoldoutDays)}, nil
	}
	d, err := model.NewData(ev.x, ev.tx, ev.T)
	if err != nil {
		return nil, nil, err
	}
	holdoutTotal := 0.0
	for _, v := range ev.holdout {
		holdoutTotal += v
	}
	checks, err := checkpoints(r, recs, calEnd, o.HoldoutDays, holdoutTotal)
	if err != nil {
		return nil, nil, err
	}
	for _, kind := range o.Models {
		pm, fit, err := model.FitPurchases(kind, d, opt)
		if err != nil {
			r.Log.WithError(err).WithField("model", kind).Warn("candidate not fitted")
			why = append(why, fmt.Sprintf("%s: not fitted on the history before the holdout: %v", kind, err))
			continue
		}
		a, err := model.NewArtefact(pm, fit, "day", calEnd.Format(time.DateOnly))
		if err != nil {
			return nil, nil, err
		}
		if dg := model.Degenerate(a); dg != "" {
			r.Log.WithField("model", kind).Warn("candidate degenerate on the history before the holdout: " + dg)
			why = append(why, "degenerate on the history before the holdout: "+dg)
			continue
		}
		m, err := model.Evaluate(pm, model.Holdout{X: ev.x, Tx: ev.tx, T: ev.T, Actual: ev.holdout, Duration: float64(o.HoldoutDays), Checkpoints: checks})
		if err != nil {
			return nil, nil, err
		}
		r.Log.WithFields(logrus.Fields{"model": kind, "holdout_mae": round(m.MAE), "naive_mae": round(m.NaiveMAE), "holdout_rmse": round(m.RMSE),
			"zero_rmse": round(m.ZeroRMSE), "naive_rmse": round(m.NaiveRMSE), "rate_rmse": round(m.RateRMSE),
			"aggregate_error": round(m.AggregateError), "curve_error": round(m.CurveError), "calibration_error": round(m.CalibrationError),
			"score": round(m.Score()), "grade": m.Grade, "predicted": round(m.PredictedTotal), "actual": m.ActualTotal, "customers": m.Customers}).Info("candidate evaluated")
		candidates = append(candidates, model.Candidate{Name: kind, Model: pm, Fit: fit, Metrics: m})
	}
	var out []ranked
	for len(candidates) > 0 {
		best, err := model.Choose(candidates)
		if err != nil { // every prediction left is NaN
			for _, c := range candidates {
				why = append(why, c.Name+": no number on the holdout")
			}
			break
		}
		out = append(out, ranked{kind: best.Name, metrics: &best.Metrics})
		candidates = slices.DeleteFunc(candidates, func(c model.Candidate) bool { return c.Name == best.Name })
	}
	return out, why, nil
}

// checkpoints are the calibration base's cumulative holdout purchases at each
// quarter of the holdout; the last is the whole holdout, whose total the
// evaluation summary already has.
func checkpoints(r Run, recs []arrow.Record, calEnd time.Time, holdoutDays int, holdoutTotal float64) ([]model.Checkpoint, error) {
	var out []model.Checkpoint
	for q := 1; q < 4; q++ {
		days := holdoutDays * q / 4
		if days < 1 || (len(out) > 0 && out[len(out)-1].At == float64(days)) {
			continue
		}
		sum, s, err := summarise(r.Mem, recs, transform.SummaryOptions{CalibrationEnd: calEnd, HoldoutEnd: calEnd.AddDate(0, 0, days), Unit: day})
		if err != nil {
			return nil, err
		}
		total := 0.0
		for _, v := range s.holdout {
			total += v
		}
		sum.Release()
		out = append(out, model.Checkpoint{At: float64(days), Actual: total})
	}
	if len(out) > 0 && out[len(out)-1].At == float64(holdoutDays) {
		out = out[:len(out)-1]
	}
	return append(out, model.Checkpoint{At: float64(holdoutDays), Actual: holdoutTotal}), nil
}

// fitModel refits a purchase model, and the Gamma-Gamma spend model, on the
// whole history before the as-of date.
func fitModel(r Run, all btyd, kind string, metrics *model.Metrics, o config.LTV) (*model.Artefact, error) {
	lastDay := r.AsOf.Add(-day)
	opt := model.FitOptions{Penalty: o.Penalty}
	if len(all.x) == 0 {
		return nil, fmt.Errorf("train: no purchase before %s", r.AsOf.Format(time.DateOnly))
	}
	d, err := model.NewData(all.x, all.tx, all.T)
	if err != nil {
		return nil, err
	}
	pm, fit, err := model.FitPurchases(kind, d, opt)
	if err != nil {
		return nil, fmt.Errorf("train %s: %w", kind, err)
	}
	a, err := model.NewArtefact(pm, fit, "day", lastDay.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	a.Metrics = metrics
	if metrics != nil {
		a.CalibrationEnd, a.HoldoutEnd = lastDay.Format(time.DateOnly), lastDay.Format(time.DateOnly)
	}
	for i := range all.x {
		if all.x[i] > 0 && !(all.money[i] > 0) {
			a.SpendLeftOut++
		}
	}
	if sd, err := model.NewSpendData(all.x, all.money); err == nil {
		gg, gfit, err := model.FitGammaGamma(sd, opt)
		if err != nil {
			return nil, fmt.Errorf("train gamma-gamma: %w", err)
		}
		if d := model.SpendDegenerate(gg, gfit); d != "" {
			a.SpendReason = d
			r.Log.WithField("params", gg).Warn("no spend model: expected order value and CLV are not published: " + d)
			return a, nil
		}
		gfit.StdErr = nil
		a.Spend, a.SpendFit = &gg, &gfit
		if a.SpendLeftOut > 0 {
			r.Log.WithFields(logrus.Fields{"left_out": a.SpendLeftOut, "fitted_on": len(sd.X)}).
				Warn("Gamma-Gamma left out repeat buyers whose mean repeat spend is not positive: their expected order value is the fitted population mean")
		}
	} else {
		a.SpendReason = err.Error()
		r.Log.WithError(err).Warn("no spend model: expected order value and CLV are not published")
	}
	return a, nil
}

// modelRow is the models row of an artefact.
func modelRow(r Run, a *model.Artefact) (warehouse.Model, error) {
	b, err := a.Marshal()
	if err != nil {
		return warehouse.Model{}, err
	}
	m := warehouse.Model{ID: r.ID + "-" + a.Kind, Kind: a.Kind, RunID: r.ID, AsOf: r.AsOf, TrainedAt: time.Now(),
		Customers: uint64(a.Fit.Customers), LogLikelihood: a.Fit.LogLikelihood, Artefact: string(b), Status: "ok"}
	if a.Metrics != nil {
		m.HoldoutMAE, m.HoldoutRMSE, m.Grade = a.Metrics.MAE, a.Metrics.RMSE, a.Metrics.Grade
	}
	if !a.Usable() {
		m.Status, m.Reason = "gated", strings.Join(a.Gate.Reasons, "; ")
		m.Customers = uint64(a.Gate.History.Buyers)
	}
	return m, nil
}

// trainEarlyVIP fits the early potential-VIP model on the buyers whose first
// order started a complete horizon within the cohort window, from their
// first-week features of the date's customer_features, and stores it. A shop
// too young for a cohort gets no model: score then leaves the probability
// empty, and says so.
func trainEarlyVIP(ctx context.Context, r Run, wh modelStore, orders []arrow.Record, o segment.EarlyVIPOptions) (*segment.EarlyVIPModel, string, error) {
	feats, err := wh.ReadPartition(ctx, r.Mem, warehouse.CustomerFeatures.Name, warehouse.CustomerFeatures.Columns(firstWeekColumns...), r.AsOf)
	if err != nil {
		return nil, "", fmt.Errorf("train early VIP: %w (run features for the date first)", err)
	}
	defer feats.Release()
	revenue, err := transform.HorizonRevenue(orders, r.AsOf, o.HorizonDays)
	if err != nil {
		return nil, "", err
	}
	rows := earlyVIPCohort(feats, revenue, r.AsOf, o)
	m, err := segment.FitEarlyVIP(rows, o)
	if err != nil {
		r.Log.WithError(err).Warn("no early potential-VIP model: potential VIPs come from CLV alone")
		// Recorded, so that score and the report say why there is none.
		gated := warehouse.Model{ID: r.ID + "-" + model.KindEarlyVIP, Kind: model.KindEarlyVIP, RunID: r.ID, AsOf: r.AsOf,
			TrainedAt: time.Now(), Customers: uint64(len(rows)), Status: "gated", Reason: err.Error()}
		if err := wh.InsertModel(ctx, gated); err != nil {
			return nil, "", err
		}
		return nil, err.Error(), nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, "", err
	}
	row := warehouse.Model{ID: r.ID + "-" + model.KindEarlyVIP, Kind: model.KindEarlyVIP, RunID: r.ID, AsOf: r.AsOf,
		TrainedAt: time.Now(), Customers: uint64(len(rows)), Artefact: string(b), Status: "ok", Grade: m.Grade}
	if err := wh.InsertModel(ctx, row); err != nil {
		return nil, "", err
	}
	mt := m.Metrics
	r.Log.WithFields(logrus.Fields{"model_id": row.ID, "cohort": len(rows), "trained_on": m.TrainedOn, "tested_on": mt.Rows,
		"auc": round(mt.AUC), "threshold": mt.Threshold, "precision": round(mt.Precision), "recall": round(mt.Recall),
		"precision_top_1pct": round(mt.PrecisionTop1), "precision_top_5pct": round(mt.PrecisionTop5), "base_rate": round(mt.BaseRate),
		"label_revenue": round(m.LabelRevenue)}).Info("early potential-VIP model stored")
	return &m, "", nil
}

// earlyVIPCohort are the buyers whose first order started a complete horizon
// within the cohort window before the date, with their first week (feats:
// firstWeekColumns) and horizon revenue.
func earlyVIPCohort(feats arrow.Record, revenue map[string]float64, asOf time.Time, o segment.EarlyVIPOptions) []segment.EarlyVIPRow {
	asOfDay := int32(asOf.Unix() / 86400)
	newest := asOfDay - int32(o.HorizonDays) // first orders before it have a complete horizon
	ids := canon.ArrayOf[*array.String](feats, "customer_id")
	first := canon.ArrayOf[*array.Date32](feats, "first_order_date")
	week := firstWeeks(feats)
	var rows []segment.EarlyVIPRow
	for i := 0; i < int(feats.NumRows()); i++ {
		d := int32(first.Value(i))
		rev, ok := revenue[ids.Value(i)]
		if !ok || d >= newest || d < newest-int32(o.CohortDays) {
			continue
		}
		rows = append(rows, segment.EarlyVIPRow{FirstDay: d, Week: week(i), HorizonRevenue: rev})
	}
	return rows
}
