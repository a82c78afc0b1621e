package segment

import (
	"github.com/tessera-cdp/tessera/model"

	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// FirstWeek are a buyer's first seven days from the first order: what the
// early potential-VIP model sees.
type FirstWeek struct {
	Orders, Revenue, Items, DiscountShare float64
	RatingMean                            float64 // NaN when nothing was rated
	Events, Categories                    float64
}

// EarlyVIPInputs names the model's inputs, in the order of FirstWeek.inputs.
var EarlyVIPInputs = []string{"log_revenue", "orders", "log_items", "log_avg_item_price", "discount_share", "rated", "rating", "log_events", "categories"}

func (w FirstWeek) inputs() []float64 {
	rated, rating := 0.0, 0.0
	if !math.IsNaN(w.RatingMean) {
		rated, rating = 1, w.RatingMean-3
	}
	perItem := 0.0
	if w.Items > 0 {
		perItem = math.Log1p(math.Max(0, w.Revenue) / w.Items)
	}
	return []float64{math.Log1p(math.Max(0, w.Revenue)), w.Orders, math.Log1p(w.Items), perItem, w.DiscountShare, rated, rating, math.Log1p(w.Events), w.Categories}
}

// Logistic is an L2-regularised logistic regression on standardised inputs.
type Logistic struct {
	Inputs  []string  `json:"inputs"`
	Mean    []float64 `json:"mean"`
	Scale   []float64 `json:"scale"`
	Weights []float64 `json:"weights"`
	Bias    float64   `json:"bias"`
	L2      float64   `json:"l2"`
	// Dropped are the inputs constant or nearly so in training (weight 0):
	// a value the training rows never showed must not decide a probability.
	Dropped []string `json:"dropped,omitempty"`
	// Clip bounds each standardised input to ±Clip (0: none, as in models
	// stored before it existed).
	Clip float64 `json:"clip,omitempty"`
}

// inputClip is the bound of standardised inputs: five standard deviations.
const inputClip = 5

// Probability of the positive class for raw inputs x.
func (m Logistic) Probability(x []float64) float64 {
	z := m.Bias
	for j, v := range x {
		if m.Weights[j] == 0 {
			continue
		}
		s := (v - m.Mean[j]) / m.Scale[j]
		if m.Clip > 0 {
			s = math.Max(-m.Clip, math.Min(m.Clip, s))
		}
		z += m.Weights[j] * s
	}
	return 1 / (1 + math.Exp(-z))
}

// nearlyConstant: fewer than this share of the training rows (and at
// least 5 rows) differ from the input's most common value.
const nearlyConstant = 0.001

// constantInputs says which inputs (columns of x) are constant or nearly so.
func constantInputs(x [][]float64, d int) []bool {
	out := make([]bool, d)
	floor := max(5, int(nearlyConstant*float64(len(x))))
	for j := 0; j < d; j++ {
		count := map[float64]int{}
		mode := 0
		for _, row := range x {
			count[row[j]]++
			mode = max(mode, count[row[j]])
		}
		out[j] = len(x)-mode < floor
	}
	return out
}

// FitLogistic fits the weights by maximum penalised likelihood (L-BFGS on the
// mean log-loss plus l2 times the squared weights; the bias is not penalised).
func FitLogistic(names []string, x [][]float64, y []bool, l2 float64) (Logistic, error) {
	n := len(x)
	if n == 0 || len(y) != n {
		return Logistic{}, errors.New("logistic: no rows, or labels that do not match them")
	}
	d := len(names)
	m := Logistic{Inputs: names, Mean: make([]float64, d), Scale: make([]float64, d), Weights: make([]float64, d), L2: l2, Clip: inputClip}
	drop := constantInputs(x, d)
	for _, row := range x {
		for j, v := range row {
			m.Mean[j] += v / float64(n)
		}
	}
	for _, row := range x {
		for j, v := range row {
			m.Scale[j] += (v - m.Mean[j]) * (v - m.Mean[j]) / float64(n)
		}
	}
	for j := range m.Scale {
		m.Scale[j] = math.Sqrt(m.Scale[j])
		if drop[j] = drop[j] || m.Scale[j] == 0; drop[j] {
			m.Scale[j] = 1 // its standardised value is 0 below: the weight stays at 0
			m.Dropped = append(m.Dropped, names[j])
		}
	}
	z := make([][]float64, n)
	for i, row := range x {
		z[i] = make([]float64, d)
		for j, v := range row {
			if !drop[j] {
				z[i][j] = math.Max(-inputClip, math.Min(inputClip, (v-m.Mean[j])/m.Scale[j]))
			}
		}
	}
	loss := func(w, grad []float64) float64 {
		f := 0.0
		if grad != nil {
			clear(grad)
		}
		for i, row := range z {
			s := w[d]
			for j, v := range row {
				s += w[j] * v
			}
			// log(1 + e^s) − y s, stably
			if y[i] {
				f += softplus(-s)
			} else {
				f += softplus(s)
			}
			if grad != nil {
				p := 1 / (1 + math.Exp(-s))
				if y[i] {
					p--
				}
				for j, v := range row {
					grad[j] += p * v
				}
				grad[d] += p
			}
		}
		f /= float64(n)
		for j := 0; j < d; j++ {
			f += l2 * w[j] * w[j]
		}
		if grad != nil {
			for j := range grad {
				grad[j] /= float64(n)
				if j < d {
					grad[j] += 2 * l2 * w[j]
				}
			}
		}
		return f
	}
	p := optimize.Problem{Func: func(w []float64) float64 { return loss(w, nil) }, Grad: func(g, w []float64) { loss(w, g) }}
	res, err := optimize.Minimize(p, make([]float64, d+1), &optimize.Settings{GradientThreshold: 1e-8, MajorIterations: 1000}, &optimize.LBFGS{})
	if res == nil {
		return Logistic{}, fmt.Errorf("logistic: %w: %v", model.ErrNotConverged, err)
	}
	copy(m.Weights, res.X[:d])
	for j := range drop {
		if drop[j] {
			m.Weights[j] = 0
		}
	}
	m.Bias = res.X[d]
	return m, nil
}

func softplus(s float64) float64 {
	if s > 0 {
		return s + math.Log1p(math.Exp(-s))
	}
	return math.Log1p(math.Exp(s))
}

// ClassifierMetrics are a scorer's quality on labelled rows.
type ClassifierMetrics struct {
	Rows          int     `json:"rows"`
	Positives     int     `json:"positives"`
	BaseRate      float64 `json:"base_rate"`
	AUC           float64 `json:"auc"`
	Threshold     float64 `json:"threshold"`
	Precision     float64 `json:"precision"` // at the threshold
	Recall        float64 `json:"recall"`
	PrecisionTop1 float64 `json:"precision_top_1pct"`
	PrecisionTop5 float64 `json:"precision_top_5pct"`
	// AveragePrecision is the mean precision at the rank of each positive.
	AveragePrecision float64 `json:"average_precision"`
}

// AUC is the area under the ROC curve of scores against labels: the chance
// that a random positive scores above a random negative (ties count half).
func AUC(scores []float64, y []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var pos, neg, rankSum float64
	for k := 0; k < len(idx); {
		j := k
		for j < len(idx) && scores[idx[j]] == scores[idx[k]] {
			j++
		}
		mid := float64(k+j+1) / 2 // mean 1-based rank of the tie group
		for _, i := range idx[k:j] {
			if y[i] {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		k = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// Classify measures scores against labels at a threshold.
func Classify(scores []float64, y []bool, threshold float64) ClassifierMetrics {
	m := ClassifierMetrics{Rows: len(scores), Threshold: threshold, AUC: AUC(scores, y)}
	var tp, fp int
	for i, s := range scores {
		if y[i] {
			m.Positives++
		}
		if s >= threshold {
			if y[i] {
				tp++
			} else {
				fp++
			}
		}
	}
	if m.Rows > 0 {
		m.BaseRate = float64(m.Positives) / float64(m.Rows)
	}
	if tp+fp > 0 {
		m.Precision = float64(tp) / float64(tp+fp)
	}
	if m.Positives > 0 {
		m.Recall = float64(tp) / float64(m.Positives)
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	top := func(share float64) float64 {
		k := max(1, int(math.Round(share*float64(len(idx)))))
		if len(idx) == 0 {
			return 0
		}
		hits := 0
		for _, i := range idx[:min(k, len(idx))] {
			if y[i] {
				hits++
			}
		}
		return float64(hits) / float64(min(k, len(idx)))
	}
	m.PrecisionTop1, m.PrecisionTop5 = top(0.01), top(0.05)
	hits := 0
	for k, i := range idx {
		if y[i] {
			hits++
			m.AveragePrecision += float64(hits) / float64(k+1)
		}
	}
	if hits > 0 {
		m.AveragePrecision /= float64(hits)
	}
	return m
}

// EarlyVIPRow is one buyer of a training cohort: the day of the first order,
// the first week, and the revenue of the horizon that starts with it.
type EarlyVIPRow struct {
	FirstDay       int32 // days since 1970-01-01
	Week           FirstWeek
	HorizonRevenue float64
}

// EarlyVIPOptions configure the early potential-VIP model.
type EarlyVIPOptions struct {
	// HorizonDays: a buyer "became VIP" when the revenue of this many days from
	// the first order puts them in the cohort's VIP set (the smallest set of
	// top buyers that brings RevenueShare of the cohort's horizon revenue).
	HorizonDays  int     `yaml:"horizon_days"`
	RevenueShare float64 `yaml:"revenue_share"`
	// Label: revenue_share (the default, above) or top_share: a buyer
	// "became VIP" when in the TopShare of the cohort's buyers by horizon
	// revenue ("will this customer be in my top 2%?").
	Label    string  `yaml:"label"`
	TopShare float64 `yaml:"top_share"`
	// The gate: no model from a cohort under MinCohort buyers, or with fewer
	// than MinPositives VIPs among the older buyers it learns from.
	MinCohort    int `yaml:"min_cohort"`
	MinPositives int `yaml:"min_positives"`
	// CohortDays: buyers whose first order falls in this many days before the
	// last complete horizon are the training cohort.
	CohortDays int `yaml:"cohort_days"`
	// TestShare: the newest share of the cohort is held out for the metrics.
	TestShare float64 `yaml:"test_share"`
	// L2: the ridge penalty of the logistic regression.
	L2 float64 `yaml:"l2"`
	// MinGrade is the worst holdout grade (A–D) a model may have and be
	// used; below it, no probability is published and the model row says why.
	MinGrade string `yaml:"min_grade"`
	// ApplyDays: a buyer whose first order is at most this many days old can
	// become a potential VIP on the probability alone. Every buyer whose first
	// week is complete gets the probability, whatever its age.
	ApplyDays int `yaml:"apply_days"`
}

// Labels of the early potential-VIP model.
const (
	LabelRevenueShare = "revenue_share"
	LabelTopShare     = "top_share"
)

// DefaultEarlyVIP are the defaults.
var DefaultEarlyVIP = EarlyVIPOptions{HorizonDays: 180, RevenueShare: 0.5, Label: LabelRevenueShare, TopShare: 0.02, CohortDays: 365,
	TestShare: 0.25, L2: 0.001, ApplyDays: 28, MinCohort: 100, MinPositives: 10, MinGrade: model.GradeC}

// Validate says what is wrong with the options.
func (o EarlyVIPOptions) Validate() error {
	if o.HorizonDays < 7 || o.CohortDays < 7 || o.ApplyDays < 7 || o.RevenueShare <= 0 || o.RevenueShare >= 1 ||
		o.TestShare <= 0 || o.TestShare >= 1 || o.L2 < 0 || o.TopShare <= 0 || o.TopShare >= 1 || o.MinCohort < 2 || o.MinPositives < 1 {
		return errors.New("early_vip: horizon_days, cohort_days and apply_days at least 7; revenue_share, top_share and test_share in (0, 1); l2 not negative; min_cohort at least 2, min_positives at least 1")
	}
	if o.Label != LabelRevenueShare && o.Label != LabelTopShare {
		return fmt.Errorf("early_vip.label: %q, want %s or %s", o.Label, LabelRevenueShare, LabelTopShare)
	}
	if !slices.Contains([]string{model.GradeA, model.GradeB, model.GradeC, model.GradeD}, o.MinGrade) {
		return fmt.Errorf("early_vip.min_grade must be one of A, B, C, D, got %q", o.MinGrade)
	}
	return nil
}

// EarlyVIPModel is a fitted early potential-VIP model with its holdout metrics.
type EarlyVIPModel struct {
	Version        int               `json:"version"`
	Kind           string            `json:"kind"` // "earlyvip"
	HorizonDays    int               `json:"horizon_days"`
	LabelRevenue   float64           `json:"label_revenue"` // horizon revenue that made a training buyer a VIP
	TrainFrom      int32             `json:"train_from_day"`
	TestFrom       int32             `json:"test_from_day"`
	Model          Logistic          `json:"model"`
	Metrics        ClassifierMetrics `json:"metrics"`
	TrainedOn      int               `json:"trained_on"`
	ApplyDays      int               `json:"apply_days"`
	PositiveLabels int               `json:"positive_labels"`
	Label          string            `json:"label,omitempty"`
	// Grade of the holdout metrics (README: Model quality).
	Grade string `json:"grade,omitempty"`
	// FirstWeekRanking is the rule of thumb on the same test rows: buyers
	// ranked by their first week's revenue alone.
	FirstWeekRanking ClassifierMetrics `json:"first_week_ranking"`
	// ROC and PR are the test split's ROC curve (false, true positive rate)
	// and precision-recall curve (recall, precision), for the report.
	ROC [][2]float64 `json:"roc"`
	PR  [][2]float64 `json:"pr"`
}

// Curves are the ROC (false positive rate, true positive rate) and
// precision-recall (recall, precision) points of scores against labels at up to
// n thresholds, from the highest score down.
func Curves(scores []float64, y []bool, n int) (roc, pr [][2]float64) {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	var pos, neg float64
	for _, v := range y {
		if v {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return nil, nil
	}
	roc = append(roc, [2]float64{0, 0})
	step := max(1, len(idx)/n)
	var tp, fp float64
	for k, i := range idx {
		if y[i] {
			tp++
		} else {
			fp++
		}
		if (k+1)%step == 0 || k == len(idx)-1 {
			roc = append(roc, [2]float64{fp / neg, tp / pos})
			pr = append(pr, [2]float64{tp / pos, tp / (tp + fp)})
		}
	}
	return roc, pr
}

// Probability that a buyer with this first week becomes a VIP.
func (m EarlyVIPModel) Probability(w FirstWeek) float64 { return m.Model.Probability(w.inputs()) }

// FitEarlyVIP labels the cohort, fits the model on its older buyers and
// measures it on the newest (time-based holdout).
func FitEarlyVIP(rows []EarlyVIPRow, o EarlyVIPOptions) (EarlyVIPModel, error) {
	if len(rows) < o.MinCohort {
		return EarlyVIPModel{}, fmt.Errorf("early VIP: %d buyers in the cohort, fewer than %d (early_vip.min_cohort)", len(rows), o.MinCohort)
	}
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b EarlyVIPRow) int { return cmp.Compare(a.FirstDay, b.FirstDay) })
	y, cut := LabelCohort(rows, o)
	if why := firstWeekDecides(rows, y, cut, o); why != "" {
		return EarlyVIPModel{}, errors.New(why)
	}
	split := int(float64(len(rows)) * (1 - o.TestShare))
	return FitEarlyVIPSplit(rows[:split], y[:split], rows[split:], y[split:], cut, o)
}

// firstWeekShare: when at least this share of a cohort's VIPs are VIPs by
// their first week's revenue alone, the label is what the model sees.
const firstWeekShare = 0.95

// firstWeekDecides says why a cohort's label leaves nothing to predict, or
// "": fewer than min_positives buyers bought after their first week (a shop
// of one-order customers, where the horizon revenue is the first order's), or
// nearly every VIP was one by the first week's revenue, an input.
func firstWeekDecides(rows []EarlyVIPRow, y []bool, cut float64, o EarlyVIPOptions) string {
	later, vips, byFirstWeek := 0, 0, 0
	for i, r := range rows {
		if r.HorizonRevenue > r.Week.Revenue+0.005 {
			later++
		}
		if y[i] {
			vips++
			if r.Week.Revenue >= cut {
				byFirstWeek++
			}
		}
	}
	if later < o.MinPositives {
		return fmt.Sprintf("early VIP: %d of the cohort's %d buyers bought after their first week, fewer than %d (early_vip.min_positives): "+
			"the horizon revenue that makes a VIP is the first week's, which the model sees; there is nothing to predict", later, len(rows), o.MinPositives)
	}
	if vips > 0 && float64(byFirstWeek) >= firstWeekShare*float64(vips) {
		return fmt.Sprintf("early VIP: %d of the cohort's %d VIPs were VIPs by their first week's revenue alone: the label is an input, there is nothing to predict",
			byFirstWeek, vips)
	}
	return ""
}

// LabelCohort says which buyers of a cohort became VIPs over the horizon,
// and the horizon revenue that made one.
func LabelCohort(rows []EarlyVIPRow, o EarlyVIPOptions) ([]bool, float64) {
	sorted := make([]float64, len(rows))
	total := 0.0
	for i, r := range rows {
		sorted[i] = r.HorizonRevenue
		total += max(0, r.HorizonRevenue)
	}
	slices.SortFunc(sorted, func(a, b float64) int { return cmp.Compare(b, a) })
	cut := math.Inf(1)
	if o.Label == LabelTopShare {
		if k := int(math.Round(o.TopShare * float64(len(sorted)))); k > 0 && sorted[k-1] > 0 {
			cut = sorted[k-1]
		}
	} else {
		for sum := 0.0; len(sorted) > 0; sorted = sorted[1:] {
			v := sorted[0]
			if sum >= o.RevenueShare*total || v <= 0 {
				break
			}
			sum += v
			cut = v
		}
	}
	y := make([]bool, len(rows))
	for i, r := range rows {
		y[i] = r.HorizonRevenue >= cut
	}
	return y, cut
}

// FitEarlyVIPSplit fits on the training rows and measures on the test rows.
// The threshold of the metrics is the one that maximises F1 on the training
// rows.
func FitEarlyVIPSplit(train []EarlyVIPRow, yTrain []bool, test []EarlyVIPRow, yTest []bool, cut float64, o EarlyVIPOptions) (EarlyVIPModel, error) {
	trainPos := 0
	for _, v := range yTrain {
		if v {
			trainPos++
		}
	}
	if trainPos < o.MinPositives || trainPos == len(train) || len(test) == 0 {
		return EarlyVIPModel{}, fmt.Errorf("early VIP: the training cohort has %d VIPs of %d buyers (early_vip.min_positives: %d) and the test cohort %d buyers: nothing to learn or to measure",
			trainPos, len(train), o.MinPositives, len(test))
	}
	inputs := func(rs []EarlyVIPRow) [][]float64 {
		x := make([][]float64, len(rs))
		for i, r := range rs {
			x[i] = r.Week.inputs()
		}
		return x
	}
	xTrain, xTest := inputs(train), inputs(test)
	lr, err := FitLogistic(EarlyVIPInputs, xTrain, yTrain, o.L2)
	if err != nil {
		return EarlyVIPModel{}, fmt.Errorf("early VIP: %w", err)
	}
	score := func(xs [][]float64) []float64 {
		out := make([]float64, len(xs))
		for i, v := range xs {
			out[i] = lr.Probability(v)
		}
		return out
	}
	trainScores := score(xTrain)
	best, bestF1 := 0.5, -1.0
	for _, t := range []float64{0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9} {
		c := Classify(trainScores, yTrain, t)
		if f1 := 2 * c.Precision * c.Recall / (c.Precision + c.Recall); c.Precision+c.Recall > 0 && f1 > bestF1 {
			best, bestF1 = t, f1
		}
	}
	positives := trainPos
	for _, v := range yTest {
		if v {
			positives++
		}
	}
	m := EarlyVIPModel{Version: 1, Kind: model.KindEarlyVIP, HorizonDays: o.HorizonDays, LabelRevenue: cut, Model: lr, Label: o.Label,
		TrainFrom: train[0].FirstDay, TestFrom: test[0].FirstDay, TrainedOn: len(train), ApplyDays: o.ApplyDays, PositiveLabels: positives}
	testScores := score(xTest)
	m.Metrics = Classify(testScores, yTest, best)
	if m.Metrics.Positives < o.MinPositives {
		return EarlyVIPModel{}, fmt.Errorf("early VIP: the test cohort (the newest %d buyers) has %d VIPs, fewer than %d (early_vip.min_positives): its AUC would be noise",
			len(test), m.Metrics.Positives, o.MinPositives)
	}
	m.Grade = m.Metrics.grade()
	firstWeek := make([]float64, len(test))
	for i, r := range test {
		firstWeek[i] = r.Week.Revenue
	}
	m.FirstWeekRanking = Classify(firstWeek, yTest, math.MaxFloat64) // its ranking, not a threshold, is compared
	if model.GradeBelow(m.Grade, o.MinGrade) {
		return EarlyVIPModel{}, fmt.Errorf("early VIP: grade %s on the test cohort, below early_vip.min_grade %s (AUC %.3f, precision in the top 5%% %.2f against a base rate of %.2f)",
			m.Grade, o.MinGrade, m.Metrics.AUC, m.Metrics.PrecisionTop5, m.Metrics.BaseRate)
	}
	m.ROC, m.PR = Curves(testScores, yTest, 100)
	return m, nil
}

// grade of a classifier's holdout (README: Model quality):
//
//	A  AUC at least 0.8 and precision in the top 5% at least 3 × the base rate
//	B  AUC at least 0.7 and that precision at least 2 × the base rate
//	C  AUC at least 0.6
//	D  otherwise: the ranking barely beats chance
func (m ClassifierMetrics) grade() string {
	lift := 0.0
	if m.BaseRate > 0 {
		lift = m.PrecisionTop5 / m.BaseRate
	}
	switch {
	case m.AUC >= 0.8 && lift >= 3:
		return model.GradeA
	case m.AUC >= 0.7 && lift >= 2:
		return model.GradeB
	case m.AUC >= 0.6:
		return model.GradeC
	}
	return model.GradeD
}
