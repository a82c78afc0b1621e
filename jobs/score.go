package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// scoreStore is where score reads orders and models and publishes scores.
type scoreStore interface {
	reader
	LatestModel(ctx context.Context, asOf time.Time) (warehouse.Model, error)
	ReplaceScores(ctx context.Context, asOf time.Time, modelID, runID string, scores []warehouse.Score) error
}

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
	m, err := wh.LatestModel(ctx, rc.asOf)
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
	scores := make([]warehouse.Score, len(s.x))
	for i := range scores {
		sc := warehouse.Score{CustomerID: s.ids.Value(i), Frequency: s.x[i], Recency: s.tx[i], Age: s.T[i],
			PAlive: p90.ProbAlive[i], E90: p90.ExpectedPurchases[i], E365: p365.ExpectedPurchases[i],
			ExpectedValue: p90.ExpectedValue[i], CLV12: p90.CLV[i]}
		if hasNext {
			key := [3]float64{s.x[i], s.tx[i], s.T[i]}
			n, seen := nextCache[key]
			if !seen {
				n.tau, n.ok = next.NextOrder(s.x[i], s.tx[i], s.T[i])
				nextCache[key] = n
			}
			if n.ok {
				v := n.tau // from the end of the last observed day, that is from as_of
				sc.NextOrderIn = &v
			}
		}
		scores[i] = sc
	}
	start := time.Now()
	if err := wh.ReplaceScores(ctx, rc.asOf, m.ID, rc.runID, scores); err != nil {
		return ScoreSummary{}, err
	}
	rc.log.WithFields(logrus.Fields{"model_id": m.ID, "rows_landed": len(scores), "seconds": round(time.Since(start).Seconds())}).Info("scores published")
	out := ScoreSummary{Customers: len(scores), ModelID: m.ID}
	for _, sc := range scores {
		out.MeanPAlive += sc.PAlive / float64(len(scores))
		out.Expected365 += sc.E365
		out.CLV12 += sc.CLV12
		if sc.NextOrderIn != nil {
			out.WithNextOrder++
		}
	}
	return out, nil
}
