package model

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestGateCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		h    History
		want []string // substrings of the reasons, in order; none: passed
	}{
		{"enough", History{Buyers: 5000, RepeatBuyers: 900, HistoryDays: 400, DaysSinceLastPurchase: 1}, nil},
		{"few buyers", History{Buyers: 300, RepeatBuyers: 200, HistoryDays: 400, DaysSinceLastPurchase: 1}, []string{"300 buyers, fewer than 500"}},
		{"nobody twice", History{Buyers: 2000, HistoryDays: 400, DaysSinceLastPurchase: 3}, []string{"0 customers bought more than once"}},
		{"young", History{Buyers: 900, RepeatBuyers: 150, HistoryDays: 90, DaysSinceLastPurchase: 1}, []string{"90 days of order history, fewer than 180"}},
		{"stopped", History{Buyers: 900, RepeatBuyers: 150, HistoryDays: 900, DaysSinceLastPurchase: 75}, []string{"the newest purchase is 75 days old"}},
		{"everything", History{Buyers: 10, HistoryDays: 20, DaysSinceLastPurchase: 40}, []string{"10 buyers", "0 customers", "20 days", "40 days old"}},
	} {
		g := DefaultGate.Check(c.h)
		if g.Passed != (len(c.want) == 0) || len(g.Reasons) != len(c.want) {
			t.Errorf("%s: passed %v, reasons %q; want %q", c.name, g.Passed, g.Reasons, c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(g.Reasons[i], w) {
				t.Errorf("%s: reason %q, want it to say %q", c.name, g.Reasons[i], w)
			}
		}
	}
}

func TestHistoryOf(t *testing.T) {
	// Days: x repeat days, t_x from the first to the last, T from the first to the day before the date.
	h := HistoryOf([]float64{0, 2, 1}, []float64{0, 30, 5}, []float64{10, 100, 40})
	if h.Buyers != 3 || h.RepeatBuyers != 2 || h.HistoryDays != 101 || h.DaysSinceLastPurchase != 11 {
		t.Errorf("%+v, want 3 buyers, 2 repeat, 101 days of history, the newest purchase 11 days old", h)
	}
}

// TestDegenerateFits: a base with a single repeat buyer passes no gate of
// fit quality, whatever the optimiser returns; the CDNOW-like fit does.
func TestDegenerateFits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var x, tx, T []float64
	for i := 0; i < 600; i++ {
		x, tx, T = append(x, 0), append(tx, 0), append(T, float64(30+rng.IntN(300)))
	}
	x[0], tx[0] = 1, 20
	d, err := NewData(x, tx, T)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bgnbd", "mbgnbd", "pnbd"} {
		pm, fit, err := FitPurchases(name, d, FitOptions{})
		if err != nil {
			t.Logf("%s: not fitted: %v", name, err)
			continue
		}
		a, err := NewArtefact(pm, fit, "day", "2026-01-01")
		if err != nil {
			t.Fatal(err)
		}
		why := Degenerate(a)
		t.Logf("%s: %v; degenerate: %q", name, a.Params, why)
		if why == "" {
			t.Errorf("%s fitted on one repeat buyer of 600 (%v, standard errors %v) is not found degenerate", name, a.Params, a.StdErr)
		}
	}
	// Many repeat buyers: a determined fit.
	sx, stx, sT, _ := simulateBGNBD(rng, 5000, BGNBD{R: 0.25, Alpha: 4, A: 0.8, B: 2.5}, GammaGamma{P: 6, Q: 4, Gamma: 15}, 52)
	d, err = NewData(sx, stx, sT)
	if err != nil {
		t.Fatal(err)
	}
	pm, fit, err := FitBGNBD(d, true, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewArtefact(pm, fit, "week", "2026-01-01")
	if why := Degenerate(a); why != "" {
		t.Errorf("a fit on 5,000 simulated customers is called degenerate: %s", why)
	}
}

func TestGradeAndChoice(t *testing.T) {
	for _, c := range []struct {
		m    Metrics
		want string
	}{
		{Metrics{MAE: 0.8, ActualTotal: 100, Quality: Quality{NaiveMAE: 1, AggregateError: 0.05, CurveError: 0.06}}, GradeA},
		{Metrics{MAE: 0.95, ActualTotal: 100, Quality: Quality{NaiveMAE: 1, AggregateError: -0.12, CurveError: 0.12}}, GradeB},
		{Metrics{MAE: 1.2, ActualTotal: 100, Quality: Quality{NaiveMAE: 1, AggregateError: 0.25, CurveError: 0.3}}, GradeC},
		{Metrics{MAE: 1.2, ActualTotal: 100, Quality: Quality{NaiveMAE: 1, AggregateError: 0.5, CurveError: 0.5}}, GradeD},
		{Metrics{MAE: 0.8, ActualTotal: 0, Quality: Quality{NaiveMAE: 1}}, GradeC}, // nobody bought in the holdout: no aggregate to judge
	} {
		if g := c.m.grade(); g != c.want {
			t.Errorf("%+v: grade %s, want %s", c.m, g, c.want)
		}
	}
	// The retailer of issue 18: MBG/NBD wins on MAE alone but misses the total.
	cs := []Candidate{
		{Name: "mbgnbd", Metrics: Metrics{Customers: 1, MAE: 0.7945, ActualTotal: 1, Quality: Quality{NaiveMAE: 1, AggregateError: -0.190, CurveError: 0.19}}},
		{Name: "bgnbd", Metrics: Metrics{Customers: 1, MAE: 0.8187, ActualTotal: 1, Quality: Quality{NaiveMAE: 1, AggregateError: -0.143, CurveError: 0.143}}},
	}
	if best, _ := Choose(cs); best.Name != "bgnbd" {
		t.Errorf("chose %s, want bgnbd (MAE 0.8187 but aggregate −14.3%% against −19.0%%)", best.Name)
	}
}
