package model

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma are the parameters of the Gamma-Gamma spend model (Fader, Hardie &
// Lee 2005, "RFM and CLV"): each transaction's value is Gamma(P, ν), with the
// customer's ν ~ Gamma(Q, Gamma). Only customers with repeat purchases inform it.
type GammaGamma struct{ P, Q, Gamma float64 }

// SpendData are the repeat buyers' numbers of repeat purchases X and the mean
// value M of those purchases, sorted by X so that terms depending only on X
// are computed once per distinct X.
type SpendData struct {
	X, M []float64
	lnM  []float64
	xs   []float64
	ends []int
}

// NewSpendData keeps the customers with repeat purchases and a positive mean
// value; the others say nothing about spend.
func NewSpendData(x, m []float64) (SpendData, error) {
	if len(x) != len(m) {
		return SpendData{}, fmt.Errorf("model: %d frequencies and %d mean values", len(x), len(m))
	}
	d := SpendData{X: make([]float64, 0, len(x)/2), M: make([]float64, 0, len(x)/2)}
	for i := range x {
		if math.IsNaN(m[i]) || math.IsInf(m[i], 0) || m[i] < 0 {
			return SpendData{}, fmt.Errorf("model: row %d: mean value %v", i, m[i])
		}
		if x[i] > 0 && m[i] > 0 {
			d.X, d.M = append(d.X, x[i]), append(d.M, m[i])
		}
	}
	if len(d.X) == 0 {
		return d, fmt.Errorf("model: no customer with repeat purchases and a positive value: Gamma-Gamma cannot be fitted")
	}
	idx := make([]int, len(d.X))
	for i := range idx {
		idx[i] = i
	}
	// By frequency, then value: the same customers in any order give the
	// same sums, so the same fit.
	slices.SortFunc(idx, func(a, b int) int { return cmp.Or(cmpF(d.X[a], d.X[b]), cmpF(d.M[a], d.M[b])) })
	sx, sm := make([]float64, len(idx)), make([]float64, len(idx))
	d.lnM = make([]float64, len(idx))
	for k, i := range idx {
		sx[k], sm[k], d.lnM[k] = d.X[i], d.M[i], math.Log(d.M[i])
		if k > 0 && sx[k] != sx[k-1] {
			d.ends = append(d.ends, k)
		}
		if k == 0 || sx[k] != sx[k-1] {
			d.xs = append(d.xs, sx[k])
		}
	}
	d.ends = append(d.ends, len(idx))
	d.X, d.M = sx, sm
	return d, nil
}

// FitGammaGamma fits the spend model by maximum likelihood.
func FitGammaGamma(d SpendData, opt FitOptions) (GammaGamma, Fit, error) {
	theta, fit, err := maximise("Gamma-Gamma", func(th, g []float64) float64 {
		return -GammaGamma{th[0], th[1], th[2]}.logLik(d, g)
	}, float64(len(d.X)), opt, 3, false)
	var m GammaGamma
	if theta != nil {
		m = GammaGamma{theta[0], theta[1], theta[2]}
	}
	return m, fit, err
}

// SpendDegenerate says what makes a fitted Gamma-Gamma unusable, or "" when
// nothing does: the fit stopped out of the ordinary, a parameter ran to the
// edge of what can be fitted or is barely determined, or q ≤ 1, which makes
// the population's mean order value infinite (every expected value would be
// driven by the heaviest spender).
func SpendDegenerate(m GammaGamma, fit Fit) string {
	if fit.Note != "" {
		return "Gamma-Gamma: " + fit.Note
	}
	for i, p := range []struct {
		name string
		v    float64
	}{{"p", m.P}, {"q", m.Q}, {"gamma", m.Gamma}} {
		if !(p.v > 1e-6 && p.v < 1e6) {
			return fmt.Sprintf("Gamma-Gamma: parameter %s = %.3g is at the edge of what can be fitted: the spends do not determine it", p.name, p.v)
		}
		if i < len(fit.StdErr) && (math.IsNaN(fit.StdErr[i]) || math.IsInf(fit.StdErr[i], 0) || fit.StdErr[i] > 10*p.v) {
			return fmt.Sprintf("Gamma-Gamma: parameter %s = %.3g has a standard error of %.3g: the spends barely determine it", p.name, p.v, fit.StdErr[i])
		}
	}
	if m.Q <= 1 {
		return fmt.Sprintf("Gamma-Gamma: q = %.3g ≤ 1, so the mean order value of the population is infinite", m.Q)
	}
	return ""
}

// LogLikelihood of the spend data.
func (m GammaGamma) LogLikelihood(d SpendData) float64 { return m.logLik(d, nil) }

// ln L = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln m + px ln x − (px+q) ln(γ + m x)
func (m GammaGamma) logLik(d SpendData, grad []float64) float64 {
	p, q, g := m.P, m.Q, m.Gamma
	ll := 0.0
	lgQ, lnG := lgamma(q), math.Log(g)
	var gp, gq, gg, psiQ float64
	if grad != nil {
		psiQ = mathext.Digamma(q)
	}
	start := 0
	for k, x := range d.xs {
		end := d.ends[k]
		px := p * x
		lnX := math.Log(x)
		head := lgamma(px+q) - lgamma(px) - lgQ + q*lnG + px*lnX
		var psiPXQ, psiPX float64
		if grad != nil {
			psiPXQ, psiPX = mathext.Digamma(px+q), mathext.Digamma(px)
		}
		var sumLnM, sumLnGMX, sumInv float64
		for i := start; i < end; i++ {
			lnGMX := math.Log(g + d.M[i]*x)
			sumLnM += d.lnM[i]
			sumLnGMX += lnGMX
			if grad != nil {
				sumInv += 1 / (g + d.M[i]*x)
			}
		}
		cnt := float64(end - start)
		ll += cnt*head + (px-1)*sumLnM - (px+q)*sumLnGMX
		if grad != nil {
			gp += cnt*(x*psiPXQ-x*psiPX+x*lnX) + x*sumLnM - x*sumLnGMX
			gq += cnt*(psiPXQ-psiQ+lnG) - sumLnGMX
			gg += cnt*q/g - (px+q)*sumInv
		}
		start = end
	}
	if grad != nil {
		grad[0], grad[1], grad[2] = -gp, -gq, -gg
	}
	return ll
}

// ExpectedValue is the expected mean transaction value of a customer with x
// repeat purchases of mean value mx: a weighted mean of the population mean
// and the customer's own.
func (m GammaGamma) ExpectedValue(x, mx float64) float64 {
	if m.Q <= 1 {
		return math.NaN() // the population mean is infinite
	}
	pop := m.P * m.Gamma / (m.Q - 1)
	w := m.P * x / (m.P*x + m.Q - 1)
	return (1-w)*pop + w*mx
}
