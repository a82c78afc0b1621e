package model

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/optimize"

	"gonum.org/v1/gonum/integrate/quad"
)

// ParetoNBD are the parameters of the Pareto/NBD model (Schmittlein, Morrison &
// Colombo 1987): purchase rates λ ~ Gamma(R, Alpha) and lifetimes exponential
// with rates μ ~ Gamma(S, Beta). Formulas from Fader, Hardie & Lee (2005), "A
// note on deriving the Pareto/NBD model and related expressions".
type ParetoNBD struct{ R, Alpha, S, Beta float64 }

// FitParetoNBD fits Pareto/NBD by maximum likelihood. Its gradient is taken by
// central differences: the analytic one runs through derivatives of 2F1.
func FitParetoNBD(d Data, opt FitOptions) (ParetoNBD, Fit, error) {
	note := ""
	if !d.hasRepeats() && opt.Penalty == 0 {
		opt.Penalty = noRepeatPenalty
		note = "no customer bought twice: fitted with an L2 penalty of 0.001, so the purchase rate goes to zero"
	}
	switch {
	case opt.Init == nil && len(d.X) > 50000:
		// As BG/NBD: a fit on every 16th distinct row first. Each evaluation of
		// the whole sum costs nine likelihoods here (the gradient is numeric).
		if warm, _, err := FitParetoNBD(d.sample(16), opt); err == nil {
			opt.Init = []float64{warm.R, warm.Alpha, warm.S, warm.Beta}
		}
	case opt.Init == nil:
		// A gradient-free search first: from all ones, BFGS's line searches
		// try far points where the 2F1 series needs thousands of terms a
		// row (995 customers of the generated shop: 43 s against 3 s).
		opt.Init = paretoStart(d, opt.Penalty)
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
	if note != "" {
		fit.Note = note
	}
	return m, fit, err
}

// paretoStart is a Nelder-Mead search in log-parameters from all ones, with
// a bounded number of evaluations: a starting point for the fit.
func paretoStart(d Data, penalty float64) []float64 {
	n := d.Customers()
	f := func(phi []float64) float64 {
		th := make([]float64, 4)
		for i, v := range phi {
			th[i] = math.Exp(v)
		}
		v := -ParetoNBD{th[0], th[1], th[2], th[3]}.LogLikelihood(d) / n
		for _, t := range th {
			v += penalty * t * t
		}
		return v
	}
	// Stopping at the evaluation budget is no failure here: what it found is
	// only where the fit starts.
	res, _ := optimize.Minimize(optimize.Problem{Func: f}, make([]float64, 4), &optimize.Settings{FuncEvaluations: 1500}, &optimize.NelderMead{})
	if res == nil || math.IsNaN(res.F) || math.IsInf(res.F, 0) {
		return nil
	}
	out := make([]float64, 4)
	for i, v := range res.X {
		out[i] = math.Exp(v)
	}
	return out
}

// LogLikelihood of the data under the model. Each row costs a 2F1 series
// (most of a fit's time, by profile), so large data are summed in parts, one
// per core.
func (m ParetoNBD) LogLikelihood(d Data) float64 {
	parts := runtime.GOMAXPROCS(0)
	if len(d.X) < 20000 || parts < 2 {
		return m.logLikRows(d, 0, len(d.X))
	}
	sums := make([]float64, parts)
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			sums[p] = m.logLikRows(d, p*len(d.X)/parts, (p+1)*len(d.X)/parts)
		}(p)
	}
	wg.Wait()
	ll := 0.0
	for _, v := range sums { // in a fixed order: the same data give the same sum
		ll += v
	}
	return ll
}

