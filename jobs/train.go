package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

const day = 24 * time.Hour

// btyd are the columns of a transform.Summary record, as model inputs.
type btyd struct {
	ids                      *array.String
	x, tx, T, money, holdout []float64
	subIDs                   []string // the ids after subset
	sub                      bool
}

// id is row i's customer.
func (b btyd) id(i int) string {
	if b.sub {
		return b.subIDs[i]
	}
	return b.ids.Value(i)
}

// subset keeps the rows keep, in that order.
func (b btyd) subset(keep []int) btyd {
	out := btyd{sub: true, subIDs: make([]string, len(keep))}
	pick := func(v []float64) []float64 {
		r := make([]float64, len(keep))
		for k, i := range keep {
			r[k] = v[i]
		}
		return r
	}
	for k, i := range keep {
		out.subIDs[k] = b.id(i)
	}
	out.x, out.tx, out.T, out.money, out.holdout = pick(b.x), pick(b.tx), pick(b.T), pick(b.money), pick(b.holdout)
	return out
}

func summarise(recs []arrow.Record, rc *runContext, opt transform.SummaryOptions) (arrow.Record, btyd, error) {
	sum, err := transform.Summary(rc.mem, recs, opt)
	if err != nil {
		return nil, btyd{}, err
	}
	f := func(i int) []float64 { return sum.Column(i).(*array.Float64).Float64Values() }
	return sum, btyd{ids: sum.Column(0).(*array.String), x: f(1), tx: f(2), T: f(3), money: f(4), holdout: f(6)}, nil
}

// modelStore is where train reads orders and keeps models: ClickHouse, or the
// embedded Parquet folder.
type modelStore interface {
	reader
	InsertModel(ctx context.Context, m warehouse.Model) error
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
}

// train fits the candidate purchase models on the history up to the holdout,
// keeps the one with the smallest holdout error, refits it and the spend model
// on the whole history before the as-of date, and stores the result.
// trained are the models a train run stored; Early is nil when the shop had no
// cohort to learn from.
type trained struct {
	LTV   *model.Artefact
	Early *segment.EarlyVIPModel
}

func train(ctx context.Context, rc *runContext, wh modelStore) (trained, error) {
	cfg := rc.cfg.LTV
	recs, err := wh.Read(ctx, rc.mem, ordersBefore(rc.asOf), rc.cfg.BatchRows)
	if err != nil {
		return trained{}, err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	lastDay := rc.asOf.Add(-day)
	calEnd := lastDay.AddDate(0, 0, -cfg.HoldoutDays)
	opt := model.FitOptions{Penalty: cfg.Penalty}

	var candidates []model.Candidate
	evalSum, ev, err := summarise(recs, rc, transform.SummaryOptions{CalibrationEnd: calEnd, HoldoutEnd: lastDay, Unit: day})
	if err == nil {
		defer evalSum.Release()
	}
	if err == nil && len(ev.x) > 0 {
		d, err := model.NewData(ev.x, ev.tx, ev.T)
		if err != nil {
			return trained{}, err
		}
		for _, kind := range cfg.Models {
			pm, fit, err := model.FitPurchases(kind, d, opt)
			if err != nil {
				rc.log.WithError(err).WithField("model", kind).Warn("candidate not fitted")
				continue
			}
			m, err := model.Evaluate(pm, model.Holdout{X: ev.x, Tx: ev.tx, T: ev.T, Actual: ev.holdout, Duration: float64(cfg.HoldoutDays)})
			if err != nil {
				return trained{}, err
			}
			rc.log.WithFields(logrus.Fields{"model": kind, "holdout_mae": round(m.MAE), "holdout_rmse": round(m.RMSE),
				"predicted": round(m.PredictedTotal), "actual": m.ActualTotal, "customers": m.Customers}).Info("candidate evaluated")
			candidates = append(candidates, model.Candidate{Name: kind, Model: pm, Fit: fit, Metrics: m})
		}
	}
	kind, metrics := cfg.Models[0], (*model.Metrics)(nil)
	if best, err := model.Choose(candidates); err == nil {
		kind, metrics = best.Name, &best.Metrics
	} else {
		rc.log.WithField("model", kind).Warn("no history before the holdout to compare models on: using the first candidate, unevaluated")
	}

	allSum, all, err := summarise(recs, rc, transform.SummaryOptions{CalibrationEnd: lastDay, Unit: day})
	if err != nil {
		return trained{}, err
	}
	defer allSum.Release()
	if len(all.x) == 0 {
		return trained{}, fmt.Errorf("train: no purchase before %s", rc.asOf.Format(time.DateOnly))
	}
	d, err := model.NewData(all.x, all.tx, all.T)
	if err != nil {
		return trained{}, err
	}
	pm, fit, err := model.FitPurchases(kind, d, opt)
	if err != nil {
		return trained{}, fmt.Errorf("train %s: %w", kind, err)
	}
	a, err := model.NewArtefact(pm, fit, "day", lastDay.Format(time.DateOnly))
	if err != nil {
		return trained{}, err
	}
	a.Metrics = metrics
	if metrics != nil {
		a.CalibrationEnd, a.HoldoutEnd = lastDay.Format(time.DateOnly), lastDay.Format(time.DateOnly)
	}
	if sd, err := model.NewSpendData(all.x, all.money); err == nil {
		gg, gfit, err := model.FitGammaGamma(sd, opt)
		if err != nil {
			return trained{}, fmt.Errorf("train gamma-gamma: %w", err)
		}
		gfit.StdErr = nil
		a.Spend, a.SpendFit = &gg, &gfit
	} else {
		rc.log.WithError(err).Warn("no spend model: CLV will be 0")
	}
	b, err := a.Marshal()
	if err != nil {
		return trained{}, err
	}
	m := warehouse.Model{ID: rc.runID + "-" + a.Kind, Kind: a.Kind, RunID: rc.runID, AsOf: rc.asOf, TrainedAt: time.Now(),
		Customers: uint64(fit.Customers), LogLikelihood: fit.LogLikelihood, Artefact: string(b)}
	if metrics != nil {
		m.HoldoutMAE, m.HoldoutRMSE = metrics.MAE, metrics.RMSE
	}
	if err := wh.InsertModel(ctx, m); err != nil {
		return trained{}, err
	}
	rc.log.WithFields(logrus.Fields{"model": a.Kind, "model_id": m.ID, "params": a.Params, "log_likelihood": round(fit.LogLikelihood),
		"customers": fit.Customers}).Info("model stored")
	early, err := trainEarlyVIP(ctx, rc, wh, recs)
	if err != nil {
		return trained{}, err
	}
	return trained{LTV: a, Early: early}, nil
}

// firstWeekSchema are the customer_features columns of the early-VIP model.
var firstWeekSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "first_order_date", Type: arrow.FixedWidthTypes.Date32},
	{Name: "first_week_orders", Type: arrow.PrimitiveTypes.Int32},
	{Name: "first_week_revenue", Type: arrow.PrimitiveTypes.Float64},
	{Name: "first_week_items", Type: arrow.PrimitiveTypes.Int32},
	{Name: "first_week_discount_share", Type: arrow.PrimitiveTypes.Float64},
	{Name: "first_week_rating_mean", Type: arrow.PrimitiveTypes.Float64},
	{Name: "first_week_events", Type: arrow.PrimitiveTypes.Int32},
	{Name: "first_week_categories", Type: arrow.PrimitiveTypes.Int32},
}, nil)

