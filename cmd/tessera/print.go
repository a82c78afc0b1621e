package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tessera-cdp/tessera/export"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/pipeline"
	"github.com/tessera-cdp/tessera/report"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// printer prints what each stage did, as it finishes.
type printer struct {
	ctx   context.Context
	out   io.Writer
	store warehouse.Store
	err   error // the first failure to read what to print
}

func (p *printer) done(res pipeline.Result) {
	asOf, where := res.Run.AsOf.Format(time.DateOnly), p.store.Where()
	switch {
	case res.Extract != nil:
		if err := printExtract(p.ctx, p.out, p.store, res); err != nil && p.err == nil {
			p.err = err
		}
	case res.Train != nil:
		printModel(p.out, res.Train.LTV)
		printEarlyVIP(p.out, res.Train.Early, res.Train.EarlyReason)
	case res.Score != nil:
		printScores(p.out, *res.Score, res.Run.AsOf, where)
	case res.Publish != nil:
		r := res.Publish
		switch {
		case r.Part:
			fmt.Fprintf(p.out, "\nPublish part as of %s (score run %s): the shard's scores, members and changes written; shard 0 publishes the date\n", asOf, r.ScoreRun)
		case r.Changes == nil:
			fmt.Fprintf(p.out, "\nPublished %s (score run %s) in %s: %v; compared with %s: %d changes in segment_changes\n",
				asOf, r.ScoreRun, where, r.Tables, pipeline.DateOrNone(r.Previous), r.ChangeRows)
		default:
			fmt.Fprintf(p.out, "\nPublished %s (score run %s) in %s: %v; compared with %s: %d micro-segment, %d RFM, %d lifecycle and %d VIP-tier changes in segment_changes\n",
				asOf, r.ScoreRun, where, r.Tables, pipeline.DateOrNone(r.Previous), r.Changes["micro_segment"],
				r.Changes["rfm_segment"], r.Changes["lifecycle_stage"], r.Changes["vip_tier"])
		}
	case res.Run.Stage == "features":
		fmt.Fprintf(p.out, "\nFeatures as of %s: %d customers in customer_features (%s)\n", asOf, res.Features, where)
	}
}

// extractStore is what printExtract reads of the warehouse.
type extractStore interface {
	RawCounts(ctx context.Context) ([]warehouse.Count, error)
	RejectedByRule(ctx context.Context, runID string) ([]warehouse.Count, error)
	Where() string
}

