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
	"text/tabwriter"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/model"
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

// Run runs every stage that exists, in order, in one process, and writes a
// summary of what it produced to out. With no ClickHouse configured it runs
// embedded: it reads the sample shop (generated on first use) and writes its
// tables as Parquet files under data_dir.
func Run(ctx context.Context, cfg config.Config, asOf time.Time, log *logrus.Logger, out io.Writer) error {
	rc := newRunContext(cfg, log, "extract", asOf)
	open, closeSource, err := openSource(ctx, rc)
	if err != nil {
		return err
	}
	defer closeSource()

	if cfg.ClickHouse.Addr == "" {
		dir := filepath.Join(cfg.DataDir, "warehouse")
		pq, err := warehouse.NewParquetDir(dir, rc.mem)
		if err != nil {
			return err
		}
		res, err := extract(ctx, rc, open, pq)
		if err != nil {
			pq.Abort()
			return fmt.Errorf("extract: %w", err)
		}
		if err := pq.Commit(); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		a, scores, err := trainAndScore(ctx, cfg, log, asOf, pq, nil)
		if err != nil {
			return err
		}
		printExtract(out, res, "embedded warehouse "+dir)
		printScores(out, a, scores, asOf, filepath.Join(dir, "customer_scores"))
		return nil
	}

	wh, err := warehouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer wh.Close()
	if _, err := wh.Migrate(ctx); err != nil {
		return err
	}
	res, runErr := extract(ctx, rc, open, wh)
	if err := recordRun(ctx, wh, rc, res, runErr); err != nil {
		rc.log.WithError(err).Error("could not record the run")
	}
	if runErr != nil {
		return fmt.Errorf("extract: %w", runErr)
	}
	extractID := rc.runID
	a, scores, err := trainAndScore(ctx, cfg, log, asOf, wh, wh)
	if err != nil {
		return err
	}
	if err := printWarehouse(ctx, out, wh, extractID); err != nil {
		return err
	}
	printScores(out, a, scores, asOf, "ClickHouse table "+wh.Database()+".customer_scores")
	return nil
}

// store is a warehouse that the stages after extract can all use.
type store interface {
	modelStore
	scoreStore
	featureStore
}

// trainAndScore runs the features, train and score stages, recording each in
// runs when a ClickHouse is given.
func trainAndScore(ctx context.Context, cfg config.Config, log *logrus.Logger, asOf time.Time, st store, wh *warehouse.ClickHouse) (*model.Artefact, ScoreSummary, error) {
	fc := newRunContext(cfg, log, "features", asOf)
	n, err := features(ctx, fc, st)
	if wh != nil {
		if rerr := recordStage(ctx, wh, fc, n, err); rerr != nil {
			fc.log.WithError(rerr).Error("could not record the run")
		}
	}
	if err != nil {
		return nil, ScoreSummary{}, fmt.Errorf("features: %w", err)
	}
	tc := newRunContext(cfg, log, "train", asOf)
	a, err := train(ctx, tc, st)
	if wh != nil {
		if rerr := recordStage(ctx, wh, tc, 0, err); rerr != nil {
			tc.log.WithError(rerr).Error("could not record the run")
		}
	}
	if err != nil {
		return nil, ScoreSummary{}, fmt.Errorf("train: %w", err)
	}
	sc := newRunContext(cfg, log, "score", asOf)
	sum, err := score(ctx, sc, st)
	if wh != nil {
		if rerr := recordStage(ctx, wh, sc, sum.Customers, err); rerr != nil {
			sc.log.WithError(rerr).Error("could not record the run")
		}
	}
	if err != nil {
		return nil, ScoreSummary{}, fmt.Errorf("score: %w", err)
	}
	return a, sum, nil
}

// recordStage records a run of a stage that lands rows without reading a source.
func recordStage(ctx context.Context, wh *warehouse.ClickHouse, rc *runContext, landed int, runErr error) error {
	r := warehouse.Run{ID: rc.runID, Stage: rc.log.Data["stage"].(string), AsOf: rc.asOf, Started: rc.started, Finished: time.Now(),
		Status: "ok", Landed: uint64(landed)}
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

// printScores prints the model used and a summary of the date's scores.
func printScores(out io.Writer, a *model.Artefact, s ScoreSummary, asOf time.Time, where string) {
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
	fmt.Fprintf(out, "\nScores as of %s in %s: %d customers, mean P(alive) %.3f, %.0f purchases expected in 365 days, 12-month CLV %.0f in all; %d with a next order expected\n",
		asOf.Format(time.DateOnly), where, s.Customers, s.MeanPAlive, s.Expected365, s.CLV12, s.WithNextOrder)
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
