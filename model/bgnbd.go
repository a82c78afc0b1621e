package model

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD are the parameters of the BG/NBD model (Fader, Hardie & Lee 2005): while
// alive a customer buys at rate λ ~ Gamma(R, Alpha) and after each repeat purchase
// drops out with probability p ~ Beta(A, B). Modified selects MBG/NBD (Batislam,
// Denizel & Filiztekin 2007), where a customer may also drop out right after the
// first purchase.
type BGNBD struct {
	R, Alpha, A, B float64
	Modified       bool `json:"modified,omitempty"`
}

func (m BGNBD) name() string {
	if m.Modified {
		return "MBG/NBD"
	}
	return "BG/NBD"
}

// shift is 1 for MBG/NBD: its dropout terms run one purchase later.
func (m BGNBD) shift() float64 {
	if m.Modified {
		return 1
	}
	return 0
}

// noRepeatPenalty is applied when nobody bought twice: the likelihood then grows
// as r goes to 0 and has no maximum; the penalty makes the fit converge there,
// predicting (almost) no repeat purchases, which is what the data say.
const noRepeatPenalty = 1e-3

// FitBGNBD fits BG/NBD (or MBG/NBD when modified) by maximum likelihood.
func FitBGNBD(d Data, modified bool, opt FitOptions) (BGNBD, Fit, error) {
	m := BGNBD{Modified: modified}
	note := ""
	if !d.hasRepeats() && opt.Penalty == 0 {
		opt.Penalty = noRepeatPenalty
		note = "no customer bought twice: fitted with an L2 penalty of 0.001, so the purchase rate goes to zero"
	}
	if opt.Init == nil && len(d.X) > 50000 {
		// Start from a fit on every 16th distinct row: the full fit then needs
		// only a few evaluations of the whole sum.
		if warm, _, err := FitBGNBD(d.sample(16), modified, opt); err == nil {
			opt.Init = []float64{warm.R, warm.Alpha, warm.A, warm.B}
		}
	}
	theta, fit, err := maximise(m.name(), func(th, g []float64) float64 {
		return -BGNBD{th[0], th[1], th[2], th[3], modified}.logLik(d, g)
	}, d.Customers(), opt, 4, false)
	if theta != nil {
		m.R, m.Alpha, m.A, m.B = theta[0], theta[1], theta[2], theta[3]
	}
	if note != "" {
		fit.Note = note
	}
	return m, fit, err
}

// LogLikelihood is the log-likelihood of the data under the model.
func (m BGNBD) LogLikelihood(d Data) float64 { return m.logLik(d, nil) }

// logLik returns the log-likelihood and, when grad is not nil, puts there the
// gradient of its negative with respect to (r, α, a, b).
//
//	ln L = A1 + A2 + log(e^A3 + δ e^A4), with
//	A1 = lnΓ(r+x) − lnΓ(r) + r ln α
//	A2 = lnΓ(a+b) + lnΓ(b+x+s) − lnΓ(b) − lnΓ(a+b+x+s)
//	A3 = −(r+x) ln(α+T)
//	A4 = ln a − ln(b+x−1+s) − (r+x) ln(α+tx), present when x > 0 or s = 1
//
// where s is 0 for BG/NBD and 1 for MBG/NBD. Terms that depend on x alone are
// computed once per distinct x.
func (m BGNBD) logLik(d Data, grad []float64) float64 {
	// The distinct-x groups are split between two goroutines: the sum is the
	// hot loop of every fit.
	if len(d.X) < 20000 {
		return m.logLikRange(d, 0, len(d.xs), grad)
	}
	half := sort.Search(len(d.xs), func(k int) bool { return d.ends[k] >= len(d.X)/2 })
	var g2 [4]float64
	var ll2 float64
	done := make(chan struct{})
	go func() {
		defer close(done)
		if grad != nil {
			ll2 = m.logLikRange(d, half, len(d.xs), g2[:])
		} else {
			ll2 = m.logLikRange(d, half, len(d.xs), nil)
		}
	}()
	ll := m.logLikRange(d, 0, half, grad)
	<-done
	if grad != nil {
		for i := range grad {
			grad[i] += g2[i]
		}
	}
	return ll + ll2
}

