package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// modelStore is where train reads orders and keeps models.
type modelStore interface {
	reader
	InsertModel(ctx context.Context, m warehouse.Model) error
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
}

// Trained are the models a train run stored; Early is nil when the shop had
// no cohort to learn from.
type Trained struct {
	LTV   *model.Artefact
	Early *segment.EarlyVIPModel
}

// Train fits the candidate purchase models on the history up to the holdout,
// keeps the one with the smallest holdout error, refits it and the spend model
// on the whole history before the as-of date, and stores the result; then the
// early potential-VIP model.
func Train(ctx context.Context, r Run, wh modelStore, o TrainOptions) (Trained, error) {
	recs, err := wh.Read(ctx, r.Mem, ordersBefore(r.AsOf), o.BatchRows)
	if err != nil {
		return Trained{}, err
	}
	defer release(recs)
	kind, metrics, err := chooseModel(r, recs, o.LTV)
	if err != nil {
		return Trained{}, err
	}
	a, m, err := fitModel(r, recs, kind, metrics, o.LTV)
	if err != nil {
		return Trained{}, err
	}
	if err := wh.InsertModel(ctx, m); err != nil {
		return Trained{}, err
	}
	r.Log.WithFields(logrus.Fields{"model": a.Kind, "model_id": m.ID, "params": a.Params, "log_likelihood": round(a.Fit.LogLikelihood),
		"customers": a.Fit.Customers}).Info("model stored")
	early, err := trainEarlyVIP(ctx, r, wh, recs, o.EarlyVIP)
	if err != nil {
		return Trained{}, err
	}
	return Trained{LTV: a, Early: early}, nil
}

// chooseModel fits each candidate on the history up to the holdout and
// returns the one with the smallest holdout error, with its metrics; without
// history before the holdout, the first candidate, unevaluated.
func chooseModel(r Run, recs []arrow.Record, o config.LTV) (string, *model.Metrics, error) {
	lastDay := r.AsOf.Add(-day)
	calEnd := lastDay.AddDate(0, 0, -o.HoldoutDays)
	opt := model.FitOptions{Penalty: o.Penalty}
	var candidates []model.Candidate
	evalSum, ev, err := summarise(r.Mem, recs, transform.SummaryOptions{CalibrationEnd: calEnd, HoldoutEnd: lastDay, Unit: day})
	if err == nil {
		defer evalSum.Release()
	}
	if err == nil && len(ev.x) > 0 {
		d, err := model.NewData(ev.x, ev.tx, ev.T)
		if err != nil {
			return "", nil, err
		}
		for _, kind := range o.Models {
			pm, fit, err := model.FitPurchases(kind, d, opt)
			if err != nil {
				r.Log.WithError(err).WithField("model", kind).Warn("candidate not fitted")
				continue
			}
			m, err := model.Evaluate(pm, model.Holdout{X: ev.x, Tx: ev.tx, T: ev.T, Actual: ev.holdout, Duration: float64(o.HoldoutDays)})
			if err != nil {
				return "", nil, err
			}
			r.Log.WithFields(logrus.Fields{"model": kind, "holdout_mae": round(m.MAE), "holdout_rmse": round(m.RMSE),
				"predicted": round(m.PredictedTotal), "actual": m.ActualTotal, "customers": m.Customers}).Info("candidate evaluated")
			candidates = append(candidates, model.Candidate{Name: kind, Model: pm, Fit: fit, Metrics: m})
		}
	}
	best, err := model.Choose(candidates)
	if err != nil {
		r.Log.WithField("model", o.Models[0]).Warn("no history before the holdout to compare models on: using the first candidate, unevaluated")
		return o.Models[0], nil, nil
	}
	return best.Name, &best.Metrics, nil
}

