package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// finite fails the test when a prediction is NaN or infinite.
func finite(t *testing.T, name string, v float64) {
	t.Helper()
	if math.IsNaN(v) || math.IsInf(v, 0) {
		t.Errorf("%s is %v", name, v)
	}
}

// TestRobust: fits converge with finite predictions on extreme customers and on
// a base where nobody bought twice.
func TestRobust(t *testing.T) {
	x, tx, T, _ := cdnow(t)
	// Customers with 0, 1 and 500 repeat purchases.
	x = append(x, 0, 1, 500, 500)
	tx = append(tx, 0, 0.5, 38.5, 2)
	T = append(T, 39, 39, 39, 39)
	once := make([]float64, 3000)
	zeros := make([]float64, 3000)
	ages := make([]float64, 3000)
	for i := range ages {
		ages[i] = 1 + float64(i%52)
	}
	for _, c := range []struct {
		name     string
		x, tx, T []float64
	}{{"extremes", x, tx, T}, {"everyone bought once", once, zeros, ages}} {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewData(c.x, c.tx, c.T)
			if err != nil {
				t.Fatal(err)
			}
			for _, modified := range []bool{false, true} {
				m, fit, err := FitBGNBD(d, modified, FitOptions{})
				if err != nil {
					t.Fatalf("%s: %v", m.name(), err)
				}
				finite(t, "log-likelihood", fit.LogLikelihood)
				for _, row := range [][3]float64{{0, 0, 39}, {1, 0.5, 39}, {500, 38.5, 39}, {500, 2, 39}} {
					finite(t, "P(alive)", m.ProbAlive(row[0], row[1], row[2]))
					finite(t, "E[X(52)]", m.ExpectedPurchases(52, row[0], row[1], row[2]))
				}
				finite(t, "E[X(52)] of a new customer", m.ExpectedPurchasesNew(52))
				if !d.hasRepeats() {
					if e := m.ExpectedPurchasesNew(52); e > 1e-6 || fit.Note == "" {
						t.Errorf("%s with no repeat buyers predicts %v purchases (note %q), want none", m.name(), e, fit.Note)
					}
				}
			}
			p, fit, err := FitParetoNBD(d, FitOptions{})
			if err != nil {
				t.Fatalf("Pareto/NBD: %v", err)
			}
			finite(t, "Pareto log-likelihood", fit.LogLikelihood)
			if !d.hasRepeats() {
				if e := p.ExpectedPurchasesNew(52); e > 1e-6 || fit.Note == "" {
					t.Errorf("Pareto/NBD with no repeat buyers predicts %v purchases (note %q), want none", e, fit.Note)
				}
			}
			for _, row := range [][3]float64{{0, 0, 39}, {1, 0.5, 39}, {500, 38.5, 39}, {500, 2, 39}} {
				finite(t, "Pareto P(alive)", p.ProbAlive(row[0], row[1], row[2]))
				finite(t, "Pareto E[X(52)]", p.ExpectedPurchases(52, row[0], row[1], row[2]))
			}
		})
	}
}

func TestNewDataRejects(t *testing.T) {
	for _, c := range []struct{ x, tx, T float64 }{
		{-1, 0, 1}, {1.5, 1, 2}, {1, 3, 2}, {1, 1, 0}, {0, 1, 2}, {math.NaN(), 0, 1}, {1, math.Inf(1), 2}, {0, 0, -1},
	} {
		if _, err := NewData([]float64{c.x}, []float64{c.tx}, []float64{c.T}); err == nil {
			t.Errorf("%v: want an error", c)
		}
	}
}

