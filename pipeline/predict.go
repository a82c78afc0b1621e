package pipeline

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// ltv are one buyer's LTV predictions.
type ltv struct {
	x, tx, T, pAlive, e30, e90, e365, value, clv float64
	next                                         float64
	hasNext                                      bool
}

// predictLTV predicts, with the newest LTV model trained on or before the
// as-of date, every buyer's P(alive), expected purchases, next order and CLV
// from the history before that date.
func predictLTV(r Run, m warehouse.Model, orders []arrow.Record, sh Shard, o ScoreOptions) (map[string]ltv, string, error) {
	a, err := model.LoadArtefact([]byte(m.Artefact))
	if err != nil {
		return nil, "", fmt.Errorf("model %s: %w", m.ID, err)
	}
	pm, err := a.Purchases()
	if err != nil {
		return nil, "", err
	}
	if a.TimeUnit != "day" {
		return nil, "", fmt.Errorf("model %s is in %ss; score works in days", m.ID, a.TimeUnit)
	}
	sum, s, err := summarise(r.Mem, orders, transform.SummaryOptions{CalibrationEnd: r.AsOf.Add(-day), Unit: day})
	if err != nil {
		return nil, "", err
	}
	defer sum.Release()
	if sh.Of > 1 { // only this shard's customers
		var keep []int
		for i := range s.x {
			if sh.owns(s.ids.Value(i)) {
				keep = append(keep, i)
			}
		}
		s = s.subset(keep)
	}
	spend := model.GammaGamma{P: 1, Q: 2, Gamma: 0} // no spend model: values of 0
	if a.Spend != nil {
		spend = *a.Spend
	}
	clv := model.CLVOptions{Months: o.CLVMonths, DiscountMonthly: o.DiscountMonthly, UnitsPerMonth: 365.25 / 12, Margin: 1}
	p30 := model.Predict(pm, spend, s.x, s.tx, s.T, s.money, 30, clv)
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
	out := make(map[string]ltv, len(s.x))
	for i := range s.x {
		l := ltv{x: s.x[i], tx: s.tx[i], T: s.T[i], pAlive: p90.ProbAlive[i], e30: p30.ExpectedPurchases[i], e90: p90.ExpectedPurchases[i],
			e365: p365.ExpectedPurchases[i], value: p90.ExpectedValue[i], clv: p90.CLV[i]}
		if hasNext {
			key := [3]float64{s.x[i], s.tx[i], s.T[i]}
			n, seen := nextCache[key]
			if !seen {
				n.tau, n.ok = next.NextOrder(s.x[i], s.tx[i], s.T[i])
				nextCache[key] = n
			}
			l.next, l.hasNext = n.tau, n.ok // from the end of the last observed day, that is from as_of
		}
		out[strings.Clone(s.id(i))] = l
	}
	return out, m.ID, nil
}
