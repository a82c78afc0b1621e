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
		printExtract(out, res, "embedded warehouse "+dir)
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
	return printWarehouse(ctx, out, wh, rc.runID)
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
