package model

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Quality is what a holdout says of a purchase model beyond its per-customer
// error: three baselines, the error of the total and of the tracking curve,
// whether its probabilities of buying again are calibrated, and a grade.
type Quality struct {
	// NaiveMAE is the per-customer MAE of carrying each customer's
	// calibration rate forward (x / T purchases per unit of time).
	NaiveMAE float64 `json:"naive_mae"`
	// ZeroRMSE, NaiveRMSE and RateRMSE are the per-customer root mean
	// squared errors of three rules of thumb: no purchase for anyone; each
	// customer's calibration rate carried forward; the base's calibration
	// rate (Σx / ΣT) for everyone. Baseline names the smallest and
	// BaselineRMSE is it: a model is graded against it.
	ZeroRMSE     float64 `json:"zero_rmse"`
	NaiveRMSE    float64 `json:"naive_rmse"`
	RateRMSE     float64 `json:"rate_rmse"`
	Baseline     string  `json:"baseline"`
	BaselineRMSE float64 `json:"baseline_rmse"`
	// AggregateError is (predicted − actual) / actual holdout purchases of
	// the base; 0 when nobody bought in the holdout (then it grades nothing).
	AggregateError float64 `json:"aggregate_error"`
	// CurveError is the largest gap between the predicted and actual
	// cumulative purchases at the holdout's checkpoints, over the actual total.
	CurveError float64 `json:"curve_error"`
	// Calibration compares, by decile of the predicted probability of buying
	// in the holdout, that probability with the share that did.
	Calibration []CalibrationBin `json:"calibration,omitempty"`
	// CalibrationError is the customer-weighted mean gap of those deciles.
	CalibrationError float64 `json:"calibration_error"`
	Grade            string  `json:"grade"`
}

// CalibrationBin is one decile of customers by predicted probability.
type CalibrationBin struct {
	Customers int     `json:"customers"`
	Predicted float64 `json:"predicted"`
	Observed  float64 `json:"observed"`
}

// buyAgain is implemented by the purchase models: the probability of exactly
// n purchases in the next t.
type buyAgain interface {
	ProbPurchases(n int, t, x, tx, T float64) float64
}

func quality(pm Purchases, h Holdout, m Metrics) Quality {
	var q Quality
	var sumX, sumT float64
	for i := range h.X {
		sumX += h.X[i]
		sumT += h.T[i]
	}
	rate := 0.0
	if sumT > 0 {
		rate = sumX / sumT * h.Duration
	}
	sq := func(v float64) float64 { return v * v }
	for i := range h.X {
		naive := 0.0
		if h.T[i] > 0 {
			naive = h.X[i] / h.T[i] * h.Duration
		}
		q.NaiveMAE += math.Abs(naive - h.Actual[i])
		q.ZeroRMSE += sq(h.Actual[i])
		q.NaiveRMSE += sq(naive - h.Actual[i])
		q.RateRMSE += sq(rate - h.Actual[i])
	}
	n := float64(len(h.X))
	q.NaiveMAE /= n
	q.ZeroRMSE, q.NaiveRMSE, q.RateRMSE = math.Sqrt(q.ZeroRMSE/n), math.Sqrt(q.NaiveRMSE/n), math.Sqrt(q.RateRMSE/n)
	q.Baseline, q.BaselineRMSE = "zero", q.ZeroRMSE
	if q.NaiveRMSE < q.BaselineRMSE {
		q.Baseline, q.BaselineRMSE = "naive", q.NaiveRMSE
	}
	if q.RateRMSE < q.BaselineRMSE {
		q.Baseline, q.BaselineRMSE = "rate", q.RateRMSE
	}
	if m.ActualTotal > 0 {
		q.AggregateError = (m.PredictedTotal - m.ActualTotal) / m.ActualTotal
	}
	if ba, ok := pm.(buyAgain); ok {
		q.Calibration, q.CalibrationError = calibration(ba, h)
	}
	return q
}

