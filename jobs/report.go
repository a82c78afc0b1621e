package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/report"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

var reportScoreSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "lifecycle_stage", Type: arrow.BinaryTypes.String},
	{Name: "vip_tier", Type: arrow.BinaryTypes.String},
	{Name: "clv_12m", Type: arrow.PrimitiveTypes.Float64},
	{Name: "p_alive", Type: arrow.PrimitiveTypes.Float64},
}, nil)

var reportChangeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "dimension", Type: arrow.BinaryTypes.String},
	{Name: "from_value", Type: arrow.BinaryTypes.String},
	{Name: "to_value", Type: arrow.BinaryTypes.String},
	{Name: "previous_as_of", Type: arrow.FixedWidthTypes.Date32},
}, nil)

// Report writes the report of a published date to path: one HTML page.
func Report(ctx context.Context, cfg config.Config, asOf time.Time, path string, log *logrus.Logger, out io.Writer) error {
	st, wh, _, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	if wh != nil {
		defer wh.Close()
	}
	rc := newRunContext(cfg, log, "report", asOf)
	d, err := reportData(ctx, rc, st)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := report.Write(f, d); err != nil {
		f.Close()
		return fmt.Errorf("report: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	printSegments(out, d, where)
	fmt.Fprintf(out, "\nReport of %s: %s\n", d.AsOf, path)
	return nil
}

// printSegments prints the segment summary the report was made from.
func printSegments(out io.Writer, d report.Data, where string) {
	fmt.Fprintf(out, "Segments as of %s in %s: %d micro-segments of %d buyers (%d customers); the 10 with the most 12-month revenue:\n",
		d.AsOf, where, len(d.Segments), d.Buyers, d.Customers)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  segment\tmembers\trevenue share\tmean CLV\tchurn risk\tstrategy\tlabel")
	for _, s := range d.Segments[:min(10, len(d.Segments))] {
		fmt.Fprintf(tw, "  %s\t%d\t%.1f%%\t%.0f\t%.2f\t%s\t%s\n", s.ID, s.Size, 100*s.RevenueShare, s.MeanCLV, s.ChurnRisk, s.Strategy, s.Label)
	}
	tw.Flush()
}

func reportData(ctx context.Context, rc *runContext, st store) (report.Data, error) {
	d := report.Data{AsOf: rc.asOf.Format(time.DateOnly)}
	scores, err := st.ReadPartition(ctx, rc.mem, "customer_scores", reportScoreSchema, rc.asOf)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return d, fmt.Errorf("nothing published for %s: run score and publish first", d.AsOf)
	}
	if err != nil {
		return d, err
	}
	defer scores.Release()
	stages, tiers := map[string]int{}, map[string]int{}
	stage, tier := scores.Column(1).(*array.String), scores.Column(2).(*array.String)
	clv, alive := scores.Column(3).(*array.Float64), scores.Column(4).(*array.Float64)
	d.Customers = int(scores.NumRows())
	for i := 0; i < d.Customers; i++ {
		stages[stage.Value(i)]++
		if t := tier.Value(i); t != "" {
			tiers[t]++
		}
		if stage.Value(i) != segment.NonBuyer {
			d.Buyers++
			d.CLV = append(d.CLV, clv.Value(i))
			d.PAlive = append(d.PAlive, alive.Value(i))
		}
	}
	for _, s := range []string{segment.NonBuyer, segment.New, segment.Active, segment.AtRisk, segment.Lost, segment.Reactivated} {
		d.Lifecycle = append(d.Lifecycle, report.Count{Name: s, N: stages[s]})
	}
	for _, t := range []string{segment.VIP, segment.VIPAtRisk, segment.PotentialVIP, segment.LostVIP} {
		d.Tiers = append(d.Tiers, report.Count{Name: t, N: tiers[t]})
	}
	segs, err := st.ReadPartition(ctx, rc.mem, "segments", segmentSchema, rc.asOf)
	if err != nil {
		return d, err
	}
	defer segs.Release()
	for i := 0; i < int(segs.NumRows()); i++ {
		s := func(c int) string { return strings.Clone(segs.Column(c).(*array.String).Value(i)) }
		f := func(c int) float64 { return segs.Column(c).(*array.Float64).Value(i) }
		d.Segments = append(d.Segments, report.Segment{ID: s(0), Label: s(2), Size: int(segs.Column(3).(*array.Int32).Value(i)),
			RevenueShare: f(5), MeanCLV: f(6), ChurnRisk: f(7), AtRisk: f(8), Strategy: s(9)})
	}
	slices.SortStableFunc(d.Segments, func(a, b report.Segment) int { return cmp.Compare(b.RevenueShare, a.RevenueShare) })
	changes, err := st.ReadPartition(ctx, rc.mem, "segment_changes", reportChangeSchema, rc.asOf)
	switch {
	case err == nil:
		defer changes.Release()
		dim, from, to := changes.Column(0).(*array.String), changes.Column(1).(*array.String), changes.Column(2).(*array.String)
		count := map[[2]string]int{}
		for i := 0; i < int(changes.NumRows()); i++ {
			if dim.Value(i) == "lifecycle_stage" {
				f := from.Value(i)
				if f == "" {
					f = "(new)"
				}
				count[[2]string{f, to.Value(i)}]++
			}
			if prev := changes.Column(3).(*array.Date32).Value(i).ToTime(); prev.Year() > 1970 {
				d.PreviousAsOf = prev.Format(time.DateOnly)
			}
		}
		for k, n := range count {
			d.Flows = append(d.Flows, report.Flow{From: k[0], To: k[1], N: n})
		}
	case !errors.Is(err, warehouse.ErrNoPartition):
		return d, err
	}
	if m, err := st.LatestModel(ctx, rc.asOf, model.PurchaseKinds...); err == nil {
		a, err := model.LoadArtefact([]byte(m.Artefact))
		if err != nil {
			return d, fmt.Errorf("model %s: %w", m.ID, err)
		}
		l := &report.LTV{Kind: a.Kind, ModelID: m.ID}
		if a.Metrics != nil {
			l.MAE, l.RMSE, l.Predicted, l.Actual = a.Metrics.MAE, a.Metrics.RMSE, a.Metrics.PredictedTotal, a.Metrics.ActualTotal
			for _, b := range a.Metrics.Buckets {
				l.Buckets = append(l.Buckets, report.Bucket{Frequency: b.Frequency, Customers: b.Customers, Predicted: b.Predicted, Actual: b.Actual})
			}
		}
		d.LTV = l
	} else if !errors.Is(err, warehouse.ErrNoModel) {
		return d, err
	}
	if m, err := st.LatestModel(ctx, rc.asOf, model.KindEarlyVIP); err == nil {
		var e segment.EarlyVIPModel
		if err := json.Unmarshal([]byte(m.Artefact), &e); err != nil {
			return d, fmt.Errorf("model %s: %w", m.ID, err)
		}
		c := e.Metrics
		d.EarlyVIP = &report.EarlyVIP{ModelID: m.ID, AUC: c.AUC, Precision: c.Precision, Recall: c.Recall, Threshold: c.Threshold,
			BaseRate: c.BaseRate, ROC: e.ROC, PR: e.PR}
	} else if !errors.Is(err, warehouse.ErrNoModel) {
		return d, err
	}
	return d, nil
}
