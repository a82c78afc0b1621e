package lift

import (
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
