// Package report renders the model and segment report: one self-contained
// HTML page with inline SVG charts, viewable without a network.
package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
)

// Data is what the report shows for one as-of date.
type Data struct {
	AsOf, PreviousAsOf string
	Customers, Buyers  int
	Segments           []Segment
	CLV, PAlive        []float64 // of every buyer
	Lifecycle          []Count   // customers per stage
	Tiers              []Count   // customers per VIP tier
	Flows              []Flow    // lifecycle moves since PreviousAsOf
	LTV                *LTV
	EarlyVIP           *EarlyVIP
	// EarlyVIPReason: why train made no early potential-VIP model, if it said.
	EarlyVIPReason string
	// Trends are the published dates up to this one, oldest first.
	Trends []Trend
	// RFM counts the buyers by R score (index 0: R 1) and FM = ⌈(F+M)/2⌉.
	RFM [5][5]int
	// Raw are the raw tables' rows; Rejected the rows refused, by entity and
	// rule (what the raw tables do not hold).
	Raw, Rejected []Count
	// ZeroBuyers of FeatureBuyers bought for 0 in all (orders worth 0): a
	// warning when they are many (ZeroShareWarn).
	ZeroBuyers, FeatureBuyers int
	// Lift is what tessera lift measured for the date, over LiftWindow days.
	Lift       []Lift
	LiftWindow int
}

// Lift is one segment's treated members against its control group.
type Lift struct {
	Segment, Label, Verdict              string
	Treated, Control                     int
	TreatedConversion, ControlConversion float64
	Diff, Low, High, RevenueDiff, MDE    float64 // NaN: not measured
	// Q: the Benjamini-Hochberg q-value of the conversion difference among
	// the date's measured segments (NaN: not measured).
	Q float64
}

// Trend is one published date's segments and VIP pipeline.
type Trend struct {
	AsOf                               string
	Segments, Buyers                   int
	Revenue12m                         float64
	VIP, VIPAtRisk, PotentialVIP, Lost int // lost: lost_vip
}

// Segment is one micro-segment's economics.
type Segment struct {
	ID, Label, Strategy                      string
	Size                                     int
	RevenueShare, MeanCLV, ChurnRisk, AtRisk float64
}

// Count is a number of customers with a name.
type Count struct {
	Name string
	N    int
}

// Flow is a number of customers who moved between two lifecycle stages.
type Flow struct {
	From, To string
	N        int
}

// LTV is the purchase model's calibration against its holdout.
type LTV struct {
	Kind, ModelID     string
	MAE, RMSE         float64
	Predicted, Actual float64
	Buckets           []Bucket
	// Gated are the reasons no purchase model is used (kind none).
	Gated                                                  []string
	Grade                                                  string
	NaiveMAE, AggregateError, CurveError, CalibrationError float64
	// The rules of thumb the grade is against (model.Quality).
	ZeroRMSE, NaiveRMSE, RateRMSE float64
	Curve                         []CurvePoint
	Calibration                   [][2]float64 // predicted, observed share buying in the holdout, by decile
	SpendLeftOut                  int
}

// CurvePoint is the base's cumulative holdout purchases at a time (days
// after the calibration end), predicted and actual.
type CurvePoint struct {
	At, Predicted, Actual float64
}

// Bucket compares predicted and actual holdout purchases of customers with
// one calibration frequency.
type Bucket struct {
	Frequency         string
	Customers         int
	Predicted, Actual float64
}

// EarlyVIP is the early potential-VIP model's holdout quality.
type EarlyVIP struct {
	ModelID                                        string
	AUC, Precision, Recall, Threshold, BaseRate    float64
	AveragePrecision, PrecisionTop1, PrecisionTop5 float64
	Grade                                          string
	Dropped                                        []string
	ROC, PR                                        [][2]float64
	// FirstWeekAUC and FirstWeekTop5 are the rule of thumb's on the same
	// buyers: ranked by first-week revenue alone.
	FirstWeekAUC, FirstWeekTop5 float64
}

// Write renders the page.
func Write(w io.Writer, d Data) error {
	return page.Execute(w, view{Data: d})
}

type view struct{ Data }