// calibration bins the customers by decile of P(at least one purchase in the
// holdout) and compares each bin's mean with the share that bought.
func calibration(ba buyAgain, h Holdout) ([]CalibrationBin, float64) {
	n := len(h.X)
	p := make([]float64, n)
	cache := map[[3]float64]float64{}
	for i := range p {
		key := [3]float64{h.X[i], h.Tx[i], h.T[i]}
		v, ok := cache[key]
		if !ok {
			v = 1 - ba.ProbPurchases(0, h.Duration, h.X[i], h.Tx[i], h.T[i])
			cache[key] = v
		}
		p[i] = v
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	var bins []CalibrationBin
	gap := 0.0
	for d := 0; d < 10; d++ {
		lo, hi := d*n/10, (d+1)*n/10
		if hi <= lo {
			continue
		}
		var b CalibrationBin
		for _, i := range idx[lo:hi] {
			b.Customers++
			b.Predicted += p[i]
			if h.Actual[i] > 0 {
				b.Observed++
			}
		}
		b.Predicted /= float64(b.Customers)
		b.Observed /= float64(b.Customers)
		gap += float64(b.Customers) * math.Abs(b.Predicted-b.Observed)
		bins = append(bins, b)
	}
	return bins, gap / float64(n)
}

// Grades, best first. The rules (README, "Model quality"), against the best
// of three rules of thumb (no purchase for anyone; each customer's own rate;
// the base's rate for everyone), per customer by the root mean squared
// error. Squared error because the models predict each customer's expected
// purchases, which is what minimises it; the absolute error is minimised by
// the median, which is 0 for most customers of most shops over a holdout, so
// by MAE "nobody buys" beats even the true expectations (TestGradeBaselines).
//
//	A  RMSE at most 0.9 × the best baseline's, and the aggregate and
//	   tracking-curve errors within 10%
//	B  RMSE below the best baseline's, aggregate and curve errors within 20%
//	C  RMSE below the best baseline's
//	D  none of these: the model adds nothing a rule of thumb would not
//
// A model that only gets the total right earns no grade: the base's rate
// gets it right too.
const (
	GradeA = "A"
	GradeB = "B"
	GradeC = "C"
	GradeD = "D"
)

func (m Metrics) grade() string {
	agg := math.Abs(m.AggregateError)
	if m.ActualTotal == 0 {
		agg = math.Inf(1)
	}
	base := m.BaselineRMSE
	switch {
	case m.RMSE <= 0.9*base && agg <= 0.1 && m.CurveError <= 0.1:
		return GradeA
	case m.RMSE < base && agg <= 0.2 && m.CurveError <= 0.2:
		return GradeB
	case m.RMSE < base:
		return GradeC
	}
	return GradeD
}

// GradeBelow reports whether grade g is worse than min ("" for min: no
// floor). An ungraded model (g == "") is below any floor.
func GradeBelow(g, min string) bool {
	if min == "" {
		return false
	}
	return g == "" || g > min
}

// Score is the choice criterion, smaller is better: the per-customer MAE
// relative to the naive baseline's, plus the absolute aggregate error, plus
// the tracking-curve error. A model that wins customer by customer but
// misses the base's total (or drifts through the holdout) loses to one that
// is nearly as good per customer and right in total.
func (m Metrics) Score() float64 {
	rel := m.MAE
	if m.NaiveMAE > 0 {
		rel = m.MAE / m.NaiveMAE
	}
	return rel + math.Abs(m.AggregateError) + m.CurveError
}

// Candidate is a purchase model fitted on a calibration period, with its
// holdout metrics.
type Candidate struct {
	Name    string
	Model   Purchases
	Fit     Fit
	Metrics Metrics
}

// Choose returns the candidate with the smallest Score (then MAE), among
// those evaluated on a holdout.
func Choose(cs []Candidate) (Candidate, error) {
	best := -1
	for i, c := range cs {
		if math.IsNaN(c.Metrics.MAE) || c.Metrics.Customers == 0 {
			continue
		}
		s, b := c.Metrics.Score(), 0.0
		if best >= 0 {
			b = cs[best].Metrics.Score()
		}
		if best < 0 || s < b || (s == b && c.Metrics.MAE < cs[best].Metrics.MAE) {
			best = i
		}
	}
	if best < 0 {
		return Candidate{}, fmt.Errorf("choose: no candidate was evaluated on a holdout")
	}
	return cs[best], nil
}