// logLikRows sums the log-likelihood of rows [from, to).
func (m ParetoNBD) logLikRows(d Data, from, to int) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	ll := 0.0
	lgR := lgamma(r)
	start := 0
	for k, x := range d.xs {
		end := d.ends[k]
		lo, hi := max(start, from), min(end, to)
		start = end
		if lo >= hi {
			continue
		}
		head := lgamma(r+x) - lgR + r*math.Log(alpha) + s*math.Log(beta)
		lnRatio := math.Log(s / (r + s + x))
		for i := lo; i < hi; i++ {
			t1 := -(r+x)*math.Log(alpha+d.T[i]) - s*math.Log(beta+d.T[i])
			ll += d.Weight[i] * (head + logAddExp(t1, lnRatio+m.logA0(x, d.Tx[i], d.T[i])))
		}
	}
	return ll
}

// a0Terms bounds the 2F1 series of A0; past it the integral is taken directly.
const a0Terms = 20000

// logA0 is ln A0 of the likelihood: ln(F(tx) − F(T)) by the 2F1 closed form
// (Fader, Hardie & Lee 2005), or by quadrature where that series converges too
// slowly (s near 0 with α and β far apart, as in fits to bases with few repeat
// buyers).
func (m ParetoNBD) logA0(x, tx, T float64) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	rsx := r + s + x
	lnF := func(y float64) float64 {
		if alpha >= beta {
			return log2F1Within(rsx, s+1, rsx+1, (alpha-beta)/(alpha+y), a0Terms) - rsx*math.Log(alpha+y)
		}
		return log2F1Within(rsx, r+x, rsx+1, (beta-alpha)/(beta+y), a0Terms) - rsx*math.Log(beta+y)
	}
	hi, lo := lnF(tx), lnF(T)
	if math.IsNaN(hi) || math.IsNaN(lo) {
		return m.logA0Quad(x, tx, T)
	}
	return hi + math.Log1p(-math.Exp(lo-hi))
}

// a0Nodes is the Gauss-Legendre rule of logA0Quad.
var a0Nodes, a0Weights = func() ([]float64, []float64) {
	x, w := make([]float64, 96), make([]float64, 96)
	quad.Legendre{}.FixedLocations(x, w, 0, 1)
	return x, w
}()