// fitModel refits the chosen purchase model, and the Gamma-Gamma spend model,
// on the whole history before the as-of date.
func fitModel(r Run, recs []arrow.Record, kind string, metrics *model.Metrics, o config.LTV) (*model.Artefact, warehouse.Model, error) {
	lastDay := r.AsOf.Add(-day)
	opt := model.FitOptions{Penalty: o.Penalty}
	allSum, all, err := summarise(r.Mem, recs, transform.SummaryOptions{CalibrationEnd: lastDay, Unit: day})
	if err != nil {
		return nil, warehouse.Model{}, err
	}
	defer allSum.Release()
	if len(all.x) == 0 {
		return nil, warehouse.Model{}, fmt.Errorf("train: no purchase before %s", r.AsOf.Format(time.DateOnly))
	}
	d, err := model.NewData(all.x, all.tx, all.T)
	if err != nil {
		return nil, warehouse.Model{}, err
	}
	pm, fit, err := model.FitPurchases(kind, d, opt)
	if err != nil {
		return nil, warehouse.Model{}, fmt.Errorf("train %s: %w", kind, err)
	}
	a, err := model.NewArtefact(pm, fit, "day", lastDay.Format(time.DateOnly))
	if err != nil {
		return nil, warehouse.Model{}, err
	}
	a.Metrics = metrics
	if metrics != nil {
		a.CalibrationEnd, a.HoldoutEnd = lastDay.Format(time.DateOnly), lastDay.Format(time.DateOnly)
	}
	if sd, err := model.NewSpendData(all.x, all.money); err == nil {
		gg, gfit, err := model.FitGammaGamma(sd, opt)
		if err != nil {
			return nil, warehouse.Model{}, fmt.Errorf("train gamma-gamma: %w", err)
		}
		gfit.StdErr = nil
		a.Spend, a.SpendFit = &gg, &gfit
	} else {
		r.Log.WithError(err).Warn("no spend model: CLV will be 0")
	}
	b, err := a.Marshal()
	if err != nil {
		return nil, warehouse.Model{}, err
	}
	m := warehouse.Model{ID: r.ID + "-" + a.Kind, Kind: a.Kind, RunID: r.ID, AsOf: r.AsOf, TrainedAt: time.Now(),
		Customers: uint64(fit.Customers), LogLikelihood: fit.LogLikelihood, Artefact: string(b)}
	if metrics != nil {
		m.HoldoutMAE, m.HoldoutRMSE = metrics.MAE, metrics.RMSE
	}
	return a, m, nil
}

// trainEarlyVIP fits the early potential-VIP model on the buyers whose first
// order started a complete horizon within the cohort window, from their
// first-week features of the date's customer_features, and stores it. A shop
// too young for a cohort gets no model: score then leaves the probability
// empty, and says so.
func trainEarlyVIP(ctx context.Context, r Run, wh modelStore, orders []arrow.Record, o segment.EarlyVIPOptions) (*segment.EarlyVIPModel, error) {
	feats, err := wh.ReadPartition(ctx, r.Mem, warehouse.CustomerFeatures.Name, warehouse.CustomerFeatures.Columns(firstWeekColumns...), r.AsOf)
	if err != nil {
		return nil, fmt.Errorf("train early VIP: %w (run features for the date first)", err)
	}
	defer feats.Release()
	revenue, err := transform.HorizonRevenue(orders, r.AsOf, o.HorizonDays)
	if err != nil {
		return nil, err
	}
	asOfDay := int32(r.AsOf.Unix() / 86400)
	newest := asOfDay - int32(o.HorizonDays) // first orders before it have a complete horizon
	ids := feats.Column(0).(*array.String)
	first := feats.Column(1).(*array.Date32)
	var rows []segment.EarlyVIPRow
	for i := 0; i < int(feats.NumRows()); i++ {
		d := int32(first.Value(i))
		rev, ok := revenue[ids.Value(i)]
		if !ok || d >= newest || d < newest-int32(o.CohortDays) {
			continue
		}
		rows = append(rows, segment.EarlyVIPRow{FirstDay: d, Week: firstWeek(feats, i), HorizonRevenue: rev})
	}
	m, err := segment.FitEarlyVIP(rows, o)
	if err != nil {
		r.Log.WithError(err).Warn("no early potential-VIP model: potential VIPs come from CLV alone")
		return nil, nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	row := warehouse.Model{ID: r.ID + "-" + model.KindEarlyVIP, Kind: model.KindEarlyVIP, RunID: r.ID, AsOf: r.AsOf,
		TrainedAt: time.Now(), Customers: uint64(len(rows)), Artefact: string(b)}
	if err := wh.InsertModel(ctx, row); err != nil {
		return nil, err
	}
	mt := m.Metrics
	r.Log.WithFields(logrus.Fields{"model_id": row.ID, "cohort": len(rows), "trained_on": m.TrainedOn, "tested_on": mt.Rows,
		"auc": round(mt.AUC), "threshold": mt.Threshold, "precision": round(mt.Precision), "recall": round(mt.Recall),
		"precision_top_1pct": round(mt.PrecisionTop1), "precision_top_5pct": round(mt.PrecisionTop5), "base_rate": round(mt.BaseRate),
		"label_revenue": round(m.LabelRevenue)}).Info("early potential-VIP model stored")
	return &m, nil
}