// printExtract prints what was read, landed and rejected per entity, the raw
// tables' row counts and the run's rejected rows by reason, as the warehouse
// has them. Of a sharded extract's pods only pod 0, which ends once every pod
// has landed its share, counts the raw tables' rows: a count by key (FINAL)
// reads every raw table whole, and in each pod it read more of the
// warehouse than the pod's extract did (BenchmarkShardWork).
func printExtract(ctx context.Context, out io.Writer, st extractStore, res pipeline.Result) error {
	x := res.Extract
	var counts []warehouse.Count
	rawCounted := x.Shard == "" || strings.HasPrefix(x.Shard, "0/")
	if rawCounted {
		var err error
		if counts, err = st.RawCounts(ctx); err != nil {
			return err
		}
	}
	rejected, err := st.RejectedByRule(ctx, res.Run.ID)
	if err != nil {
		return err
	}
	if x.Shard != "" {
		fmt.Fprintf(out, "Extracted into %s by run %s, pod %s of job %s (the rows read that other pods land: other pods):\n", st.Where(), res.Run.ID, x.Shard, x.Job)
	} else {
		fmt.Fprintf(out, "Extracted into %s by run %s:\n", st.Where(), res.Run.ID)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	head, row := "entity\tsource\tread\tlanded\trejected\tblank\t", "%s\t%s\t%d\t%d\t%d\t%d\t"
	if x.Shard != "" {
		head, row = head+"other pods\t", row+"%d\t"
	}
	fmt.Fprintln(tw, head)
	var unknownProduct int64
	for _, e := range x.Entities {
		args := []any{e.Entity, e.Source, e.Read, e.Landed, e.Rejected, e.Blank}
		if x.Shard != "" {
			args = append(args, e.OtherPods)
		}
		fmt.Fprintf(tw, row+"\n", args...)
		unknownProduct += e.UnknownProduct
	}
	tw.Flush()
	if unknownProduct > 0 {
		fmt.Fprintf(out, "%d order lines landed name products the catalogue lacks (source.unknown_product: count)\n", unknownProduct)
	}
	if zero, landed := res.Extract.ZeroValueOrders(); zero > 0 {
		fmt.Fprintf(out, "%d of %d orders landed are worth 0\n", zero, landed)
	}
	if w := res.Extract.ZeroValueWarning(); w != "" {
		fmt.Fprintln(out, "WARNING: "+w)
	}
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if rawCounted {
		fmt.Fprintln(out, "\nRows per raw table:")
	} else {
		fmt.Fprintln(out, "\nRows per raw table: pod 0 counts them, once every pod has landed its share.")
	}
	for _, c := range counts {
		fmt.Fprintf(tw, "  %s\t%d\n", c.Name, c.N)
	}
	tw.Flush()
	fmt.Fprintln(out, "\nRejected rows by entity and reason:")
	if len(rejected) == 0 {
		fmt.Fprintln(out, "  none")
	}
	for _, c := range rejected {
		fmt.Fprintf(tw, "  %s\t%d\n", c.Name, c.N)
	}
	return tw.Flush()
}

// printModel prints the model train stored, or why none is used.
func printModel(out io.Writer, a *model.Artefact) {
	if !a.Usable() {
		h := a.Gate.History
		fmt.Fprintf(out, "\nModel: none passed its gate (%d buyers, %d bought more than once, %.0f days of history, newest purchase %.0f days old): no P(alive), expected purchases, next order or CLV is published\n",
			h.Buyers, h.RepeatBuyers, h.HistoryDays, h.DaysSinceLastPurchase)
		for _, r := range a.Gate.Reasons {
			fmt.Fprintf(out, "  - %s\n", r)
		}
		return
	}
	fmt.Fprintf(out, "\nModel: %s fitted on %.0f customers, log-likelihood %.1f\n", a.Kind, a.Fit.Customers, a.Fit.LogLikelihood)
	for _, n := range a.ParamNames() {
		fmt.Fprintf(out, "  %-6s %.4f ± %.4f\n", n, a.Params[n], a.StdErr[n])
	}
	if m := a.Metrics; m != nil {
		fmt.Fprintf(out, "  holdout: grade %s; RMSE %.3f repeat purchases per customer (rules of thumb: no purchase %.3f, each customer's rate %.3f, the base's rate %.3f), MAE %.3f; %.0f predicted, %.0f happened (%+.1f%%), tracking curve within %.1f%%, calibration error %.3f\n",
			m.Grade, m.RMSE, m.ZeroRMSE, m.NaiveRMSE, m.RateRMSE, m.MAE, m.PredictedTotal, m.ActualTotal, 100*m.AggregateError, 100*m.CurveError, m.CalibrationError)
	} else {
		fmt.Fprintln(out, "  holdout: none (no history before the holdout): ungraded")
	}
	if a.Spend != nil {
		fmt.Fprintf(out, "  spend (Gamma-Gamma): p %.3f, q %.3f, gamma %.3f", a.Spend.P, a.Spend.Q, a.Spend.Gamma)
		if a.SpendLeftOut > 0 {
			fmt.Fprintf(out, "; %d repeat buyers left out (mean repeat spend not positive: they get the population mean)", a.SpendLeftOut)
		}
		fmt.Fprintln(out)
	} else {
		fmt.Fprintln(out, "  spend: no model (no repeat buyer with a positive spend): no order value or CLV is published")
	}
}

// printEarlyVIP prints the early potential-VIP model's holdout metrics.
func printEarlyVIP(out io.Writer, m *segment.EarlyVIPModel, reason string) {
	if m == nil {
		fmt.Fprintf(out, "\nEarly potential-VIP model: none (%s)\n", reason)
		return
	}
	c := m.Metrics
	fmt.Fprintf(out, "\nEarly potential-VIP model: trained on %d buyers, tested on the %d newest (base rate %.3f): AUC %.3f; at %.2f precision %.2f, recall %.2f; precision in the top 1%% %.2f, top 5%% %.2f\n",
		m.TrainedOn, c.Rows, c.BaseRate, c.AUC, c.Threshold, c.Precision, c.Recall, c.PrecisionTop1, c.PrecisionTop5)
}

// printScores prints a summary of the date's scores and segments.
func printScores(out io.Writer, s pipeline.ScoreSummary, asOf time.Time, where string) {
	if s.Part {
		fmt.Fprintf(out, "\nScore part as of %s: %d customers' profiles written; shard 0 plans the date\n", asOf.Format(time.DateOnly), s.Customers)
		return
	}
	if s.PlanOf != "" {
		fmt.Fprintf(out, "\nScores as of %s: %d customers' profiles are those score run %s planned the date from: its plan stands\n", asOf.Format(time.DateOnly), s.Customers, s.PlanOf)
		return
	}
	if len(s.Gated) > 0 {
		fmt.Fprintf(out, "\nScores as of %s, planned for customer_scores (%s, model %s): %d customers, %d buyers; NO PREDICTIONS (P(alive), expected purchases, next order and CLV are NULL): %s; lifecycle and VIP tiers follow recency and rhythm\n",
			asOf.Format(time.DateOnly), where, s.ModelID, s.Customers, s.Buyers, strings.Join(s.Gated, "; "))
	} else {
		fmt.Fprintf(out, "\nScores as of %s, planned for customer_scores (%s, model %s): %d customers, %d buyers, mean P(alive) %.3f (of %d), %.0f purchases expected in 365 days, 12-month CLV %.0f in all; %d with a next order expected; %d buyers miss a prediction (prediction_note says why)\n",
			asOf.Format(time.DateOnly), where, s.ModelID, s.Customers, s.Buyers, s.MeanPAlive, s.WithPAlive, s.Expected365, s.CLV12, s.WithNextOrder, s.NotPredicted)
	}
	if w := s.ZeroRevenueWarning(); w != "" {
		fmt.Fprintln(out, "  WARNING: "+w)
	} else if s.ZeroRevenue > 0 {
		fmt.Fprintf(out, "  %d buyers bought for 0 in all\n", s.ZeroRevenue)
	}
	fmt.Fprintf(out, "  lifecycle:")
	for _, st := range []string{segment.NonBuyer, segment.New, segment.Active, segment.AtRisk, segment.Lost, segment.Reactivated} {
		fmt.Fprintf(out, " %s %d", st, s.Lifecycle[st])
	}
	fmt.Fprintf(out, "\n  VIP tiers:")
	for _, t := range []string{segment.VIP, segment.VIPAtRisk, segment.PotentialVIP, segment.LostVIP} {
		fmt.Fprintf(out, " %s %d", t, s.Tiers[t])
	}
	fmt.Fprintf(out, "\n  micro-segments: %d, of %d to %d members; early potential-VIP model: %s\n", s.Segments, s.MinSize, s.MaxSize, cmp.Or(s.EarlyVIPModelID, "none"))
}

// printExport prints what export wrote.
func printExport(out io.Writer, m export.Manifest, where, dir string) {
	segments := 0
	for _, f := range m.Files {
		if f.Kind == "segment" {
			segments++
		}
	}
	fmt.Fprintf(out, "Exported %s from %s to %s: %d segment files, deltas against %s, manifest.json\n",
		m.AsOf, where, dir, segments, cmp.Or(m.PreviousAsOf, "no previous export (every member joined)"))
}

// printSegments prints the segment summary the report was made from.
func printSegments(out io.Writer, d report.Data, where string) {
	fmt.Fprintf(out, "Segments as of %s in %s: %d micro-segments of %d buyers (%d customers); the 10 with the most 12-month revenue:\n",
		d.AsOf, where, len(d.Segments), d.Buyers, d.Customers)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  segment\tmembers\trevenue share\tmean CLV\tchurn risk\tstrategy\tlabel")
	for _, s := range d.Segments[:min(10, len(d.Segments))] {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Size, report.Number("%.1f%%", 100*s.RevenueShare), report.Number("%.0f", s.MeanCLV),
			report.Number("%.2f", s.ChurnRisk), s.Strategy, s.Label)
	}
	tw.Flush()
	for _, s := range d.Segments[:min(10, len(d.Segments))] {
		if math.IsNaN(s.MeanCLV) || math.IsNaN(s.ChurnRisk) {
			fmt.Fprintln(out, "  "+report.NotPredicted)
			break
		}
	}
}

