// Package jobs holds Tessera's stages (one file each) and what runs them: the
// order of stages in `tessera run`, run ids, run records and logging of each
// stage. The CronJobs of the Helm chart call these through the CLI.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse"
)

// runContext is what every stage of one run shares.
type runContext struct {
	cfg     config.Config
	log     *logrus.Entry
	mem     memory.Allocator
	runID   string
	asOf    time.Time
	started time.Time
}

func newRunContext(cfg config.Config, log *logrus.Logger, stage string, asOf time.Time) *runContext {
	id := NewRunID(time.Now())
	return &runContext{
		cfg: cfg, mem: memory.DefaultAllocator, runID: id, asOf: asOf, started: time.Now().UTC().Truncate(time.Second),
		log: log.WithFields(logrus.Fields{"run_id": id, "stage": stage, "as_of": asOf.Format(time.DateOnly)}),
	}
}

// NewRunID returns a sortable unique run id: start time and 6 random hex digits.
func NewRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// DefaultAsOf is yesterday in the configured time zone.
func DefaultAsOf(cfg config.Config, now time.Time) time.Time {
	y, m, d := now.In(cfg.Location()).AddDate(0, 0, -1).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Migrate applies the warehouse migrations.
func Migrate(ctx context.Context, cfg config.Config, log *logrus.Logger) error {
	if cfg.ClickHouse.Addr == "" {
		return errors.New("migrate needs a ClickHouse: set clickhouse.addr (or TESSERA_CLICKHOUSE_ADDR)")
	}
	wh, err := warehouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer wh.Close()
	applied, err := wh.Migrate(ctx)
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"stage": "migrate", "applied": applied, "database": cfg.ClickHouse.Database}).Info("migrations applied")
	return nil
}

// Generate writes a synthetic shop.
func Generate(ctx context.Context, c synth.Config, dir string, log *logrus.Logger) (*synth.Summary, error) {
	start := time.Now()
	s, err := synth.Generate(ctx, c, dir)
	if err != nil {
		return nil, err
	}
	f := logrus.Fields{"stage": "generate", "dir": dir, "seconds": round(time.Since(start).Seconds())}
	for e, n := range s.Rows {
		f[string(e)] = n
	}
	log.WithFields(f).Info("shop generated")
	return s, nil
}

// Stages are the pipeline's stages, in the order `tessera run` runs them.
var Stages = []string{"extract", "features", "train", "score", "publish"}

// Run runs every stage, in order, in one process, and writes a summary of what
// it produced to out. With no ClickHouse configured it runs embedded: it reads
// the sample shop (generated on first use) and writes its tables as Parquet
// files under data_dir.
func Run(ctx context.Context, cfg config.Config, asOf time.Time, log *logrus.Logger, out io.Writer) error {
	return RunStages(ctx, cfg, asOf, Stages, log, out)
}

// RunStages runs the named stages, in pipeline order, for one as-of date. Each
// stage reads its input from the warehouse, so any of them can run alone (the
// CronJobs each run one).
func RunStages(ctx context.Context, cfg config.Config, asOf time.Time, stages []string, log *logrus.Logger, out io.Writer) error {
	return RunShard(ctx, cfg, asOf, stages, NoShard, log, out)
}