// logLikRange sums over the groups of distinct x from k0 to k1.
func (m BGNBD) logLikRange(d Data, k0, k1 int, grad []float64) float64 {
	r, alpha, a, b, s := m.R, m.Alpha, m.A, m.B, m.shift()
	var gr, gAlpha, ga, gb float64
	ll := 0.0
	lnAlpha, lnA := math.Log(alpha), math.Log(a)
	lgR, lgB, lgAB := lgamma(r), lgamma(b), lgamma(a+b)
	var psiR, psiB, psiAB float64
	if grad != nil {
		psiR, psiB, psiAB = mathext.Digamma(r), mathext.Digamma(b), mathext.Digamma(a+b)
	}
	start := 0
	if k0 > 0 {
		start = d.ends[k0-1]
	}
	for k := k0; k < k1; k++ {
		x := d.xs[k]
		end := d.ends[k]
		a1 := lgamma(r+x) - lgR + r*lnAlpha
		a2 := lgAB + lgamma(b+x+s) - lgB - lgamma(a+b+x+s)
		hasA4 := x > 0 || s == 1
		lnBX := 0.0
		if hasA4 {
			lnBX = math.Log(b + x - 1 + s)
		}
		var dA1r, dA2a, dA2b float64
		if grad != nil {
			psiRX, psiABXS := mathext.Digamma(r+x), mathext.Digamma(a+b+x+s)
			dA1r = psiRX - psiR + lnAlpha
			dA2a = psiAB - psiABXS
			dA2b = psiAB + mathext.Digamma(b+x+s) - psiB - psiABXS
		}
		wsum := 0.0
		for i := start; i < end; i++ {
			w := d.Weight[i]
			lnAT := math.Log(alpha + d.T[i])
			a3 := -(r + x) * lnAT
			l := a3
			w4 := 0.0
			var lnATx float64
			if hasA4 {
				lnATx = math.Log(alpha + d.Tx[i])
				a4 := lnA - lnBX - (r+x)*lnATx
				// log(e^a3 + e^a4) and the share of e^a4 from one exp
				if a4 > a3 {
					u := math.Exp(a3 - a4)
					l = a4 + math.Log1p(u)
					w4 = 1 / (1 + u)
				} else {
					u := math.Exp(a4 - a3)
					l = a3 + math.Log1p(u)
					w4 = u / (1 + u)
				}
			}
			ll += w * l
			wsum += w
			if grad != nil {
				w3 := 1 - w4
				gr += w * (-w3*lnAT - w4*lnATx)
				gAlpha += w * (-w3*(r+x)/(alpha+d.T[i]) - w4*(r+x)/(alpha+d.Tx[i]))
				if hasA4 {
					ga += w * w4 / a
					gb += w * -w4 / (b + x - 1 + s)
				}
			}
		}
		ll += wsum * (a1 + a2)
		if grad != nil {
			gr += wsum * dA1r
			gAlpha += wsum * r / alpha
			ga += wsum * dA2a
			gb += wsum * dA2b
		}
		start = end
	}
	if grad != nil {
		grad[0], grad[1], grad[2], grad[3] = -gr, -gAlpha, -ga, -gb
	}
	return ll
}

// ProbAlive is the probability that a customer with x repeat purchases, the last
// at tx, is still alive at age T.
func (m BGNBD) ProbAlive(x, tx, T float64) float64 {
	s := m.shift()
	if x == 0 && s == 0 {
		return 1
	}
	// 1 / (1 + a/(b+x−1+s) ((α+T)/(α+tx))^(r+x))
	lr := math.Log(m.A) - math.Log(m.B+x-1+s) + (m.R+x)*(math.Log(m.Alpha+T)-math.Log(m.Alpha+tx))
	return 1 / (1 + math.Exp(lr))
}

