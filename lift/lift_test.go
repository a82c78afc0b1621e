package lift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// arms draws n treated and m control members converting at pt and pc, each
// buyer spending an exponential amount of mean spend.
func arms(r *rand.Rand, n, m int, pt, pc, spend float64) (treated, control []Outcome) {
	draw := func(k int, p float64) []Outcome {
		out := make([]Outcome, k)
		for i := range out {
			if r.Float64() < p {
				out[i] = Outcome{Orders: 1, Revenue: r.ExpFloat64() * spend, Converted: true}
			}
		}
		return out
	}
	return draw(n, pt), draw(m, pc)
}

// TestCoverage: over repeated draws the 95% interval of the conversion
// difference holds the true effect about 95% of the time, with and without
// an effect, and with none it calls a lift or a fall about 5% of the time.
func TestCoverage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, m   int
		pt, pc float64
	}{
		{"no effect", 2700, 300, 0.2, 0.2}, {"+5 points", 2700, 300, 0.25, 0.2},
		// A segment's size: the control group of 25 often has no buyer,
		// where a Wald interval collapses to a point.
		{"small control, rare buyers", 225, 25, 0.06, 0.03},
	} {
		r := rand.New(rand.NewPCG(21, 1))
		const reps = 1000
		covered, called := 0, 0
		for range reps {
			res := Measure(arms(r, tc.n, tc.m, tc.pt, tc.pc, 50))
			if res.ConversionLow <= tc.pt-tc.pc && tc.pt-tc.pc <= res.ConversionHigh {
				covered++
			}
			if res.Verdict == Lift || res.Verdict == Negative {
				called++
			}
		}
		cov := float64(covered) / reps
		t.Logf("%s: the interval held the true difference in %.1f%% of %d draws; an effect was called in %.1f%%", tc.name, 100*cov, reps, 100*float64(called)/reps)
		if cov < 0.93 || (tc.m >= 300 && cov > 0.97) {
			t.Errorf("%s: coverage %.3f, want 0.95 ± 0.02 (at least 0.93 in small arms)", tc.name, cov)
		}
		if fp := float64(called) / reps; tc.pt == tc.pc && (fp < 0.03 || fp > 0.07) {
			t.Errorf("no effect called an effect in %.3f of draws, want 0.05 ± 0.02", fp)
		}
	}
}

// TestMDE: an effect the size of the MDE is found about 80% of the time.
func TestMDE(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 2))
	exact := func(n int) []Outcome { // exactly 20% converted: the MDE at the true rate
		out := make([]Outcome, n)
		for i := range n / 5 {
			out[i] = Outcome{Orders: 1, Revenue: 50, Converted: true}
		}
		return out
	}
	mde := Measure(exact(2700), exact(300)).MDE
	found := 0
	const reps = 1000
	for range reps {
		if Measure(arms(r, 2700, 300, 0.2+mde, 0.2, 50)).Verdict == Lift {
			found++
		}
	}
	power := float64(found) / reps
	t.Logf("MDE %.4f (2,700 treated, 300 control, 20%% base): found in %.1f%% of draws", mde, 100*power)
	if power < 0.75 || power > 0.86 {
		t.Errorf("power at the MDE %.3f, want 0.80 ± 0.05", power)
	}
}

// TestRevenue: Welch's interval holds a known difference in spend.
func TestRevenue(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 3))
	treated, control := arms(r, 20000, 20000, 0.3, 0.3, 50)
	for i := range treated {
		treated[i].Revenue *= 1.2 // +20% spend
	}
	res := Measure(treated, control)
	want := 0.3 * 50 * 0.2
	if res.RevenueLow > want || res.RevenueHigh < want || math.Abs(res.RevenueRelative-0.2) > 0.06 {
		t.Errorf("revenue per member +%.2f (%.2f to %.2f, %+.1f%%), want +%.2f (+20%%)", res.RevenueDiff, res.RevenueLow, res.RevenueHigh, 100*res.RevenueRelative, want)
	}
}

func TestTooSmall(t *testing.T) {
	for _, tc := range []struct {
		treated, control []Outcome
	}{
		{make([]Outcome, 200), make([]Outcome, 19)},
		{make([]Outcome, 200), make([]Outcome, 40)}, // nobody bought
	} {
		if v := Measure(tc.treated, tc.control).Verdict; v != TooSmall {
			t.Errorf("%d treated, %d control: %q, want %q", len(tc.treated), len(tc.control), v, TooSmall)
		}
	}
}

