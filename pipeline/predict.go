package pipeline

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// ltv are one buyer's LTV predictions; a prediction not made is NaN, and
// note says why.
type ltv struct {
	x, tx, T, pAlive, e30, e90, e365, value, clv float64
	next                                         float64
	hasNext                                      bool
	note                                         string
}

// Notes of predictions not made.
const (
	noteBGNBDOneOff = "no repeat purchase: BG/NBD holds such a buyer alive by construction, so no P(alive) is published; lifecycle follows recency"
	noteNoSpend     = "no spend model (no repeat buyer with a positive spend): no order value or CLV"
)

// predictLTV predicts, with the newest LTV model trained on or before the
// as-of date, every buyer's P(alive), expected purchases, next order and CLV
// from the history before that date. A model that failed its gate predicts
// nothing: every prediction is NaN with the gate's reasons as the note.
func predictLTV(r Run, m warehouse.Model, orders []arrow.Record, o ScoreOptions) (map[string]ltv, *model.Artefact, error) {
	a, err := model.LoadArtefact([]byte(m.Artefact))
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", m.ID, err)
	}
	if a.TimeUnit != "day" {
		return nil, nil, fmt.Errorf("model %s is in %ss; score works in days", m.ID, a.TimeUnit)
	}
	sum, s, err := summarise(r.Mem, orders, transform.SummaryOptions{CalibrationEnd: r.AsOf.Add(-day), Unit: day})
	if err != nil {
		return nil, nil, err
	}
	defer sum.Release()
	out := make(map[string]ltv, len(s.x))
	notes := [2]string{predictionNote(a, 0), predictionNote(a, 1)} // without and with a repeat purchase: the same for every buyer
	noteOf := func(x float64) string { return notes[min(1, int(x))] }
	if !a.Usable() {
		nan := math.NaN()
		for i := range s.x {
			out[strings.Clone(s.id(i))] = ltv{x: s.x[i], tx: s.tx[i], T: s.T[i], pAlive: nan, e30: nan, e90: nan, e365: nan, value: nan, clv: nan,
				note: noteOf(s.x[i])}
		}
		return out, a, nil
	}
	pm, err := a.Purchases()
	if err != nil {
		return nil, nil, err
	}
	spend := model.GammaGamma{P: 1, Q: 2, Gamma: 0} // no spend model: values not published
	if a.Spend != nil {
		spend = *a.Spend
	}
	clv := model.CLVOptions{Months: o.CLVMonths, DiscountMonthly: o.DiscountMonthly, UnitsPerMonth: 365.25 / 12, Margin: 1}
	ps := model.PredictHorizons(pm, spend, s.x, s.tx, s.T, s.money, []float64{30, 90, 365}, clv)
	p30, p90, p365 := ps[0], ps[1], ps[2]
	next, hasNext := pm.(interface {
		NextOrder(x, tx, T float64) (float64, bool)
	})
	type nextOrder struct {
		tau float64
		ok  bool
	}
	nextCache := map[[3]float64]nextOrder{} // customers with the same history share it
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
		if a.Kind == model.KindBGNBD && s.x[i] == 0 {
			l.pAlive, l.hasNext = math.NaN(), false
		}
		if a.Spend == nil {
			l.value, l.clv = math.NaN(), math.NaN()
		}
		l.note = noteOf(s.x[i])
		out[strings.Clone(s.id(i))] = l
	}
	return out, a, nil
}

// predictionNote says why a buyer with x repeat purchases misses predictions
// under the model; "" when nothing is missing.
func predictionNote(a *model.Artefact, x float64) string {
	if !a.Usable() {
		return "no purchase model passed its gate: " + strings.Join(a.Gate.Reasons, "; ")
	}
	var notes []string
	if a.Kind == model.KindBGNBD && x == 0 {
		notes = append(notes, noteBGNBDOneOff)
	}
	if a.Spend == nil && a.SpendReason != "" {
		notes = append(notes, "no spend model ("+a.SpendReason+"): no order value or CLV")
	} else if a.Spend == nil {
		notes = append(notes, noteNoSpend)
	}
	return strings.Join(notes, "; ")
}