// simulateBGNBD draws n customers from a BG/NBD process observed for T (each
// customer's T uniform in [T/4, T]) with spend from Gamma-Gamma.
func simulateBGNBD(rng *rand.Rand, n int, m BGNBD, gg GammaGamma, maxT float64) (x, tx, T, mean []float64) {
	gamma := func(shape, rate float64) float64 { return gammaDraw(rng, shape) / rate }
	for i := 0; i < n; i++ {
		lambda := gamma(m.R, m.Alpha)
		ga, gb := gammaDraw(rng, m.A), gammaDraw(rng, m.B)
		p := ga / (ga + gb)
		nu := gamma(gg.Q, gg.Gamma)
		age := maxT * (0.25 + 0.75*rng.Float64())
		t, k, last, total := 0.0, 0.0, 0.0, 0.0
		for {
			t += rng.ExpFloat64() / lambda
			if t > age {
				break
			}
			k++
			last = t
			total += gamma(gg.P, nu)
			if rng.Float64() < p {
				break
			}
		}
		x, tx, T = append(x, k), append(tx, last), append(T, age)
		if k > 0 {
			mean = append(mean, total/k)
		} else {
			mean = append(mean, 0)
		}
	}
	return
}

// gammaDraw is Gamma(shape, 1) by Marsaglia and Tsang.
func gammaDraw(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaDraw(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// TestRecovery: fits on 100,000 customers simulated from known parameters find
// each parameter within 3 standard errors.
func TestRecovery(t *testing.T) {
	truth := BGNBD{R: 0.25, Alpha: 4, A: 0.8, B: 2.5}
	spend := GammaGamma{P: 6, Q: 4, Gamma: 15}
	x, tx, T, mean := simulateBGNBD(rand.New(rand.NewPCG(7, 11)), 100000, truth, spend, 52)
	d, err := NewData(x, tx, T)
	if err != nil {
		t.Fatal(err)
	}
	m, fit, err := FitBGNBD(d, false, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := []float64{m.R, m.Alpha, m.A, m.B}
	for i, want := range []float64{truth.R, truth.Alpha, truth.A, truth.B} {
		z := (got[i] - want) / fit.StdErr[i]
		t.Logf("BG/NBD parameter %d: %.4f ± %.4f, truth %.4f (z=%.2f)", i, got[i], fit.StdErr[i], want, z)
		if math.Abs(z) > 3 {
			t.Errorf("BG/NBD parameter %d: %.4f ± %.4f is %.1f standard errors from %.4f", i, got[i], fit.StdErr[i], z, want)
		}
	}
	sd, err := NewSpendData(x, mean)
	if err != nil {
		t.Fatal(err)
	}
	g, gfit, err := FitGammaGamma(sd, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gotG := []float64{g.P, g.Q, g.Gamma}
	for i, want := range []float64{spend.P, spend.Q, spend.Gamma} {
		z := (gotG[i] - want) / gfit.StdErr[i]
		t.Logf("Gamma-Gamma parameter %d: %.4f ± %.4f, truth %.4f (z=%.2f)", i, gotG[i], gfit.StdErr[i], want, z)
		if math.Abs(z) > 3 {
			t.Errorf("Gamma-Gamma parameter %d: %.4f ± %.4f is %.1f standard errors from %.4f", i, gotG[i], gfit.StdErr[i], z, want)
		}
	}
}

// TestParetoA0Quadrature: the quadrature that takes over from the 2F1 series
// where it converges too slowly agrees with the series where both work.
func TestParetoA0Quadrature(t *testing.T) {
	for _, m := range []ParetoNBD{
		{R: 0.5533, Alpha: 10.578, S: 0.6062, Beta: 11.67}, // CDNOW, α < β
		{R: 0.5533, Alpha: 15, S: 0.6062, Beta: 3},         // α > β
		{R: 2, Alpha: 0.5, S: 3, Beta: 40},
	} {
		for _, row := range [][3]float64{{0, 0, 39}, {1, 0.5, 39}, {2, 30, 38}, {7, 1, 3}, {500, 38.5, 39}, {500, 2, 39}} {
			series, quad := m.logA0(row[0], row[1], row[2]), m.logA0Quad(row[0], row[1], row[2])
			if math.Abs(series-quad) > 1e-9*math.Max(1, math.Abs(series)) {
				t.Errorf("%+v at %v: ln A0 %v by the series, %v by quadrature", m, row, series, quad)
			}
		}
	}
}
