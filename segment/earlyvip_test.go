package segment

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/optimize"
)

// cdnowFirstWeeks reads the CDNOW sample's buyers: first purchase day, first
// 7 days (purchase days, dollars, CDs) and revenue through 1998-06-30 (the
// data's 78 weeks).
func cdnowFirstWeeks(t *testing.T) []EarlyVIPRow {
	t.Helper()
	f, err := os.Open("../testdata/cdnow/CDNOW_sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type txn struct {
		day       int32
		value, cd float64
	}
	byCust := map[string][]txn{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		d, err := time.Parse("20060102", fs[2])
		if err != nil {
			t.Fatal(err)
		}
		cds, _ := strconv.ParseFloat(fs[3], 64)
		v, _ := strconv.ParseFloat(fs[4], 64)
		if _, ok := byCust[fs[1]]; !ok {
			order = append(order, fs[1])
		}
		byCust[fs[1]] = append(byCust[fs[1]], txn{int32(d.Unix() / 86400), v, cds})
	}
	var rows []EarlyVIPRow
	for _, id := range order {
		ts := byCust[id]
		first := ts[0].day
		for _, x := range ts {
			first = min(first, x.day)
		}
		r := EarlyVIPRow{FirstDay: first, Week: FirstWeek{RatingMean: math.NaN()}}
		days := map[int32]bool{}
		for _, x := range ts {
			r.HorizonRevenue += x.value
			if x.day < first+7 {
				r.Week.Revenue += x.value
				r.Week.Items += x.cd
				days[x.day] = true
			}
		}
		r.Week.Orders = float64(len(days))
		rows = append(rows, r)
	}
	return rows
}

// plainLogistic is the baseline: an unpenalised logistic regression on the
// same inputs, standardised, nothing dropped or clipped.
func plainLogistic(t *testing.T, x [][]float64, y []bool) func([]float64) float64 {
	t.Helper()
	d := len(x[0])
	mean, sd := make([]float64, d), make([]float64, d)
	for _, r := range x {
		for j, v := range r {
			mean[j] += v / float64(len(x))
		}
	}
	for _, r := range x {
		for j, v := range r {
			sd[j] += (v - mean[j]) * (v - mean[j]) / float64(len(x))
		}
	}
	for j := range sd {
		if sd[j] = math.Sqrt(sd[j]); sd[j] == 0 {
			sd[j] = 1
		}
	}
	z := func(r []float64, w []float64) float64 {
		s := w[d]
		for j, v := range r {
			s += w[j] * (v - mean[j]) / sd[j]
		}
		return s
	}
	loss := func(w []float64) float64 {
		f := 0.0
		for i, r := range x {
			s := z(r, w)
			if y[i] {
				s = -s
			}
			f += softplus(s)
		}
		return f / float64(len(x))
	}
	res, err := optimize.Minimize(optimize.Problem{Func: loss}, make([]float64, d+1), nil, &optimize.NelderMead{})
	if err != nil && res == nil {
		t.Fatal(err)
	}
	return func(r []float64) float64 { return 1 / (1 + math.Exp(-z(r, res.X))) }
}

// TestEarlyVIPCDNOW: on the CDNOW sample (VIP: top 2% of customers by revenue
// over the 78 weeks; first 7 days only; trained on first purchases in
// January and February 1997, tested on March), Tessera's model ranks the
// March buyers no worse than a plain logistic regression on the same inputs.
func TestEarlyVIPCDNOW(t *testing.T) {
	rows := cdnowFirstWeeks(t)
	o := DefaultEarlyVIP
	o.Label, o.TopShare = LabelTopShare, 0.02
	y, cut := LabelCohort(rows, o)
	march := int32(time.Date(1997, 3, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	var train, test []EarlyVIPRow
	var yTrain, yTest []bool
	vips := 0
	for i, r := range rows {
		if y[i] {
			vips++
		}
		if r.FirstDay < march {
			train, yTrain = append(train, r), append(yTrain, y[i])
		} else {
			test, yTest = append(test, r), append(yTest, y[i])
		}
	}
	m, err := FitEarlyVIPSplit(train, yTrain, test, yTest, cut, o)
	if err != nil {
		t.Fatal(err)
	}
	xs := func(rs []EarlyVIPRow) [][]float64 {
		out := make([][]float64, len(rs))
		for i, r := range rs {
			out[i] = r.Week.inputs()
		}
		return out
	}
	plain := plainLogistic(t, xs(train), yTrain)
	var scores []float64
	for _, x := range xs(test) {
		scores = append(scores, plain(x))
	}
	base := Classify(scores, yTest, 0.5)
	testVIPs := 0
	for _, v := range yTest {
		if v {
			testVIPs++
		}
	}
	t.Logf("CDNOW: %d buyers, %d VIPs (top 2%% by 78-week revenue, at least $%.2f); trained on %d (Jan-Feb), tested on %d (March) with %d VIPs",
		len(rows), vips, cut, len(train), len(test), testVIPs)
	t.Logf("Tessera: AUC %.4f, average precision %.4f, top-5%% precision %.3f (base rate %.3f), grade %s; inputs dropped %v",
		m.Metrics.AUC, m.Metrics.AveragePrecision, m.Metrics.PrecisionTop5, m.Metrics.BaseRate, m.Grade, m.Model.Dropped)
	t.Logf("plain logistic regression: AUC %.4f, average precision %.4f, top-5%% precision %.3f", base.AUC, base.AveragePrecision, base.PrecisionTop5)
	if m.Metrics.AUC < base.AUC-0.01 {
		t.Errorf("Tessera's AUC %.4f is more than 0.01 below the plain logistic regression's %.4f", m.Metrics.AUC, base.AUC)
	}
}

// TestEarlyVIPConstantInput: in a one-category shop the first week's
// categories never vary in training, so the input is dropped; a buyer with
// an unusual 0 there gets the probability the rest of the week supports.
func TestEarlyVIPConstantInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var rows []EarlyVIPRow
	for i := 0; i < 4000; i++ {
		rev := math.Exp(3 + rng.NormFloat64())
		items := float64(1 + rng.IntN(4))
		rows = append(rows, EarlyVIPRow{FirstDay: int32(i / 10), HorizonRevenue: rev * (1 + 3*rng.Float64()),
			Week: FirstWeek{Orders: 1, Revenue: rev, Items: items, RatingMean: math.NaN(), Events: float64(rng.IntN(20)), Categories: 1}})
	}
	m, err := FitEarlyVIP(rows, DefaultEarlyVIP)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(m.Model.Dropped, ","), "categories") {
		t.Errorf("inputs dropped: %v, want categories among them", m.Model.Dropped)
	}
	w := rows[0].Week
	usual := m.Probability(w)
	w.Categories = 0
	if p := m.Probability(w); p != usual {
		t.Errorf("categories 0 instead of the constant 1: probability %.4f, against %.4f for the same week otherwise", p, usual)
	}
	t.Logf("dropped %v; probability %.4f either way", m.Model.Dropped, usual)
}