// printLift prints what lift measured, segment by segment.
func printLift(out io.Writer, res pipeline.LiftResult, where string) {
	fmt.Fprintf(out, "Lift of %s over %d days (sources extracted through %s; %d members switched arms inside the window, in neither) in segment_lift (%s):\n",
		res.AsOf, res.WindowDays, cmp.Or(res.ExtractedThrough, "never"), res.Switched, where)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  segment\ttreated\tcontrol\tconversion (t / c)\tdifference [95%]\tq\trevenue/member diff [95%]\tMDE\tverdict\t")
	for _, s := range res.Segments {
		m := s.Result
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s / %s\t%s [%s]\t%s\t%s [%s]\t%s\t%s\t\n", s.ID, m.Treated, m.Control, orDash(m.TreatedConversion, "%.3f"), orDash(m.ControlConversion, "%.3f"),
			orDash(m.ConversionDiff, "%+.3f"), interval(m.ConversionLow, m.ConversionHigh, "%+.3f"), orDash(m.ConversionQ, "%.3f"),
			orDash(m.RevenueDiff, "%+.2f"), interval(m.RevenueLow, m.RevenueHigh, "%+.2f"), orDash(m.MDE, "%.3f"), m.Verdict)
	}
	tw.Flush()
}

func interval(low, high float64, format string) string {
	if math.IsNaN(low) {
		return "-"
	}
	return fmt.Sprintf(format+", "+format, low, high)
}

func orDash(v float64, format string) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
