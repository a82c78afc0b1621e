package model

import (
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// cdnow reads the published CDNOW calibration summary (2,357 customers, weeks).
func cdnow(t testing.TB) (x, tx, T, zbar []float64) {
	t.Helper()
	f, err := os.Open("../testdata/cdnow/cdnow_customers_summary_with_transactions.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		v := make([]float64, 4)
		for i := range v {
			v[i], _ = strconv.ParseFloat(r[i+1], 64)
		}
		x, tx, T, zbar = append(x, v[0]), append(tx, v[1]), append(T, v[2]), append(zbar, v[3])
	}
	return
}

func cdnowData(t testing.TB) Data {
	x, tx, T, _ := cdnow(t)
	d, err := NewData(x, tx, T)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sig3 checks got against a published value to its 3 significant digits.
func sig3(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.5*math.Pow(10, math.Floor(math.Log10(math.Abs(want)))-2) {
		t.Errorf("%s = %.5g, want %.4g to 3 significant digits", name, got, want)
	}
}

func within(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Abs(want) {
		t.Errorf("%s = %.6g, want %.6g ± %.2g%%", name, got, want, 100*rel)
	}
}

// Published values: Fader, Hardie & Lee (2005) and lifetimes on the same data.
func TestBGNBDCDNOW(t *testing.T) {
	d := cdnowData(t)
	if d.Customers() != 2357 {
		t.Fatalf("%v customers", d.Customers())
	}
	m, fit, err := FitBGNBD(d, false, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BG/NBD %+v, log-likelihood %.4f, std err %v, %d iterations", m, fit.LogLikelihood, fit.StdErr, fit.Iterations)
	within(t, "r", m.R, 0.2426, 0.001)
	within(t, "alpha", m.Alpha, 4.4135, 0.001)
	within(t, "a", m.A, 0.7929, 0.001)
	within(t, "b", m.B, 2.4259, 0.001)
	if math.Abs(fit.LogLikelihood-(-9582.43)) > 0.01 {
		t.Errorf("log-likelihood %.4f, want -9582.43 ± 0.01", fit.LogLikelihood)
	}
	for _, se := range fit.StdErr {
		if !(se > 0) {
			t.Errorf("standard errors %v", fit.StdErr)
		}
	}

	pub := BGNBD{R: 0.2426, Alpha: 4.4135, A: 0.7929, B: 2.4259}
	sig3(t, "new customer, 52 weeks", pub.ExpectedPurchasesNew(52), 1.444)
	sig3(t, "x=26 customer, 52 weeks", pub.ExpectedPurchases(52, 26, 30.857, 31), 25.757)
	sig3(t, "x=26 customer, P(alive)", pub.ProbAlive(26, 30.857, 31), 0.9689)
	sig3(t, "x=2 customer, 39 weeks", pub.ExpectedPurchases(39, 2, 30.43, 38.86), 1.226)
}

func TestMBGNBDCDNOW(t *testing.T) {
	m, fit, err := FitBGNBD(cdnowData(t), true, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MBG/NBD %+v, log-likelihood %.4f", m, fit.LogLikelihood)
	within(t, "r", m.R, 0.525, 0.005)
	within(t, "alpha", m.Alpha, 6.183, 0.005)
	within(t, "a", m.A, 0.891, 0.005)
	within(t, "b", m.B, 1.614, 0.005)
}

// The analytic gradient agrees with finite differences.
func TestBGNBDGradient(t *testing.T) {
	d := cdnowData(t)
	for _, m := range []BGNBD{{R: 0.3, Alpha: 5, A: 0.9, B: 2}, {R: 0.5, Alpha: 6, A: 0.9, B: 1.6, Modified: true}} {
		g := make([]float64, 4)
		m.logLik(d, g)
		p := []float64{m.R, m.Alpha, m.A, m.B}
		for i := range p {
			h := 1e-6 * p[i]
			up, down := p, append([]float64(nil), p...)
			up = append([]float64(nil), p...)
			up[i] += h
			down[i] -= h
			f := func(q []float64) float64 { return -BGNBD{q[0], q[1], q[2], q[3], m.Modified}.LogLikelihood(d) }
			num := (f(up) - f(down)) / (2 * h)
			if math.Abs(num-g[i]) > 1e-4*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: d/dθ%d analytic %.6g, numeric %.6g", m.name(), i, g[i], num)
			}
		}
	}
}

func TestGammaGammaCDNOW(t *testing.T) {
	x, _, _, zbar := cdnow(t)
	d, err := NewSpendData(x, zbar)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.X) != 946 {
		t.Fatalf("%d repeat buyers, want 946", len(d.X))
	}
	m, fit, err := FitGammaGamma(d, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Gamma-Gamma %+v, log-likelihood %.4f, std err %v", m, fit.LogLikelihood, fit.StdErr)
	within(t, "p", m.P, 6.25, 0.005)
	within(t, "q", m.Q, 3.74, 0.005)
	within(t, "gamma", m.Gamma, 15.44, 0.005)
	if math.Abs(fit.LogLikelihood-(-4055.92)) > 0.01 {
		t.Errorf("log-likelihood %.4f, want -4055.92 ± 0.01", fit.LogLikelihood)
	}
	// A customer with no repeat purchase gets the population mean.
	if got, want := m.ExpectedValue(0, 0), m.P*m.Gamma/(m.Q-1); math.Abs(got-want) > 1e-9 {
		t.Errorf("expected value of a one-time buyer %v, want the population mean %v", got, want)
	}
}

func TestParetoNBDCDNOW(t *testing.T) {
	m, fit, err := FitParetoNBD(cdnowData(t), FitOptions{Init: []float64{0.5, 10, 0.5, 10}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Pareto/NBD %+v, log-likelihood %.4f, std err %v, %d iterations", m, fit.LogLikelihood, fit.StdErr, fit.Iterations)
	within(t, "r", m.R, 0.5533, 0.005)
	within(t, "alpha", m.Alpha, 10.578, 0.005)
	within(t, "s", m.S, 0.6062, 0.005)
	if math.Abs(fit.LogLikelihood-(-9594.97)) > 0.01 {
		t.Errorf("log-likelihood %.4f, want -9594.97 ± 0.01", fit.LogLikelihood)
	}
	pub := ParetoNBD{R: 0.5533, Alpha: 10.578, S: 0.6062, Beta: 11.67}
	sig3(t, "new customer, 52 weeks", pub.ExpectedPurchasesNew(52), 1.473)
	sig3(t, "x=26 customer, 52 weeks", pub.ExpectedPurchases(52, 26, 30.857, 31), 25.456)
	sig3(t, "x=26 customer, P(alive)", pub.ProbAlive(26, 30.857, 31), 0.9979)
}

// nPurchases is what predicts the probability of n purchases.
type nPurchases interface {
	Purchases
	ProbPurchases(n int, t, x, tx, T float64) float64
}

func TestProbPurchases(t *testing.T) {
	for _, m := range []nPurchases{BGNBD{R: 0.2426, Alpha: 4.4135, A: 0.7929, B: 2.4259},
		BGNBD{R: 0.525, Alpha: 6.183, A: 0.891, B: 1.614, Modified: true}, ParetoNBD{R: 0.5533, Alpha: 10.578, S: 0.6062, Beta: 11.67}} {
		for _, c := range [][3]float64{{0, 0, 38.86}, {2, 30.43, 38.86}, {26, 30.857, 31}, {5, 10, 38}} {
			// P(n) is a distribution whose mean is E[X(t)].
			sum, mean := 0.0, 0.0
			for n := 0; n < 400; n++ {
				p := m.ProbPurchases(n, 39, c[0], c[1], c[2])
				sum += p
				mean += float64(n) * p
			}
			if math.Abs(sum-1) > 1e-6 {
				t.Errorf("%T %v: P(n) sums to %v", m, c, sum)
			}
			if e := m.ExpectedPurchases(39, c[0], c[1], c[2]); math.Abs(mean-e) > 1e-4*math.Max(1, e) {
				t.Errorf("%T %v: mean of P(n) %v, E[X(39)] %v", m, c, mean, e)
			}
		}
	}
}

func TestPredictions(t *testing.T) {
	m := BGNBD{R: 0.2426, Alpha: 4.4135, A: 0.7929, B: 2.4259}
	for _, c := range [][3]float64{{0, 0, 38.86}, {2, 30.43, 38.86}, {26, 30.857, 31}, {5, 10, 38}} {
		// At the next-order time, P(at least one purchase) is one half.
		if tau, ok := m.NextOrder(c[0], c[1], c[2]); ok {
			if p := 1 - m.ProbPurchases(0, tau, c[0], c[1], c[2]); math.Abs(p-0.5) > 1e-9 {
				t.Errorf("%v: P(a purchase within %.2f) = %v, want 0.5", c, tau, p)
			}
		} else if pa := m.ProbAlive(c[0], c[1], c[2]); pa > 0.5 {
			t.Errorf("%v: no next order although P(alive) = %v", c, pa)
		}
	}
	// BG/NBD customers cannot drop out before a repeat purchase.
	if _, ok := m.NextOrder(0.0, 0, 38.86); !ok {
		t.Error("a customer with no repeat purchase is alive for BG/NBD: a next order is expected")
	}
	// CLV: undiscounted with margin 1 it is value × E[X(horizon)].
	clv := CLV(m, 20, 26, 30.857, 31, CLVOptions{Months: 12, UnitsPerMonth: 52.0 / 12, Margin: 1})
	if want := 20 * m.ExpectedPurchases(52, 26, 30.857, 31); math.Abs(clv-want) > 1e-9 {
		t.Errorf("undiscounted CLV %v, want %v", clv, want)
	}
	if d := CLV(m, 20, 26, 30.857, 31, CLVOptions{Months: 12, UnitsPerMonth: 52.0 / 12, Margin: 1, DiscountMonthly: 0.01}); !(d < clv && d > 0.9*clv) {
		t.Errorf("discounted CLV %v against %v", d, clv)
	}
}

func TestArtefactRoundTrip(t *testing.T) {
	d := cdnowData(t)
	for _, modified := range []bool{false, true} {
		m, fit, err := FitBGNBD(d, modified, FitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewArtefact(m, fit, "week", "1997-09-30")
		if err != nil {
			t.Fatal(err)
		}
		a.Spend = &GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
		b, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := LoadArtefact(b)
		if err != nil {
			t.Fatal(err)
		}
		pm, err := back.Purchases()
		if err != nil {
			t.Fatal(err)
		}
		if pm != Purchases(m) || back.StdErr["r"] != fit.StdErr[0] || back.Fit.LogLikelihood != fit.LogLikelihood || *back.Spend != *a.Spend {
			t.Errorf("round trip changed the model: %s", b)
		}
	}
	for _, bad := range []string{`{"version": 2, "kind": "bgnbd", "time_unit": "week"}`,
		`{"version": 1, "kind": "nbd", "time_unit": "week", "params": {}}`,
		`{"version": 1, "kind": "bgnbd", "time_unit": "week", "params": {"r": 1, "alpha": 1, "a": -1, "b": 1}}`,
		`{"version": 1, "kind": "bgnbd", "time_unit": "hour", "params": {"r": 1, "alpha": 1, "a": 1, "b": 1}}`,
		`not json`} {
		if _, err := LoadArtefact([]byte(bad)); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

// Pareto/NBD's next-order time, checked by simulating the posterior.
func TestParetoNextOrder(t *testing.T) {
	m := ParetoNBD{R: 0.5533, Alpha: 10.578, S: 0.6062, Beta: 11.67}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range [][3]float64{{26, 30.857, 31}, {3, 20, 30}, {1, 5, 10}, {0, 0, 2}} {
		x, tx, T := c[0], c[1], c[2]
		tau, ok := m.NextOrder(x, tx, T)
		pa := m.ProbAlive(x, tx, T)
		// Monte Carlo: P(a purchase within τ) = P(alive) · P(first purchase before death, within τ).
		const n = 400000
		hits := 0
		for i := 0; i < n; i++ {
			lambda := gammaDraw(rng, m.R+x) / (m.Alpha + T)
			mu := gammaDraw(rng, m.S) / (m.Beta + T)
			first, death := rng.ExpFloat64()/lambda, rng.ExpFloat64()/mu
			if ok && first < death && first < tau {
				hits++
			}
			if !ok && first < death {
				hits++
			}
		}
		p := pa * float64(hits) / n
		t.Logf("x=%v tx=%v T=%v: P(alive) %.3f, next order in %.2f (%v), simulated probability %.4f", x, tx, T, pa, tau, ok, p)
		if ok && math.Abs(p-0.5) > 0.005 {
			t.Errorf("%v: P(a purchase within %.2f) simulated %.4f, want 0.5", c, tau, p)
		}
		if !ok && p > 0.5+0.005 {
			t.Errorf("%v: no next order, yet the simulated probability of any purchase is %.4f", c, p)
		}
	}
}

// TestPredictHorizons: each horizon's predictions, on the CDNOW summary,
// are bit for bit what the definitions give customer by customer:
// P(alive) × the expectation given alive, P(alive) × CLV given alive ×
// the expected value; what does not depend on the horizon is the same for
// each.
func TestPredictHorizons(t *testing.T) {
	x, tx, T, zbar := cdnow(t)
	m := BGNBD{R: 0.2426, Alpha: 4.4135, A: 0.7929, B: 2.4259}
	gg := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	o := CLVOptions{Months: 12, UnitsPerMonth: 52.0 / 12, Margin: 1, DiscountMonthly: 0.01}
	horizons := []float64{1, 4, 52}
	ps := PredictHorizons(m, gg, x, tx, T, zbar, horizons, o)
	if len(ps) != len(horizons) {
		t.Fatalf("%d predictions for %d horizons", len(ps), len(horizons))
	}
	for i := range x {
		pa := m.ProbAlive(x[i], tx[i], T[i])
		v := gg.ExpectedValue(x[i], zbar[i])
		for k, h := range horizons {
			p := ps[k]
			if e := pa * m.ExpectedPurchasesIfAlive(h, x[i], T[i]); p.ExpectedPurchases[i] != e {
				t.Fatalf("customer %d, horizon %v: expected purchases %v, want %v", i, h, p.ExpectedPurchases[i], e)
			}
			if p.ProbAlive[i] != pa || p.ExpectedValue[i] != v || p.CLV[i] != pa*clvIfAlive(m, x[i], T[i], o)*v {
				t.Fatalf("customer %d, horizon %v: P(alive) %v, value %v, CLV %v", i, h, p.ProbAlive[i], p.ExpectedValue[i], p.CLV[i])
			}
		}
	}
}