// FalseDiscoveries says how many of the date's verdicts of lift or negative
// may be false: with a hundred segments tested at once, some 5% of those
// without any effect pass p < 0.05 by chance. The largest q-value among
// them times their number is the false discoveries Benjamini and Hochberg
// expect among them.
func (v view) FalseDiscoveries() string {
	claimed, maxQ, holding := 0, 0.0, 0
	for _, l := range v.Lift {
		if l.Verdict != "lift" && l.Verdict != "negative" {
			continue
		}
		claimed++
		if !math.IsNaN(l.Q) {
			maxQ = math.Max(maxQ, l.Q)
			if l.Q < 0.05 {
				holding++
			}
		}
	}
	if claimed == 0 {
		return "No segment shows a difference (lift or negative) at 95%."
	}
	return fmt.Sprintf("%d segments show a difference at 95%%; across the date's segments, about %.1f of them are expected to be chance (Benjamini-Hochberg: the largest q among them is %.3f); %d hold at q < 0.05.",
		claimed, maxQ*float64(claimed), maxQ, holding)
}

// Unpredicted says whether a segment shows a dash for a prediction.
func (v view) Unpredicted() bool {
	for _, s := range v.Segments {
		if math.IsNaN(s.MeanCLV) || math.IsNaN(s.ChurnRisk) || math.IsNaN(s.AtRisk) {
			return true
		}
	}
	return false
}

func (v view) SegmentChart() template.HTML {
	segs := slices.Clone(v.Segments)
	slices.SortFunc(segs, func(a, b Segment) int { return cmp.Compare(b.RevenueShare, a.RevenueShare) })
	segs = segs[:min(25, len(segs))]
	var labels []string
	var sizes, shares []float64
	for _, s := range segs {
		labels = append(labels, s.Label)
		sizes = append(sizes, float64(s.Size))
		shares = append(shares, 100*s.RevenueShare)
	}
	return hbars("Top segments by share of 12-month revenue", labels, [][]float64{shares, sizes}, []string{"revenue share, %", "members"}, []string{"#2b6cb0", "#a0aec0"})
}

func (v view) CLVChart() template.HTML {
	return histogram("12-month CLV of buyers (log scale of value)", logValues(v.CLV), 30, "ln(1 + CLV)", "#2f855a")
}

func (v view) PAliveChart() template.HTML {
	return histogram("P(alive) of buyers", v.PAlive, 20, "P(alive)", "#c05621")
}

func (v view) CalibrationChart() template.HTML {
	if v.LTV == nil || len(v.LTV.Buckets) == 0 { // no model fitted: the text above says why, no empty chart
		return ""
	}
	var labels []string
	var pred, act []float64
	for _, b := range v.LTV.Buckets {
		labels = append(labels, b.Frequency)
		pred = append(pred, b.Predicted)
		act = append(act, b.Actual)
	}
	return vbars("Holdout repeat purchases per customer by calibration frequency", labels, [][]float64{pred, act}, []string{"predicted", "actual"}, []string{"#2b6cb0", "#dd6b20"})
}

// TrackingChart is the calibration base's cumulative holdout purchases at
// each quarter of the holdout: a good fit per frequency can hide drift.
func (v view) TrackingChart() template.HTML {
	if v.LTV == nil || len(v.LTV.Curve) == 0 {
		return ""
	}
	var labels []string
	var pred, act []float64
	for _, c := range v.LTV.Curve {
		labels = append(labels, fmt.Sprintf("day %.0f", c.At))
		pred = append(pred, c.Predicted)
		act = append(act, c.Actual)
	}
	return vbars("Cumulative repeat purchases through the holdout (tracking curve)", labels, [][]float64{pred, act}, []string{"predicted", "actual"}, []string{"#2b6cb0", "#dd6b20"}) +
		v.buyAgainChart()
}

