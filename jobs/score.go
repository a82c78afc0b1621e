package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// scoreStore is where score reads orders and models and publishes scores.
type scoreStore interface {
	reader
	LatestModel(ctx context.Context, asOf time.Time, kinds ...string) (warehouse.Model, error)
	ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
}

// scoresSchema is customer_scores without as_of and run_id, which publishing adds.
var scoresSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "model_id", Type: arrow.BinaryTypes.String},
	{Name: "frequency", Type: arrow.PrimitiveTypes.Float64},
	{Name: "recency_days", Type: arrow.PrimitiveTypes.Float64},
	{Name: "age_days", Type: arrow.PrimitiveTypes.Float64},
	{Name: "p_alive", Type: arrow.PrimitiveTypes.Float64},
	{Name: "expected_purchases_90d", Type: arrow.PrimitiveTypes.Float64},
	{Name: "expected_purchases_365d", Type: arrow.PrimitiveTypes.Float64},
	{Name: "next_order_in_days", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "expected_order_value", Type: arrow.PrimitiveTypes.Float64},
	{Name: "clv_12m", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// ScoreSummary sums up the scores of one run.
type ScoreSummary struct {
	Customers     int
	MeanPAlive    float64
	Expected365   float64
	CLV12         float64
	WithNextOrder int
	ModelID       string
}

// score predicts, with the newest model trained on or before the as-of date,
// every buyer's P(alive), expected purchases, next order and CLV from the
// history before that date, and publishes them as the date's partition of
// customer_scores.
func score(ctx context.Context, rc *runContext, wh scoreStore) (ScoreSummary, error) {
	m, err := wh.LatestModel(ctx, rc.asOf, model.KindBGNBD, model.KindMBGNBD, model.KindParetoNBD)
	if err != nil {
		return ScoreSummary{}, err
	}
	a, err := model.LoadArtefact([]byte(m.Artefact))
	if err != nil {
		return ScoreSummary{}, fmt.Errorf("model %s: %w", m.ID, err)
	}
	pm, err := a.Purchases()
	if err != nil {
		return ScoreSummary{}, err
	}
	if a.TimeUnit != "day" {
		return ScoreSummary{}, fmt.Errorf("model %s is in %ss; score works in days", m.ID, a.TimeUnit)
	}
	recs, err := wh.Read(ctx, rc.mem, ordersBefore(rc.asOf), rc.cfg.BatchRows)
	if err != nil {
		return ScoreSummary{}, err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	sum, s, err := summarise(recs, rc, transform.SummaryOptions{CalibrationEnd: rc.asOf.Add(-day), Unit: day})
	if err != nil {
		return ScoreSummary{}, err
	}
	defer sum.Release()
	spend := model.GammaGamma{P: 1, Q: 2, Gamma: 0} // no spend model: values of 0
	if a.Spend != nil {
		spend = *a.Spend
	}
	clv := model.CLVOptions{Months: rc.cfg.LTV.CLVMonths, DiscountMonthly: rc.cfg.LTV.DiscountMonthly, UnitsPerMonth: 365.25 / 12, Margin: 1}
	p90 := model.Predict(pm, spend, s.x, s.tx, s.T, s.money, 90, clv)
	p365 := model.Predict(pm, spend, s.x, s.tx, s.T, s.money, 365, clv)
	next, hasNext := pm.(interface {
		NextOrder(x, tx, T float64) (float64, bool)
	})
	type nextOrder struct {
		tau float64
		ok  bool
	}
	nextCache := map[[3]float64]nextOrder{} // customers with the same history share it
	b := array.NewRecordBuilder(rc.mem, scoresSchema)
	defer b.Release()
	b.Reserve(len(s.x))
	f64 := func(i int) *array.Float64Builder { return b.Field(i).(*array.Float64Builder) }
	out := ScoreSummary{Customers: len(s.x), ModelID: m.ID}
	for i := range s.x {
		b.Field(0).(*array.StringBuilder).Append(s.ids.Value(i))
		b.Field(1).(*array.StringBuilder).Append(m.ID)
		for k, v := range []float64{s.x[i], s.tx[i], s.T[i], p90.ProbAlive[i], p90.ExpectedPurchases[i], p365.ExpectedPurchases[i]} {
			f64(2 + k).Append(v)
		}
		next8 := f64(8)
		if hasNext {
			key := [3]float64{s.x[i], s.tx[i], s.T[i]}
			n, seen := nextCache[key]
			if !seen {
				n.tau, n.ok = next.NextOrder(s.x[i], s.tx[i], s.T[i])
				nextCache[key] = n
			}
			if n.ok {
				next8.Append(n.tau) // from the end of the last observed day, that is from as_of
				out.WithNextOrder++
			} else {
				next8.AppendNull()
			}
		} else {
			next8.AppendNull()
		}
		f64(9).Append(p90.ExpectedValue[i])
		f64(10).Append(p90.CLV[i])
		out.MeanPAlive += p90.ProbAlive[i] / float64(len(s.x))
		out.Expected365 += p365.ExpectedPurchases[i]
		out.CLV12 += p90.CLV[i]
	}
	rec := b.NewRecord()
	defer rec.Release()
	start := time.Now()
	if err := wh.ReplacePartition(ctx, "customer_scores", rc.asOf, rc.runID, rec); err != nil {
		return ScoreSummary{}, err
	}
	rc.log.WithFields(logrus.Fields{"model_id": m.ID, "rows_landed": rec.NumRows(), "seconds": round(time.Since(start).Seconds())}).Info("scores published")
	return out, nil
}