// logA0Quad is ln A0 from its integral: A0 (s/(r+s+x)) is the likelihood of
// dying between tx and T, ∫ s (α+τ)^−(r+x) (β+τ)^−(s+1) dτ over [tx, T] (up to
// the factor the whole likelihood shares). It is
// taken in u = ln(α+τ), where the integrand is smooth over orders of magnitude
// of τ, and summed in logs so that hundreds of purchases do not underflow.
func (m ParetoNBD) logA0Quad(x, tx, T float64) float64 {
	r, alpha, s, beta := m.R, m.Alpha, m.S, m.Beta
	u0, u1 := math.Log(alpha+tx), math.Log(alpha+T)
	terms := make([]float64, len(a0Nodes))
	top := math.Inf(-1)
	for i, v := range a0Nodes {
		u := u0 + (u1-u0)*v
		tau := math.Exp(u) - alpha
		terms[i] = math.Log(a0Weights[i]*(u1-u0)) + (1-r-x)*u - (s+1)*math.Log(beta+tau)
		top = math.Max(top, terms[i])
	}
	sum := 0.0
	for _, t := range terms {
		sum += math.Exp(t - top)
	}
	// A0 = (r+s+x)/s times the integral; the s cancels the s of the integrand.
	return top + math.Log(sum) + math.Log(r+s+x)
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

// NextOrder is the time from T until the probability of having bought again
// reaches one half; ok is false when that never happens. Given alive, λ ~
// Gamma(r+x, α+T) and μ ~ Gamma(s, β+T) independently, and
//
//	P(a purchase within τ | alive) = E[λ/(λ+μ) (1 − e^{−(λ+μ)τ})]
//	  = m(α+T, β+T) − ((α+T)/(α+T+τ))^(r+x) ((β+T)/(β+T+τ))^s m(α+T+τ, β+T+τ)
//
// where m(b1, b2) = E[λ/(λ+μ)] for λ ~ Gamma(r+x, b1), μ ~ Gamma(s, b2) (tilting
// by e^{−λτ} and e^{−μτ} only shifts the rates); it is solved for τ by bisection.
func (m ParetoNBD) NextOrder(x, tx, T float64) (tau float64, ok bool) {
	pa := m.ProbAlive(x, tx, T)
	a1, a2 := m.R+x, m.S
	b1, b2 := m.Alpha+T, m.Beta+T
	within := func(t float64) float64 {
		tilt := a1*math.Log(b1/(b1+t)) + a2*math.Log(b2/(b2+t))
		return pa * (ratioMean(a1, b1, a2, b2) - math.Exp(tilt)*ratioMean(a1, b1+t, a2, b2+t))
	}
	if pa*ratioMean(a1, b1, a2, b2) <= 0.5 {
		return math.Inf(1), false
	}
	lo, hi := 0.0, 1.0
	for within(hi) < 0.5 {
		hi *= 2
		if hi > 1e9 {
			return math.Inf(1), false
		}
	}
	for i := 0; i < 100 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if within(mid) < 0.5 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2, true
}

// ratioMean is E[λ/(λ+μ)] for independent λ ~ Gamma(a1, b1) and μ ~ Gamma(a2, b2).
// With B ~ Beta(a1, a2) and c = b1/b2, λ/(λ+μ) = B/(B + c(1−B)), whose mean is
// a1/(a1+a2) 2F1(1, a1+1; a1+a2+1; 1−1/c)/c, convergent for c > 1/2; for c ≤ 1/2
// the roles of λ and μ swap.
func ratioMean(a1, b1, a2, b2 float64) float64 {
	c := b1 / b2
	if c <= 0.5 {
		return 1 - ratioMean(a2, b2, a1, b1)
	}
	return a1 / (a1 + a2) / c * math.Exp(log2F1Series(1, a1+1, a1+a2+1, 1-1/c, 1e6))
}

// ProbPurchases is the probability of exactly n purchases in the next t of a
// customer with x repeat purchases, the last at tx, at age T. Given alive, with
// λ ~ Gamma(a1=r+x, b1=α+T) and μ ~ Gamma(a2=s, b2=β+T):
//
//	P(n | alive) = (b2/(b2+t))^a2 · NB(n; a1, b1/(b1+t))
//	  + Γ(a1+n)/(Γ(a1) n!) · a2 b1^a1 b2^a2 ∫_0^t ω^n (b2+ω)^−(a2+1) (b1+ω)^−(a1+n) dω
//
// (alive through t with n purchases, or dying at ω after n purchases); the
// integral is taken by Gauss-Legendre quadrature.
func (m ParetoNBD) ProbPurchases(n int, t, x, tx, T float64) float64 {
	pa := m.ProbAlive(x, tx, T)
	a1, a2 := m.R+x, m.S
	b1, b2 := m.Alpha+T, m.Beta+T
	fn := float64(n)
	lnNB := lgamma(a1+fn) - lgamma(a1) - lgamma(fn+1) + a1*math.Log(b1/(b1+t)) + fn*math.Log(t/(b1+t))
	alive := math.Exp(a2*math.Log(b2/(b2+t)) + lnNB)
	lnPre := lgamma(a1+fn) - lgamma(a1) - lgamma(fn+1) + math.Log(a2) + a1*math.Log(b1) + a2*math.Log(b2)
	dies := quad.Fixed(func(w float64) float64 {
		if w <= 0 {
			return 0
		}
		return math.Exp(lnPre + fn*math.Log(w) - (a2+1)*math.Log(b2+w) - (a1+fn)*math.Log(b1+w))
	}, 0, t, 128, quad.Legendre{}, 0)
	p := pa * (alive + dies)
	if n == 0 {
		p += 1 - pa
	}
	return p
}