// RunShard is RunStages for one pod of a sharded score run: score computes
// the LTV part of its shard; the pod of shard 0 then waits for every part,
// segments and stages the whole date, and alone runs publish.
func RunShard(ctx context.Context, cfg config.Config, asOf time.Time, stages []string, sh Shard, log *logrus.Logger, out io.Writer) error {
	if sh.Of > 1 && sh.Index != 0 && !slices.Equal(stages, []string{"score"}) {
		// The other shards only write their score part: features (which shard 0
		// reads), segmenting and publish happen once, in shard 0.
		stages = slices.DeleteFunc(slices.Clone(stages), func(s string) bool { return s != "score" })
		log.WithFields(logrus.Fields{"shard": sh.Index, "shards": sh.Of, "stages": stages}).Info("the other stages are left to shard 0")
	}
	want := map[string]bool{}
	for _, s := range stages {
		if !slices.Contains(Stages, s) {
			return fmt.Errorf("unknown stage %q: the stages are %v", s, Stages)
		}
		want[s] = true
	}
	release, err := lockStages(ctx, cfg, stages, asOf, sh, log)
	if err != nil {
		return err
	}
	defer release()
	st, wh, pq, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	if wh != nil {
		defer wh.Close()
	}
	// record notes a stage's run in the runs table (ClickHouse only).
	record := func(rc *runContext, landed int, err error, detail ...any) {
		if wh == nil {
			return
		}
		var d any
		if len(detail) > 0 {
			d = detail[0]
		}
		if rerr := recordStage(ctx, wh, rc, landed, err, d); rerr != nil {
			rc.log.WithError(rerr).Error("could not record the run")
		}
	}

	if want["extract"] {
		rc := newRunContext(cfg, log, "extract", asOf)
		var sink rawSink = pq
		if wh != nil {
			sink = wh
		}
		open, closeSource, err := openSource(ctx, rc, sink)
		if err != nil {
			return err
		}
		defer closeSource()
		res, err := extract(ctx, rc, open, sink)
		if pq != nil {
			if err != nil {
				pq.Abort()
			} else {
				err = pq.Commit()
			}
		}
		if wh != nil {
			if rerr := recordRun(ctx, wh, rc, res, err); rerr != nil {
				rc.log.WithError(rerr).Error("could not record the run")
			}
		}
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		if wh != nil {
			if err := printWarehouse(ctx, out, wh, rc.runID); err != nil {
				return err
			}
		} else {
			printExtract(out, res, where)
		}
	}
	if want["features"] {
		rc := newRunContext(cfg, log, "features", asOf)
		n, err := features(ctx, rc, st)
		record(rc, n, err)
		if err != nil {
			return fmt.Errorf("features: %w", err)
		}
		fmt.Fprintf(out, "\nFeatures as of %s: %d customers in customer_features (%s)\n", asOf.Format(time.DateOnly), n, where)
	}
	if want["train"] {
		rc := newRunContext(cfg, log, "train", asOf)
		t, err := train(ctx, rc, st)
		record(rc, 0, err)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		printModel(out, t.LTV)
		printEarlyVIP(out, t.Early)
	}
	if want["score"] {
		rc := newRunContext(cfg, log, "score", asOf)
		sum, err := score(ctx, rc, st, sh)
		record(rc, sum.Customers, err)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		if sum.Part {
			fmt.Fprintf(out, "\nScore part %d of %d as of %s: %d customers in score_parts; shard 0 segments and stages the date\n", sh.Index, sh.Of, asOf.Format(time.DateOnly), sum.Customers)
		} else {
			printScores(out, sum, asOf, where)
		}
	}
	if want["publish"] {
		rc := newRunContext(cfg, log, "publish", asOf)
		res, err := publish(ctx, rc, st)
		record(rc, res.Customers, err, map[string]any{"tables": publishTables, "score_run": res.ScoreRun,
			"previous_as_of": dateOrNone(res.Previous), "changes": res.Changes})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		fmt.Fprintf(out, "\nPublished %s (score run %s) in %s: %v; compared with %s: %d micro-segment, %d RFM, %d lifecycle and %d VIP-tier changes in segment_changes\n",
			asOf.Format(time.DateOnly), res.ScoreRun, where, publishTables, dateOrNone(res.Previous), res.Changes["micro_segment"],
			res.Changes["rfm_segment"], res.Changes["lifecycle_stage"], res.Changes["vip_tier"])
	}
	return nil
}

// openStore opens the configured warehouse, migrated: ClickHouse, or the
// embedded Parquet folder when no address is set (then wh is nil). where
// names it for people.
func openStore(ctx context.Context, cfg config.Config) (st store, wh *warehouse.ClickHouse, pq *warehouse.ParquetDir, where string, err error) {
	if cfg.ClickHouse.Addr == "" {
		where = filepath.Join(cfg.DataDir, "warehouse")
		if pq, err = warehouse.NewParquetDir(where, memory.DefaultAllocator); err != nil {
			return nil, nil, nil, "", err
		}
		return pq, nil, pq, "embedded warehouse " + where, nil
	}
	if wh, err = warehouse.Open(ctx, cfg.ClickHouse); err != nil {
		return nil, nil, nil, "", err
	}
	if _, err := wh.Migrate(ctx); err != nil {
		wh.Close()
		return nil, nil, nil, "", err
	}
	return wh, wh, nil, "ClickHouse database " + wh.Database(), nil
}

// store is a warehouse that the stages after extract can all use.
type store interface {
	modelStore
	scoreStore
	featureStore
	publishStore
	exportStore
}

// recordStage records a run of a stage that lands rows without reading a source.
// detail, if not nil, is kept as JSON with the run.
func recordStage(ctx context.Context, wh *warehouse.ClickHouse, rc *runContext, landed int, runErr error, detail any) error {
	r := warehouse.Run{ID: rc.runID, Stage: rc.log.Data["stage"].(string), AsOf: rc.asOf, Started: rc.started, Finished: time.Now(),
		Status: "ok", Landed: uint64(landed)}
	if detail != nil {
		b, _ := json.Marshal(detail)
		r.Detail = string(b)
	}
	if runErr != nil {
		r.Status, r.Message = "failed", runErr.Error()
	}
	return wh.RecordRun(context.WithoutCancel(ctx), r)
}

