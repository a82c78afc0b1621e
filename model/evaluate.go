package model

import (
	"fmt"
	"math"
)

// Holdout is a calibration summary with what happened next: Actual repeat
// purchases in a holdout period of Duration time units after T.
type Holdout struct {
	X, Tx, T, Actual []float64
	Duration         float64
	// Checkpoints, if any, are the base's cumulative purchases at times within
	// the holdout (the last may be Duration): the tracking curve.
	Checkpoints []Checkpoint
}

// Checkpoint is what the whole calibration base bought from the end of the
// calibration period to At (model units after it).
type Checkpoint struct {
	At, Actual float64
}

// Bucket is the calibration/holdout check for customers with the same number of
// calibration repeat purchases (the last bucket holds everyone from its X up).
type Bucket struct {
	Frequency string  `json:"frequency"`
	Customers int     `json:"customers"`
	Predicted float64 `json:"predicted_mean"`
	Actual    float64 `json:"actual_mean"`
	MAE       float64 `json:"mae"`
}

// Metrics are a purchase model's errors on a holdout period.
type Metrics struct {
	Customers      int      `json:"customers"`
	MAE            float64  `json:"mae"`
	RMSE           float64  `json:"rmse"`
	PredictedTotal float64  `json:"predicted_total"`
	ActualTotal    float64  `json:"actual_total"`
	Buckets        []Bucket `json:"buckets"`
	// Curve is the cumulative repeat purchases of the whole base over time.
	Curve []CurvePoint `json:"curve,omitempty"`
	Quality
}

// CurvePoint is one point of the cumulative repeat-purchase curve: time since
// the start of the data, in model units.
type CurvePoint struct {
	At        float64 `json:"at"`
	Predicted float64 `json:"predicted"`
	Actual    float64 `json:"actual"`
}

// maxBucket: customers with this many calibration repeat purchases or more
// share the last bucket.
const maxBucket = 7

// Evaluate predicts each customer's holdout purchases from the calibration
// summary and compares them with what happened.
func Evaluate(pm Purchases, h Holdout) (Metrics, error) {
	n := len(h.X)
	if len(h.Tx) != n || len(h.T) != n || len(h.Actual) != n {
		return Metrics{}, fmt.Errorf("evaluate: columns of different lengths")
	}
	if n == 0 || !(h.Duration > 0) {
		return Metrics{}, fmt.Errorf("evaluate: need customers and a positive holdout duration")
	}
	var m Metrics
	m.Customers = n
	type acc struct{ n, pred, act, abs float64 }
	buckets := make([]acc, maxBucket+1)
	cache := map[[3]float64]float64{}
	sq := 0.0
	for i := range h.X {
		key := [3]float64{h.X[i], h.Tx[i], h.T[i]}
		p, ok := cache[key]
		if !ok {
			p = pm.ExpectedPurchases(h.Duration, h.X[i], h.Tx[i], h.T[i])
			cache[key] = p
		}
		e := p - h.Actual[i]
		m.MAE += math.Abs(e)
		sq += e * e
		m.PredictedTotal += p
		m.ActualTotal += h.Actual[i]
		b := &buckets[min(int(h.X[i]), maxBucket)]
		b.n++
		b.pred += p
		b.act += h.Actual[i]
		b.abs += math.Abs(e)
	}
	m.MAE /= float64(n)
	m.RMSE = math.Sqrt(sq / float64(n))
	for k, b := range buckets {
		if b.n == 0 {
			continue
		}
		label := fmt.Sprint(k)
		if k == maxBucket {
			label += "+"
		}
		m.Buckets = append(m.Buckets, Bucket{Frequency: label, Customers: int(b.n), Predicted: b.pred / b.n, Actual: b.act / b.n, MAE: b.abs / b.n})
	}
	m.Quality = quality(pm, h, m)
	m.Curve = trackingCurve(pm, h, m.PredictedTotal)
	if len(m.Curve) > 0 && m.ActualTotal > 0 {
		for _, p := range m.Curve {
			m.CurveError = math.Max(m.CurveError, math.Abs(p.Predicted-p.Actual)/m.ActualTotal)
		}
	}
	m.Grade = m.grade()
	return m, nil
}

// trackingCurve is the predicted and actual cumulative purchases of the base
// at each checkpoint of the holdout; at its end, the total Evaluate summed.
func trackingCurve(pm Purchases, h Holdout, total float64) []CurvePoint {
	var out []CurvePoint
	for _, c := range h.Checkpoints {
		if c.At == h.Duration {
			out = append(out, CurvePoint{At: c.At, Predicted: total, Actual: c.Actual})
			continue
		}
		pred := 0.0
		cache := map[[3]float64]float64{}
		for i := range h.X {
			key := [3]float64{h.X[i], h.Tx[i], h.T[i]}
			p, ok := cache[key]
			if !ok {
				p = pm.ExpectedPurchases(c.At, h.X[i], h.Tx[i], h.T[i])
				cache[key] = p
			}
			pred += p
		}
		out = append(out, CurvePoint{At: c.At, Predicted: pred, Actual: c.Actual})
	}
	return out
}

// Curve is the expected cumulative repeat purchases of a base whose customers
// made their first purchase at the times in Cohorts (model units since the
// start, with Sizes customers each), at each time of at.
func Curve(pm Purchases, cohorts, sizes, at []float64) []float64 {
	out := make([]float64, len(at))
	for j, t := range at {
		for i, c := range cohorts {
			if t > c {
				out[j] += sizes[i] * pm.ExpectedPurchasesNew(t-c)
			}
		}
	}
	return out
}
