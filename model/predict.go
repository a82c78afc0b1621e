package model

import (
	"math"
)

// Purchases is what the purchase models (BG/NBD, MBG/NBD, Pareto/NBD) predict,
// for the predictions built on any of them.
type Purchases interface {
	ExpectedPurchases(t, x, tx, T float64) float64
	// ExpectedPurchasesIfAlive: given alive, the future depends on x and T only,
	// so E[X(t) | x, tx, T] = P(alive | x, tx, T) · E[X(t) | alive, x, T].
	ExpectedPurchasesIfAlive(t, x, T float64) float64
	ProbAlive(x, tx, T float64) float64
	ExpectedPurchasesNew(t float64) float64
}

// CLVOptions set the horizon and discounting of customer lifetime value.
type CLVOptions struct {
	Months int // horizon, e.g. 12
	// DiscountMonthly is the monthly discount rate, e.g. 0.01.
	DiscountMonthly float64
	// UnitsPerMonth is the model's time units in a month: 30.4375 for days,
	// 4.348 for weeks.
	UnitsPerMonth float64
	// Margin is the share of revenue that is profit (1: CLV in revenue).
	Margin float64
}

// CLV is the discounted value of a customer's expected purchases over the
// horizon, month by month: Σ_m margin · value · (E[X(m)] − E[X(m−1)]) / (1+d)^m.
func CLV(pm Purchases, value, x, tx, T float64, o CLVOptions) float64 {
	return pm.ProbAlive(x, tx, T) * value * clvIfAlive(pm, x, T, o)
}

// clvIfAlive is the CLV per unit of order value of a customer alive at T.
func clvIfAlive(pm Purchases, x, T float64, o CLVOptions) float64 {
	clv, prev := 0.0, 0.0
	for m := 1; m <= o.Months; m++ {
		e := pm.ExpectedPurchasesIfAlive(float64(m)*o.UnitsPerMonth, x, T)
		clv += o.Margin * (e - prev) / math.Pow(1+o.DiscountMonthly, float64(m))
		prev = e
	}
	return clv
}

// NextOrder is the time from T until the probability of having bought again
// reaches one half, given the history; ok is false when that never happens
// (the customer is probably gone: P(alive) ≤ 1/2). BG/NBD and MBG/NBD: while
// alive, λ | history ~ Gamma(r+x, α+T), so P(a purchase within τ) = P(alive) ·
// (1 − ((α+T)/(α+T+τ))^(r+x)), solved for τ.
func (m BGNBD) NextOrder(x, tx, T float64) (tau float64, ok bool) {
	pa := m.ProbAlive(x, tx, T)
	if pa <= 0.5 {
		return math.Inf(1), false
	}
	return (m.Alpha + T) * math.Expm1(-math.Log1p(-0.5/pa)/(m.R+x)), true
}

// ProbPurchases is the probability of exactly n purchases in the next t of a
// customer with x repeat purchases, the last at tx, at age T. Given alive,
// λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x+s); the purchases follow the BG
// process: n purchases while staying alive, or n and then dropping out.
func (m BGNBD) ProbPurchases(n int, t, x, tx, T float64) float64 {
	pa := m.ProbAlive(x, tx, T)
	r, a, b := m.R+x, m.A, m.B+x+m.shift()
	q := t / (m.Alpha + T + t)
	lnNB := func(j int) float64 { // negative binomial pmf of j purchases in t
		fj := float64(j)
		return lgamma(r+fj) - lgamma(r) - lgamma(fj+1) + r*math.Log1p(-q) + fj*math.Log(q)
	}
	lnBeta := func(u, v float64) float64 { return lgamma(u) + lgamma(v) - lgamma(u+v) }
	fn := float64(n)
	p := math.Exp(lnBeta(a, b+fn) - lnBeta(a, b) + lnNB(n))
	if n > 0 {
		cdf := 0.0
		for j := 0; j < n; j++ {
			cdf += math.Exp(lnNB(j))
		}
		p += math.Exp(lnBeta(a+1, b+fn-1)-lnBeta(a, b)) * (1 - cdf)
	}
	p *= pa
	if n == 0 {
		p += 1 - pa
	}
	return p
}

// Predictions are every customer's predictions, in input order.
type Predictions struct {
	ExpectedPurchases []float64 // in the horizon
	ProbAlive         []float64
	ExpectedValue     []float64 // mean order value (Gamma-Gamma)
	CLV               []float64
}

// Predict computes, for every customer, the expected purchases in horizon,
// P(alive), the expected order value and the CLV. What depends on (x, T) alone
// (the expectations given alive, with their 2F1 series) is computed once per
// distinct pair; P(alive) is cheap and computed per customer.
func Predict(pm Purchases, gg GammaGamma, x, tx, T, meanValue []float64, horizon float64, o CLVOptions) Predictions {
	return PredictHorizons(pm, gg, x, tx, T, meanValue, []float64{horizon}, o)[0]
}

// PredictHorizons is Predict for each of several horizons, in their order:
// what does not depend on the horizon (P(alive), the expected value, the
// CLV) computed once and shared by the predictions returned (the same
// numbers as a Predict a horizon; at a million customers, a third of the
// work for three horizons).
func PredictHorizons(pm Purchases, gg GammaGamma, x, tx, T, meanValue []float64, horizons []float64, o CLVOptions) []Predictions {
	n := len(x)
	shared := Predictions{ProbAlive: make([]float64, n), ExpectedValue: make([]float64, n), CLV: make([]float64, n)}
	out := make([]Predictions, len(horizons))
	for k := range out {
		out[k] = shared
		out[k].ExpectedPurchases = make([]float64, n)
	}
	// Per distinct (x, T), from ifAlive[index[(x, T)]]: its CLV given
	// alive, then its expectation given alive for each horizon.
	index := make(map[[2]float64]int)
	var ifAlive []float64
	for i := range x {
		key := [2]float64{x[i], T[i]}
		at, ok := index[key]
		if !ok {
			at = len(ifAlive)
			index[key] = at
			ifAlive = append(ifAlive, clvIfAlive(pm, x[i], T[i], o))
			for _, t := range horizons {
				ifAlive = append(ifAlive, pm.ExpectedPurchasesIfAlive(t, x[i], T[i]))
			}
		}
		pa := pm.ProbAlive(x[i], tx[i], T[i])
		v := gg.ExpectedValue(x[i], meanValue[i])
		shared.ProbAlive[i], shared.ExpectedValue[i], shared.CLV[i] = pa, v, pa*ifAlive[at]*v
		for k := range out {
			out[k].ExpectedPurchases[i] = pa * ifAlive[at+1+k]
		}
	}
	return out
}