func recordRun(ctx context.Context, wh *warehouse.ClickHouse, rc *runContext, res *ExtractResult, runErr error) error {
	r := warehouse.Run{ID: rc.runID, Stage: "extract", AsOf: rc.asOf, Started: rc.started, Finished: time.Now(), Status: "ok"}
	if res != nil {
		read, landed, rejected := res.Totals()
		r.Read, r.Landed, r.Rejected = uint64(read), uint64(landed), uint64(rejected)
		b, _ := json.Marshal(res)
		r.Detail = string(b)
	}
	if runErr != nil {
		r.Status, r.Message = "failed", runErr.Error()
	}
	return wh.RecordRun(context.WithoutCancel(ctx), r)
}

func printExtract(out io.Writer, res *ExtractResult, where string) {
	fmt.Fprintf(out, "Extracted into %s:\n", where)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "entity\tread\tlanded\trejected\t")
	for _, e := range res.Entities {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", e.Entity, e.Read, e.Landed, e.Rejected)
	}
	tw.Flush()
}

// printModel prints the model train stored.
func printModel(out io.Writer, a *model.Artefact) {
	fmt.Fprintf(out, "\nModel: %s fitted on %.0f customers, log-likelihood %.1f\n", a.Kind, a.Fit.Customers, a.Fit.LogLikelihood)
	for _, n := range a.ParamNames() {
		fmt.Fprintf(out, "  %-6s %.4f ± %.4f\n", n, a.Params[n], a.StdErr[n])
	}
	if a.Metrics != nil {
		fmt.Fprintf(out, "  holdout: MAE %.3f, RMSE %.3f repeat purchases per customer; %.0f predicted, %.0f happened\n",
			a.Metrics.MAE, a.Metrics.RMSE, a.Metrics.PredictedTotal, a.Metrics.ActualTotal)
	}
	if a.Spend != nil {
		fmt.Fprintf(out, "  spend (Gamma-Gamma): p %.3f, q %.3f, gamma %.3f\n", a.Spend.P, a.Spend.Q, a.Spend.Gamma)
	}
}

// printEarlyVIP prints the early potential-VIP model's holdout metrics.
func printEarlyVIP(out io.Writer, m *segment.EarlyVIPModel) {
	if m == nil {
		fmt.Fprintln(out, "\nEarly potential-VIP model: none (no complete cohort yet)")
		return
	}
	c := m.Metrics
	fmt.Fprintf(out, "\nEarly potential-VIP model: trained on %d buyers, tested on the %d newest (base rate %.3f): AUC %.3f; at %.2f precision %.2f, recall %.2f; precision in the top 1%% %.2f, top 5%% %.2f\n",
		m.TrainedOn, c.Rows, c.BaseRate, c.AUC, c.Threshold, c.Precision, c.Recall, c.PrecisionTop1, c.PrecisionTop5)
}

// printScores prints a summary of the date's scores and segments.
func printScores(out io.Writer, s ScoreSummary, asOf time.Time, where string) {
	fmt.Fprintf(out, "\nScores as of %s in customer_scores (%s, model %s): %d customers, %d buyers, mean P(alive) %.3f, %.0f purchases expected in 365 days, 12-month CLV %.0f in all; %d with a next order expected\n",
		asOf.Format(time.DateOnly), where, s.ModelID, s.Customers, s.Buyers, s.MeanPAlive, s.Expected365, s.CLV12, s.WithNextOrder)
	fmt.Fprintf(out, "  lifecycle:")
	for _, st := range []string{segment.NonBuyer, segment.New, segment.Active, segment.AtRisk, segment.Lost, segment.Reactivated} {
		fmt.Fprintf(out, " %s %d", st, s.Lifecycle[st])
	}
	fmt.Fprintf(out, "\n  VIP tiers:")
	for _, t := range []string{segment.VIP, segment.VIPAtRisk, segment.PotentialVIP, segment.LostVIP} {
		fmt.Fprintf(out, " %s %d", t, s.Tiers[t])
	}
	early := s.EarlyVIPModelID
	if early == "" {
		early = "none"
	}
	fmt.Fprintf(out, "\n  micro-segments: %d, of %d to %d members; early potential-VIP model: %s\n", s.Segments, s.MinSize, s.MaxSize, early)
}

// printWarehouse prints the raw tables' row counts and the run's rejected rows
// by reason, as ClickHouse has them.
func printWarehouse(ctx context.Context, out io.Writer, wh *warehouse.ClickHouse, runID string) error {
	counts, err := wh.RawCounts(ctx)
	if err != nil {
		return err
	}
	rejected, err := wh.RejectedByRule(ctx, runID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ClickHouse database %s after run %s\n\nRows per raw table:\n", wh.Database(), runID)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
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