func firstWeek(rec arrow.Record, i int) segment.FirstWeek {
	i32 := func(c int) float64 { return float64(rec.Column(c).(*array.Int32).Value(i)) }
	f64 := func(c int) float64 { return rec.Column(c).(*array.Float64).Value(i) }
	return segment.FirstWeek{Orders: i32(2), Revenue: f64(3), Items: i32(4), DiscountShare: f64(5), RatingMean: f64(6), Events: i32(7), Categories: i32(8)}
}

// trainEarlyVIP fits the early potential-VIP model on the buyers whose first
// order started a complete horizon within the cohort window, from their
// first-week features of the date's customer_features, and stores it. A shop
// too young for a cohort gets no model: score then leaves the probability
// empty, and says so.
func trainEarlyVIP(ctx context.Context, rc *runContext, wh modelStore, orders []arrow.Record) (*segment.EarlyVIPModel, error) {
	o := rc.cfg.Segmentation.EarlyVIP
	feats, err := wh.ReadPartition(ctx, rc.mem, "customer_features", firstWeekSchema, rc.asOf)
	if err != nil {
		return nil, fmt.Errorf("train early VIP: %w (run features for the date first)", err)
	}
	defer feats.Release()
	revenue, err := transform.HorizonRevenue(orders, rc.asOf, o.HorizonDays)
	if err != nil {
		return nil, err
	}
	asOfDay := int32(rc.asOf.Unix() / 86400)
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
		rc.log.WithError(err).Warn("no early potential-VIP model: potential VIPs come from CLV alone")
		return nil, nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	row := warehouse.Model{ID: rc.runID + "-" + model.KindEarlyVIP, Kind: model.KindEarlyVIP, RunID: rc.runID, AsOf: rc.asOf,
		TrainedAt: time.Now(), Customers: uint64(len(rows)), Artefact: string(b)}
	if err := wh.InsertModel(ctx, row); err != nil {
		return nil, err
	}
	mt := m.Metrics
	rc.log.WithFields(logrus.Fields{"model_id": row.ID, "cohort": len(rows), "trained_on": m.TrainedOn, "tested_on": mt.Rows,
		"auc": round(mt.AUC), "threshold": mt.Threshold, "precision": round(mt.Precision), "recall": round(mt.Recall),
		"precision_top_1pct": round(mt.PrecisionTop1), "precision_top_5pct": round(mt.PrecisionTop5), "base_rate": round(mt.BaseRate),
		"label_revenue": round(m.LabelRevenue)}).Info("early potential-VIP model stored")
	return &m, nil
}