// ExpectedPurchases is the expected number of purchases in the next t of a
// customer with x repeat purchases, the last at tx, at age T.
func (m BGNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	return m.ProbAlive(x, tx, T) * m.ExpectedPurchasesIfAlive(t, x, T)
}

// ExpectedPurchasesIfAlive is the expected number of purchases in the next t of
// a customer alive at age T after x repeat purchases: given alive, the future
// no longer depends on when the last purchase was.
//
//	BG/NBD:  (a+b+x−1)/(a−1) [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x−1; t/(α+T+t))]
//	MBG/NBD: (a+b+x)/(a−1)   [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))]
func (m BGNBD) ExpectedPurchasesIfAlive(t, x, T float64) float64 {
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	if t <= 0 || (m.Modified && b < 1e-9 && x == 0) { // see ExpectedPurchasesNew
		return 0
	}
	s := m.shift()
	z := t / (alpha + T + t)
	lh := log2F1(r+x, b+x+s, a+b+x-1+s, z)
	inner := -math.Expm1((r+x)*math.Log((alpha+T)/(alpha+T+t)) + lh)
	return (a + b + x - 1 + s) / (a - 1) * inner
}

// ExpectedPurchasesNew is the expected number of purchases in a period t of a
// customer just acquired (the population mean, E[X(t)]).
func (m BGNBD) ExpectedPurchasesNew(t float64) float64 {
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	s := m.shift()
	if m.Modified && b < 1e-9 {
		// MBG/NBD fitted where nobody came back: b → 0, everyone leaves after
		// the first purchase (and 2F1 has no finite series there).
		return 0
	}
	z := t / (alpha + t)
	lh := log2F1(r, b+s, a+b-1+s, z)
	inner := -math.Expm1(r*math.Log(alpha/(alpha+t)) + lh)
	if m.Modified {
		return b / (a - 1) * inner
	}
	return (a + b - 1) / (a - 1) * inner
}

// log2F1 is the log of Gauss's hypergeometric function 2F1(a, b; c; z) for
// 0 ≤ z < 1 and positive a, b, c, summed as a series with the running sum kept
// scaled, so that it neither overflows for customers with hundreds of purchases
// nor loses the terms that matter. Near z = 1 with c < a + b the series is
// summed after Euler's transformation, 2F1(a,b;c;z) = (1−z)^(c−a−b)
// 2F1(c−a, c−b; c; z), whose terms shrink instead of growing. It returns NaN when
// the series has not converged after 10^6 terms.
func log2F1(a, b, c, z float64) float64 {
	return log2F1Within(a, b, c, z, 1e6)
}

// log2F1Within is log2F1 summing at most terms terms of the series; NaN when
// that is not enough (z near 1 with c−a−b near 0 needs millions).
func log2F1Within(a, b, c, z, terms float64) float64 {
	if z == 0 {
		return 0
	}
	if z > 0.5 && c-a-b < 0 && c-a > 0 && c-b > 0 {
		return (c-a-b)*math.Log1p(-z) + log2F1Series(c-a, c-b, c, z, terms)
	}
	return log2F1Series(a, b, c, z, terms)
}

func log2F1Series(a, b, c, z, terms float64) float64 {
	term, sum, logScale := 1.0, 1.0, 0.0
	for k := 0.0; k < terms; k++ {
		term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
		sum += term
		if sum > 1e250 {
			sum /= 1e250
			term /= 1e250
			logScale += 250 * math.Ln10
		}
		if math.Abs(term) < sum*1e-16 && (a+k)*(b+k)*z < (c+k)*(k+1) { // decreasing from here on
			return math.Log(sum) + logScale
		}
	}
	return math.NaN()
}