// TestCoverageAtSegmentSizes: at the sizes Tessera publishes (225, 360 and
// 450 treated members against 25, 40 and 50 controls) and buyer rates of 2
// to 10%, with and without a real effect (conversion +50%), 2,000 draws
// each of buyers spending lognormal amounts: the 95% intervals of
// conversion and of revenue per member hold the true difference at least
// 93% of the time where they are given (else the draw says too small to
// tell, or leaves revenue unmeasured); under no effect the verdict claims
// one at most 5% of the time; verdict and p-value agree on every draw.
func TestCoverageAtSegmentSizes(t *testing.T) {
	const draws, sigma = 2000, 0.8
	meanAmount := 50 * math.Exp(sigma*sigma/2)
	for _, size := range [][2]int{{225, 25}, {360, 40}, {450, 50}} {
		for _, rate := range []float64{0.02, 0.05, 0.10} {
			for _, effect := range []float64{0, 0.5} {
				r := rand.New(rand.NewPCG(uint64(size[0]), uint64(rate*1000+effect*10)))
				arm := func(n int, p float64) []Outcome {
					o := make([]Outcome, n)
					for i := range o {
						if r.Float64() < p {
							o[i] = Outcome{Orders: 1, Revenue: 50 * math.Exp(sigma*r.NormFloat64()), Converted: true}
						}
					}
					return o
				}
				treatedRate := rate * (1 + effect)
				convDiff, revDiff := treatedRate-rate, (treatedRate-rate)*meanAmount
				var measured, convHeld, revMeasured, revHeld, claimed int
				for range draws {
					res := Measure(arm(size[0], treatedRate), arm(size[1], rate))
					if res.Verdict == TooSmall {
						continue
					}
					measured++
					if res.ConversionLow <= convDiff && convDiff <= res.ConversionHigh {
						convHeld++
					}
					if !math.IsNaN(res.RevenueLow) {
						revMeasured++
						if res.RevenueLow <= revDiff && revDiff <= res.RevenueHigh {
							revHeld++
						}
					}
					decided := res.Verdict == Lift || res.Verdict == Negative
					if decided != (res.ConversionP < 0.05) {
						t.Fatalf("%d/%d at %.2f: verdict %q with p %.4f (interval %.4f to %.4f)", size[0], size[1], rate, res.Verdict, res.ConversionP, res.ConversionLow, res.ConversionHigh)
					}
					if effect == 0 && decided {
						claimed++
					}
				}
				name := fmt.Sprintf("%d/%d, %.0f%% buyers, effect %+.0f%%", size[0], size[1], 100*rate, 100*effect)
				conv, rev := float64(convHeld)/float64(max(measured, 1)), float64(revHeld)/float64(max(revMeasured, 1))
				fpr := float64(claimed) / float64(max(measured, 1))
				t.Logf("%s: %d measured, conversion held %.3f; revenue measured %d, held %.3f; false claims %.3f", name, measured, conv, revMeasured, rev, fpr)
				if measured > 0 && conv < 0.93 {
					t.Errorf("%s: the conversion interval held the true difference %.3f of the time", name, conv)
				}
				if revMeasured > 0 && rev < 0.93 {
					t.Errorf("%s: the revenue interval held the true difference %.3f of the time", name, rev)
				}
				if effect == 0 && fpr > 0.05 {
					t.Errorf("%s: the verdict claimed an effect %.3f of the time under none", name, fpr)
				}
			}
		}
	}
}

// TestQValues: Benjamini and Hochberg's q-values of a worked example; what
// was not measured stays out; under no effect in any of 200 segments, a q
// under 0.05 is as rare as one false claim in the whole date should be.
func TestQValues(t *testing.T) {
	got := QValues([]float64{0.01, 0.04, 0.03, 0.005, math.NaN()})
	want := []float64{0.02, 0.04, 0.04, 0.02}
	for i, w := range want {
		if math.Abs(got[i]-w) > 1e-12 {
			t.Errorf("q[%d] = %v, want %v (all: %v)", i, got[i], w, got)
		}
	}
	if !math.IsNaN(got[4]) {
		t.Errorf("a segment not measured got q %v", got[4])
	}
	r := rand.New(rand.NewPCG(7, 7))
	dates, withDiscovery := 500, 0
	for range dates {
		p := make([]float64, 200)
		for i := range p {
			p[i] = r.Float64() // no effect: uniform p-values
		}
		for _, q := range QValues(p) {
			if q < 0.05 {
				withDiscovery++
				break
			}
		}
	}
	if share := float64(withDiscovery) / float64(dates); share > 0.08 {
		t.Errorf("%.3f of dates without any effect show a segment at q < 0.05", share)
	}
}