// buyAgainChart compares, by decile of the predicted probability of buying
// in the holdout, that probability with the share that did.
func (v view) buyAgainChart() template.HTML {
	var labels []string
	var pred, obs []float64
	for k, c := range v.LTV.Calibration {
		labels = append(labels, fmt.Sprintf("decile %d", k+1))
		pred, obs = append(pred, c[0]), append(obs, c[1])
	}
	if len(labels) == 0 {
		return ""
	}
	return vbars("Probability of buying in the holdout by decile: predicted and observed", labels, [][]float64{pred, obs}, []string{"predicted", "observed"}, []string{"#2b6cb0", "#dd6b20"})
}

// TrendCharts are the segments' value and the VIP pipeline across the
// published dates.
func (v view) TrendCharts() template.HTML {
	if len(v.Trends) < 2 {
		return template.HTML("<p>One published date so far: trends need two.</p>")
	}
	var labels []string
	var rev, buyers, vip, risk, potential, lost []float64
	for _, t := range v.Trends {
		labels = append(labels, t.AsOf)
		rev, buyers = append(rev, t.Revenue12m), append(buyers, float64(t.Buyers))
		vip, risk = append(vip, float64(t.VIP)), append(risk, float64(t.VIPAtRisk))
		potential, lost = append(potential, float64(t.PotentialVIP)), append(lost, float64(t.Lost))
	}
	return vbars("12-month revenue of the segments' members by published date", labels, [][]float64{rev}, []string{"revenue"}, []string{"#2f855a"}) +
		vbars("Buyers in micro-segments by published date", labels, [][]float64{buyers}, []string{"buyers"}, []string{"#6b46c1"}) +
		vbars("VIP pipeline by published date", labels, [][]float64{vip, risk, potential, lost}, []string{"vip", "vip at risk", "potential vip", "lost vip"},
			[]string{"#2b6cb0", "#dd6b20", "#38a169", "#a0aec0"})
}

