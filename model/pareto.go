package model

import (
	"fmt"
	"math"
)

// ParetoNBD are the parameters of the Pareto/NBD model (Schmittlein, Morrison &
// Colombo 1987): purchase rates λ ~ Gamma(R, Alpha) and lifetimes exponential
// with rates μ ~ Gamma(S, Beta). Formulas from Fader, Hardie & Lee (2005), "A
// note on deriving the Pareto/NBD model and related expressions".
type ParetoNBD struct{ R, Alpha, S, Beta float64 }

// FitParetoNBD fits Pareto/NBD by maximum likelihood. Its gradient is taken by
// central differences: the analytic one runs through derivatives of 2F1.
func FitParetoNBD(d Data, opt FitOptions) (ParetoNBD, Fit, error) {
	if !d.hasRepeats() {
		return ParetoNBD{}, Fit{}, fmt.Errorf("Pareto/NBD: %w: no customer bought twice, so its likelihood has no maximum; use BG/NBD, which converges to no repeat buying", ErrNotConverged)
	}
	theta, fit, err := maximise("Pareto/NBD", func(th, g []float64) float64 {
		nll := func(p []float64) float64 { return -ParetoNBD{p[0], p[1], p[2], p[3]}.LogLikelihood(d) }
		if g != nil { // central differences with steps relative to each parameter
			x := append([]float64(nil), th...)
			for i := range th {
				h := 1e-6 * th[i]
				x[i] = th[i] + h
				up := nll(x)
				x[i] = th[i] - h
				g[i] = (up - nll(x)) / (2 * h)
				x[i] = th[i]
			}
		}
		return nll(th)
	}, d.Customers(), opt, 4, true)
	var m ParetoNBD
	if theta != nil {
		m = ParetoNBD{theta[0], theta[1], theta[2], theta[3]}
	}
	return m, fit, err
}

// LogLikelihood of the data under the model.
func (m ParetoNBD) LogLikelihood(d Data) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	ll := 0.0
	lgR := lgamma(r)
	start := 0
	for k, x := range d.xs {
		end := d.ends[k]
		head := lgamma(r+x) - lgR + r*math.Log(alpha) + s*math.Log(beta)
		lnRatio := math.Log(s / (r + s + x))
		for i := start; i < end; i++ {
			t1 := -(r+x)*math.Log(alpha+d.T[i]) - s*math.Log(beta+d.T[i])
			ll += d.Weight[i] * (head + logAddExp(t1, lnRatio+m.logA0(x, d.Tx[i], d.T[i])))
		}
		start = end
	}
	return ll
}

// logA0 is ln A0 of the likelihood: ln(F(tx) − F(T)).
func (m ParetoNBD) logA0(x, tx, T float64) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	rsx := r + s + x
	lnF := func(y float64) float64 {
		if alpha >= beta {
			return log2F1(rsx, s+1, rsx+1, (alpha-beta)/(alpha+y)) - rsx*math.Log(alpha+y)
		}
		return log2F1(rsx, r+x, rsx+1, (beta-alpha)/(beta+y)) - rsx*math.Log(beta+y)
	}
	hi, lo := lnF(tx), lnF(T)
	return hi + math.Log1p(-math.Exp(lo-hi))
}

// ProbAlive is the probability that a customer with x repeat purchases, the
// last at tx, is alive at age T.
func (m ParetoNBD) ProbAlive(x, tx, T float64) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	// 1 / (1 + s/(r+s+x) (α+T)^(r+x) (β+T)^s A0)
	l := math.Log(s/(r+s+x)) + (r+x)*math.Log(alpha+T) + s*math.Log(beta+T) + m.logA0(x, tx, T)
	return 1 / (1 + math.Exp(l))
}

// ExpectedPurchases in the next t of a customer with x repeat purchases, the
// last at tx, at age T.
func (m ParetoNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	return m.ProbAlive(x, tx, T) * m.ExpectedPurchasesIfAlive(t, x, T)
}

// ExpectedPurchasesIfAlive is the expected number of purchases in the next t of
// a customer alive at age T after x repeat purchases:
// (r+x)(β+T)/((α+T)(s−1)) [1 − ((β+T)/(β+T+t))^(s−1)].
func (m ParetoNBD) ExpectedPurchasesIfAlive(t, x, T float64) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	if t <= 0 {
		return 0
	}
	var horizon float64
	if s == 1 {
		horizon = math.Log((beta + T + t) / (beta + T))
	} else {
		horizon = -math.Expm1((s-1)*math.Log((beta+T)/(beta+T+t))) / (s - 1)
	}
	return (r + x) * (beta + T) / (alpha + T) * horizon
}

// ExpectedPurchasesNew is the expected number of purchases in a period t of a
// customer just acquired.
func (m ParetoNBD) ExpectedPurchasesNew(t float64) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	if s == 1 {
		return r * beta / alpha * math.Log((beta+t)/beta)
	}
	return r * beta / (alpha * (s - 1)) * -math.Expm1((s-1)*math.Log(beta/(beta+t)))
}