// TestLogisticClip: a standardised input counts at most Clip standard
// deviations, however far out the raw value lies.
func TestLogisticClip(t *testing.T) {
	m := Logistic{Inputs: []string{"v"}, Mean: []float64{0}, Scale: []float64{2}, Weights: []float64{1}, Clip: 5}
	want := 1 / (1 + math.Exp(-5))
	for _, v := range []float64{10, 100, 1e12} {
		if p := m.Probability([]float64{v}); math.Abs(p-want) > 1e-12 {
			t.Errorf("value %g: probability %.6f, want %.6f (clipped at 5 standard deviations)", v, p, want)
		}
	}
	if p := m.Probability([]float64{4}); math.Abs(p-1/(1+math.Exp(-2))) > 1e-12 {
		t.Errorf("value 4 (2 standard deviations): %.6f", p)
	}
}

// TestEarlyVIPRefusals: cohorts whose label leaves nothing to predict, or
// whose test split cannot measure a model, get no model, and the error says
// why; CDNOW, where VIPs are made after the first week, gets one.
func TestEarlyVIPRefusals(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	// cohort draws n buyers a day apart; later(i) is what buyer i spends
	// after the first week.
	cohort := func(n int, later func(i int, first float64) float64) []EarlyVIPRow {
		rows := make([]EarlyVIPRow, n)
		for i := range rows {
			first := math.Round(20+rng.ExpFloat64()*60) + 0.5
			rows[i] = EarlyVIPRow{FirstDay: int32(i), Week: FirstWeek{Orders: 1, Revenue: first, Items: 1, RatingMean: math.NaN(), Categories: 1},
				HorizonRevenue: first + later(i, first)}
		}
		return rows
	}
	o := DefaultEarlyVIP
	for _, c := range []struct {
		name string
		rows []EarlyVIPRow
		o    EarlyVIPOptions
		want string // in the error; "" for a model
	}{
		// A marketplace where every buyer ordered once.
		{"one order each", cohort(2000, func(int, float64) float64 { return 0 }), o, "0 of the cohort's 2000 buyers bought after their first week"},
		// A few repeat buyers spending little: the VIPs are the big first orders.
		{"first week decides", cohort(2000, func(i int, _ float64) float64 {
			if i%50 == 0 {
				return 1
			}
			return 0
		}), o, "VIPs were VIPs by their first week's revenue alone"},
		// Later spending, far above the first week's and unrelated to it:
		// nothing to learn, grade D.
		{"noise", cohort(4000, func(int, float64) float64 { return 5000 * rng.ExpFloat64() * float64(rng.IntN(2)) }), o, "below early_vip.min_grade C"},
		// VIPs only among the oldest buyers: none left to test on.
		{"no VIP to test on", cohort(2000, func(i int, first float64) float64 {
			if i < 1000 && i%10 == 0 {
				return 5000 + 100*first
			}
			return 0
		}), o, "the test cohort (the newest 500 buyers) has 0 VIPs"},
		{"CDNOW", cdnowFirstWeeks(t), func() EarlyVIPOptions { o := o; o.Label = LabelTopShare; return o }(), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := FitEarlyVIP(c.rows, c.o)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("no model: %v", err)
			case c.want == "":
				t.Logf("grade %s, AUC %.3f", m.Grade, m.Metrics.AUC)
			case err == nil:
				t.Fatalf("a model, grade %s, AUC %.3f; want refused: %s", m.Grade, m.Metrics.AUC, c.want)
			case !strings.Contains(err.Error(), c.want):
				t.Fatalf("refused: %v; want %q", err, c.want)
			default:
				t.Log(err)
			}
		})
	}
}