// RFMHeatMap is the buyers by R (rows, 5 at the top) and FM = ⌈(F+M)/2⌉
// (columns), shaded by count.
func (v view) RFMHeatMap() template.HTML {
	top := 1
	for _, row := range v.RFM {
		for _, n := range row {
			top = max(top, n)
		}
	}
	var b strings.Builder
	b.WriteString(`<table class="matrix" id="rfm"><tr><th>R \ FM</th><th>1</th><th>2</th><th>3</th><th>4</th><th>5</th></tr>`)
	for r := 4; r >= 0; r-- {
		fmt.Fprintf(&b, "<tr><th>%d</th>", r+1)
		for _, n := range v.RFM[r] {
			fmt.Fprintf(&b, `<td style="background: rgba(43, 108, 176, %.2f)">%d</td>`, 0.05+0.85*float64(n)/float64(top), n)
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
	return template.HTML(b.String())
}

// DataQuality lists the raw tables' rows and the rows refused by rule.
func (v view) DataQuality() template.HTML {
	var b strings.Builder
	b.WriteString(`<table class="matrix" id="quality"><tr><th>raw table</th><th>rows</th></tr>`)
	for _, c := range v.Raw {
		fmt.Fprintf(&b, "<tr><th>%s</th><td>%d</td></tr>", template.HTMLEscapeString(c.Name), c.N)
	}
	b.WriteString(`</table><table class="matrix"><tr><th>refused: entity and rule</th><th>rows</th></tr>`)
	if len(v.Rejected) == 0 {
		b.WriteString("<tr><td>none</td><td>0</td></tr>")
	}
	for _, c := range v.Rejected {
		fmt.Fprintf(&b, "<tr><th>%s</th><td>%d</td></tr>", template.HTMLEscapeString(c.Name), c.N)
	}
	b.WriteString("</table>")
	if v.FeatureBuyers > 0 {
		share := float64(v.ZeroBuyers) / float64(v.FeatureBuyers)
		fmt.Fprintf(&b, `<p id="zero-value">%d of %d buyers (%s) bought for 0 in all: their orders are worth 0.`, v.ZeroBuyers, v.FeatureBuyers, Number("%.1f%%", 100*share))
		if share > ZeroShareWarn {
			b.WriteString(` <b>Warning:</b> revenue, CLV and value tiers say little of them, and they are never high value; check where the orders' amounts come from (an export whose amounts are the sums of lines it lacks gives 0).`)
		}
		b.WriteString("</p>")
	}
	return template.HTML(b.String())
}

// ZeroShareWarn is the share of buyers who bought for 0 above which the
// report warns.
const ZeroShareWarn = 0.2

func (v view) ROCChart() template.HTML {
	if v.EarlyVIP == nil {
		return ""
	}
	return curve("ROC curve (test cohort)", v.EarlyVIP.ROC, "false positive rate", "true positive rate", true)
}

func (v view) PRChart() template.HTML {
	if v.EarlyVIP == nil {
		return ""
	}
	return curve("Precision-recall curve (test cohort)", v.EarlyVIP.PR, "recall", "precision", false)
}

func (v view) LifecycleChart() template.HTML {
	var labels []string
	var n []float64
	for _, c := range v.Lifecycle {
		labels = append(labels, c.Name)
		n = append(n, float64(c.N))
	}
	return hbars("Customers by lifecycle stage", labels, [][]float64{n}, []string{"customers"}, []string{"#6b46c1"})
}

// FlowMatrix is the lifecycle moves since the previous date as a table with
// cells shaded by count.
func (v view) FlowMatrix() template.HTML {
	if len(v.Flows) == 0 {
		return template.HTML("<p>No previous published date to compare with.</p>")
	}
	var from, to []string
	count := map[[2]string]int{}
	top := 1
	for _, f := range v.Flows {
		if !slices.Contains(from, f.From) {
			from = append(from, f.From)
		}
		if !slices.Contains(to, f.To) {
			to = append(to, f.To)
		}
		count[[2]string{f.From, f.To}] += f.N
		top = max(top, f.N)
	}
	slices.Sort(from)
	slices.Sort(to)
	var b strings.Builder
	b.WriteString(`<table class="matrix"><tr><th>from \ to</th>`)
	for _, t := range to {
		fmt.Fprintf(&b, "<th>%s</th>", template.HTMLEscapeString(t))
	}
	b.WriteString("</tr>")
	for _, f := range from {
		fmt.Fprintf(&b, "<tr><th>%s</th>", template.HTMLEscapeString(f))
		for _, t := range to {
			n := count[[2]string{f, t}]
			alpha := 0.08 + 0.8*float64(n)/float64(top)
			if n == 0 {
				alpha = 0
			}
			fmt.Fprintf(&b, `<td style="background: rgba(107, 70, 193, %.2f)">%d</td>`, alpha, n)
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
	return template.HTML(b.String())
}

func logValues(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Log1p(math.Max(0, x))
	}
	return out
}

const (
	chartW = 760
	chartH = 300
	padL   = 60
	padB   = 40
	padT   = 30
)

func svgOpen(b *strings.Builder, title string, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img"><title>%s</title>`,
		chartW, h, chartW, h, template.HTMLEscapeString(title))
	fmt.Fprintf(b, `<text x="%d" y="18" class="title">%s</text>`, padL, template.HTMLEscapeString(title))
}

// histogram draws the counts of xs in bins equal-width bins.
func histogram(title string, xs []float64, bins int, xlabel, color string) template.HTML {
	var b strings.Builder
	svgOpen(&b, title, chartH)
	if len(xs) == 0 {
		b.WriteString(`<text x="60" y="60">no data</text></svg>`)
		return template.HTML(b.String())
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	if hi == lo {
		hi = lo + 1
	}
	counts := make([]int, bins)
	for _, x := range xs {
		k := min(bins-1, int(float64(bins)*(x-lo)/(hi-lo)))
		counts[k]++
	}
	top := slices.Max(counts)
	plotW, plotH := chartW-padL-20, chartH-padT-padB
	bw := float64(plotW) / float64(bins)
	for k, c := range counts {
		h := float64(plotH) * float64(c) / float64(top)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%d</title></rect>`,
			float64(padL)+float64(k)*bw+1, float64(padT+plotH)-h, bw-2, h, color, c)
	}
	axes(&b, plotW, plotH, lo, hi, 0, float64(top), xlabel, "customers")
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// axes draws the x and y axes with their end values and labels.
func axes(b *strings.Builder, plotW, plotH int, x0, x1, y0, y1 float64, xlabel, ylabel string) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, padL, padT, padL, padT+plotH)
	if x0 != x1 { // bars by category label their own x axis
		fmt.Fprintf(b, `<text x="%d" y="%d" class="tick">%s</text>`, padL, padT+plotH+14, num(x0))
		fmt.Fprintf(b, `<text x="%d" y="%d" class="tick" text-anchor="end">%s</text>`, padL+plotW, padT+plotH+14, num(x1))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" class="tick" text-anchor="end">%s</text>`, padL-4, padT+plotH, num(y0))
	fmt.Fprintf(b, `<text x="%d" y="%d" class="tick" text-anchor="end">%s</text>`, padL-4, padT+8, num(y1))
	fmt.Fprintf(b, `<text x="%d" y="%d" class="label" text-anchor="middle">%s</text>`, padL+plotW/2, padT+plotH+30, template.HTMLEscapeString(xlabel))
	fmt.Fprintf(b, `<text x="14" y="%d" class="label" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`, padT+plotH/2, padT+plotH/2, template.HTMLEscapeString(ylabel))
}

func num(x float64) string {
	switch {
	case x == math.Trunc(x) && math.Abs(x) < 1e9:
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 100:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// curve draws points in the unit square, with the diagonal when asked.
func curve(title string, pts [][2]float64, xlabel, ylabel string, diagonal bool) template.HTML {
	var b strings.Builder
	svgOpen(&b, title, chartH)
	plotW, plotH := chartH-padT-padB, chartH-padT-padB // square
	x := func(v float64) float64 { return float64(padL) + v*float64(plotW) }
	y := func(v float64) float64 { return float64(padT+plotH) - v*float64(plotH) }
	if diagonal {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="diag"/>`, x(0), y(0), x(1), y(1))
	}
	var path strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(p[0]), y(p[1]))
	}
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#2b6cb0" stroke-width="2"/>`, path.String())
	axes(&b, plotW, plotH, 0, 1, 0, 1, xlabel, ylabel)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// vbars draws groups of vertical bars, one series per color.
func vbars(title string, labels []string, series [][]float64, names, colors []string) template.HTML {
	var b strings.Builder
	svgOpen(&b, title, chartH)
	top := 0.0
	for _, s := range series {
		for _, v := range s {
			top = math.Max(top, v)
		}
	}
	if top == 0 {
		top = 1
	}
	plotW, plotH := chartW-padL-20, chartH-padT-padB
	gw := float64(plotW) / float64(max(1, len(labels)))
	bw := (gw - 6) / float64(len(series))
	for k, l := range labels {
		for s, vals := range series {
			h := float64(plotH) * vals[k] / top
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.3f</title></rect>`,
				float64(padL)+float64(k)*gw+3+float64(s)*bw, float64(padT+plotH)-h, bw, h, colors[s], template.HTMLEscapeString(l), names[s], vals[k])
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, float64(padL)+(float64(k)+0.5)*gw, padT+plotH+14, template.HTMLEscapeString(l))
	}
	axes(&b, plotW, plotH, 0, 0, 0, top, "", "")
	legend(&b, names, colors)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// hbars draws horizontal bars, a row per label; each series is scaled to its
// own maximum (the first series is the main one).
func hbars(title string, labels []string, series [][]float64, names, colors []string) template.HTML {
	var b strings.Builder
	rowH := 18
	h := padT + 20 + rowH*len(labels) + 10
	svgOpen(&b, title, h)
	labelW := 330
	barW := chartW - labelW - 80
	for s := range series {
		top := 0.0
		for _, v := range series[s] {
			top = math.Max(top, v)
		}
		if top == 0 {
			top = 1
		}
		for k, v := range series[s] {
			y := padT + 10 + k*rowH + s*(rowH/len(series))
			w := float64(barW) * v / top
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s</title></rect>`,
				labelW, y, w, rowH/len(series)-1, colors[s], names[s], num(v))
			if s == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick">%s</text>`, float64(labelW)+w+4, y+rowH/len(series)-3, num(v))
			}
		}
	}
	for k, l := range labels {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="tick" text-anchor="end">%s</text>`, labelW-6, padT+10+k*rowH+12, template.HTMLEscapeString(l))
	}
	legend(&b, names, colors)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

func legend(b *strings.Builder, names, colors []string) {
	for i, n := range names {
		x := chartW - 170
		y := 8 + 14*i
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="tick">%s</text>`, x, y, colors[i], x+14, y+9, template.HTMLEscapeString(n))
	}
}

// NotPredicted says what a dash in a column of predictions means.
const NotPredicted = "– : not predicted: no member of the segment has a prediction (no purchase model passed its gate; the runs' record says why)."

// Number formats x, or a dash for a value not predicted (NaN): never "NaN".
func Number(format string, x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf(format, x)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"NotPredicted": func() string { return NotPredicted },
	"pct":          func(x float64) string { return Number("%.1f%%", 100*x) },
	"f2":           func(x float64) string { return Number("%.2f", x) },
	"f3":           func(x float64) string { return Number("%.3f", x) },
	"f0":           func(x float64) string { return Number("%.0f", x) },
	"signed":       func(x float64) string { return Number("%+.3f", x) },
	"interval": func(lo, hi float64) string {
		if math.IsNaN(lo) {
			return ""
		}
		return fmt.Sprintf("[%+.3f, %+.3f]", lo, hi)
	},
	"orDash": func(x float64) string {
		if math.IsNaN(x) {
			return "–"
		}
		return fmt.Sprintf("%.3f", x)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Tessera report, {{.AsOf}}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 820px; color: #1a202c; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #e2e8f0; }
svg { display: block; margin: 8px 0; background: #fff; }
svg .title { font-weight: 600; font-size: 13px; } svg .tick { font-size: 10px; fill: #4a5568; }
svg .label { font-size: 11px; fill: #2d3748; } svg .axis { stroke: #718096; } svg .diag { stroke: #cbd5e0; stroke-dasharray: 4 4; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #e2e8f0; padding: 3px 8px; text-align: right; }
th { background: #f7fafc; } td.l, th.l { text-align: left; }
</style></head><body>
<h1>Tessera report as of {{.AsOf}}</h1>
<p>{{.Customers}} customers, {{.Buyers}} buyers, {{len .Segments}} micro-segments.</p>

<h2>Segments</h2>
{{.SegmentChart}}
<table><tr><th class="l">segment</th><th class="l">label</th><th>members</th><th>revenue share</th><th>mean CLV</th><th>churn risk</th><th>revenue at risk</th><th class="l">strategy</th></tr>
{{range .Segments}}<tr><td class="l">{{.ID}}</td><td class="l">{{.Label}}</td><td>{{.Size}}</td><td>{{pct .RevenueShare}}</td><td>{{f0 .MeanCLV}}</td><td>{{f2 .ChurnRisk}}</td><td>{{f0 .AtRisk}}</td><td class="l">{{.Strategy}}</td></tr>
{{end}}</table>
{{if .Unpredicted}}<p>{{NotPredicted}}</p>{{end}}

<h2>Customer value</h2>
{{.CLVChart}}
{{.PAliveChart}}

<h2>Lifecycle</h2>
{{.LifecycleChart}}
<p>VIP tiers: {{range .Tiers}}{{.Name}} {{.N}}; {{end}}</p>
<h3>Moves since {{if .PreviousAsOf}}{{.PreviousAsOf}}{{else}}the previous date{{end}}</h3>
{{.FlowMatrix}}

<h2 id="trends">Trends across published dates</h2>
{{.TrendCharts}}

<h2 id="rfm-grid">RFM grid</h2>
<p>Buyers by recency score (rows) and the mean of frequency and monetary scores (columns).</p>
{{.RFMHeatMap}}

<h2 id="data-quality">Data quality</h2>
<p>Rows in the raw tables, and the rows extract refused, by entity and rule (each kept in rejected_rows with its reason). Whether the models' gates held is under each model below.</p>
{{.DataQuality}}

<h2 id="lift">Measured lift</h2>
{{if .Lift}}<p>Each segment's treated members (never held out in the window) against its control group (held out all through it), {{.LiftWindow}} days after the date: the share who bought (conversion), its difference with a 95% interval, the difference in revenue per member, and the smallest difference the segment could have shown (MDE, 80% power). A dash is a number not measured: a segment too small to tell (an arm under 20 members, or nobody bought) has no difference, and a window not over (no extract has read the sources for its end yet) has none at all.</p>
<table id="lift-table"><tr><th class="l">segment</th><th class="l">label</th><th>treated</th><th>control</th><th>conversion t / c</th><th>difference [95%]</th><th>revenue / member</th><th>MDE</th><th>q</th><th class="l">verdict</th></tr>
{{range .Lift}}<tr><td class="l">{{.Segment}}</td><td class="l">{{.Label}}</td><td>{{.Treated}}</td><td>{{.Control}}</td><td>{{pct .TreatedConversion}} / {{pct .ControlConversion}}</td><td>{{signed .Diff}} {{interval .Low .High}}</td><td>{{signed .RevenueDiff}}</td><td>{{orDash .MDE}}</td><td>{{f3 .Q}}</td><td class="l">{{.Verdict}}</td></tr>
{{end}}</table>
<p id="false-discoveries">{{.FalseDiscoveries}}</p>{{else}}<p>Not measured for this date: run <code>tessera lift --as-of {{.AsOf}}</code> once the campaign window after it is over.</p>{{end}}

<h2 id="purchase-model">Purchase model</h2>
{{with .LTV}}{{if .Gated}}<p class="gated" id="gate"><b>No predictions for this date.</b> No purchase model passed its gate, so P(alive), expected purchases, the next order and CLV are not published (NULL in customer_scores, with the reason in prediction_note); lifecycle stages and VIP tiers follow recency and rhythm alone:</p>
<ul>{{range .Gated}}<li>{{.}}</li>{{end}}</ul>{{else}}<p id="grade">{{.Kind}} ({{.ModelID}}): <b>grade {{if .Grade}}{{.Grade}}{{else}}none (not evaluated on a holdout){{end}}</b>. Per customer, root mean squared error {{f3 .RMSE}} repeat purchases in the holdout, against the rules of thumb: {{f3 .ZeroRMSE}} for no purchase for anyone, {{f3 .NaiveRMSE}} for each customer's past rate carried forward, {{f3 .RateRMSE}} for the base's rate for everyone (the grade needs the model below all three; MAE {{f3 .MAE}}, naive {{f3 .NaiveMAE}}); {{f0 .Predicted}} predicted, {{f0 .Actual}} happened ({{pct .AggregateError}}); tracking curve within {{pct .CurveError}}; calibration error {{f3 .CalibrationError}}.{{if .SpendLeftOut}} Gamma-Gamma left out {{.SpendLeftOut}} repeat buyers whose mean repeat spend is not positive (they get the population mean order value).{{end}}</p>{{end}}{{else}}<p>No purchase model.</p>{{end}}
{{.CalibrationChart}}
{{.TrackingChart}}

<h2 id="early-vip">Early potential-VIP model</h2>
{{with .EarlyVIP}}<p>{{.ModelID}}: <b>grade {{.Grade}}</b>. AUC {{f3 .AUC}} and average precision {{f3 .AveragePrecision}} on the newest cohort (base rate {{pct .BaseRate}}); precision in the top 1% {{f2 .PrecisionTop1}}, top 5% {{f2 .PrecisionTop5}} (ranking the same buyers by first-week revenue alone: AUC {{f3 .FirstWeekAUC}}, top 5% {{f2 .FirstWeekTop5}}); at threshold {{f2 .Threshold}} precision {{f2 .Precision}}, recall {{f2 .Recall}}.{{if .Dropped}} Inputs left out (constant in training): {{range .Dropped}}{{.}} {{end}}{{end}}</p>{{else}}{{if .EarlyVIPReason}}<p id="early-vip-reason">No early potential-VIP model: {{.EarlyVIPReason}}.</p>{{else}}<p>No early potential-VIP model: the shop has no cohort to learn from yet, or too few VIPs in it (train says which in its log and in runs.detail, early_vip_reason).</p>{{end}}{{end}}
{{.ROCChart}}
{{.PRChart}}
</body></html>
`))
