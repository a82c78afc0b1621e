// Package pipeline runs Tessera's stages: the stage table, the run loop, the
// run lock, and the stages themselves (extract, features, train, score,
// publish, and export, which reads what was published). Each stage is a
// function of (ctx, Run, warehouse.Store, its options) and talks to the others
// only through warehouse tables, so any of them can run alone for any date, as
// the CronJobs of the Helm chart run them.
package pipeline

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/export"
	"github.com/tessera-cdp/tessera/report"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
	"github.com/tessera-cdp/tessera/warehouse/parquetdir"
)

// Run is what one stage's run carries: its id, the as-of date and the shard
// of the customers it computes (NoShard: all of them), a logger with them,
// and the allocator its Arrow data comes from.
type Run struct {
	ID      string
	Stage   string
	AsOf    time.Time
	Shard   Shard
	Started time.Time
	Log     *logrus.Entry
	Mem     memory.Allocator
}

// NewRun starts a run of a stage for a date.
func NewRun(log *logrus.Logger, mem memory.Allocator, stage string, asOf time.Time) Run {
	id := NewRunID(time.Now())
	return Run{ID: id, Stage: stage, AsOf: asOf, Shard: NoShard, Started: time.Now().UTC().Truncate(time.Second), Mem: mem,
		Log: log.WithFields(logrus.Fields{"run_id": id, "stage": stage, "as_of": asOf.Format(time.DateOnly)})}
}

// sharded is the run of a shard: sharded stages of a run split over pods
// compute the shard's customers.
func (r Run) sharded(sh Shard) Run {
	r.Shard = sh
	if sh.Sharded() {
		r.Log = r.Log.WithFields(logrus.Fields{"shard": sh.Index, "shards": sh.Of, "job": sh.Job})
	}
	return r
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

// Result is what a stage did: one of its fields is set.
type Result struct {
	Run      Run
	Extract  *ExtractResult
	Features int // customers in customer_features
	Train    *Trained
	Score    *ScoreSummary
	Publish  *PublishResult
	Export   *export.Manifest
	Lift     *LiftResult
}

// stage is one row of the stage table.
type stage struct {
	name string
	run  func(ctx context.Context, r Run, st warehouse.Store, o Options) (Result, error)
}

// stages are the pipeline's stages, in the order `tessera run` runs them.
var stages = []stage{
	{"extract", func(ctx context.Context, r Run, st warehouse.Store, o Options) (Result, error) {
		res, err := Extract(ctx, r, st, o.Extract)
		return Result{Extract: res}, err
	}},
	{"features", func(ctx context.Context, r Run, st warehouse.Store, o Options) (Result, error) {
		n, err := Features(ctx, r, st, o.Features)
		return Result{Features: n}, err
	}},
	{"train", func(ctx context.Context, r Run, st warehouse.Store, o Options) (Result, error) {
		t, err := Train(ctx, r, st, o.Train)
		return Result{Train: &t}, err
	}},
	{"score", func(ctx context.Context, r Run, st warehouse.Store, o Options) (Result, error) {
		s, err := Score(ctx, r, st, o.Score)
		return Result{Score: &s}, err
	}},
	{"publish", func(ctx context.Context, r Run, st warehouse.Store, o Options) (Result, error) {
		p, err := Publish(ctx, r, st, o.Publish, o.Score)
		return Result{Publish: &p}, err
	}},
}

// ShardedStages are the stages every shard of a sharded run runs: extract
// for the rows it owns (extract_shard.go), the others for its customers;
// shard 0 alone runs the others.
var ShardedStages = []string{"extract", "features", "score", "publish"}

// Stages names the stages in pipeline order.
var Stages = func() []string {
	var out []string
	for _, s := range stages {
		out = append(out, s.name)
	}
	return out
}()

// Runner runs stages against one warehouse.
type Runner struct {
	Store   warehouse.Store
	Options Options
	Locker  Locker // nil: no run lock
	Log     *logrus.Logger
	Mem     memory.Allocator
	// Done, when set, is called with what each stage did once it succeeded
	// (the CLI prints it).
	Done func(Result)
	// Version of Tessera and the Invocation (the command) the runs are part
	// of, kept with each run's record.
	Version, Invocation string
	// Progress: how often a stage that runs longer says it still runs.
	Progress time.Duration
	// PartsWait: how long shard 0 of a sharded run waits for the other
	// shards' parts, unless the shard says.
	PartsWait time.Duration
}

// Open opens the configured warehouse (migrated) and builds each stage's
// options from the config.
func Open(ctx context.Context, cfg config.Config, log *logrus.Logger) (*Runner, error) {
	st, err := OpenStore(ctx, cfg.ClickHouse, cfg.DataDir, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	return &Runner{Store: st, Options: OptionsFrom(cfg), Log: log, Mem: memory.DefaultAllocator,
		Invocation: NewRunID(time.Now()), Progress: 10 * time.Second, PartsWait: cfg.Kube.Wait}, nil
}

// OpenStore opens the configured warehouse, migrated: ClickHouse when an
// address is set, else the embedded Parquet folder under dataDir.
func OpenStore(ctx context.Context, c config.ClickHouse, dataDir string, mem memory.Allocator) (warehouse.Store, error) {
	if c.Addr == "" {
		return parquetdir.Open(filepath.Join(dataDir, "warehouse"), mem)
	}
	w, err := clickhouse.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	if _, err := w.Migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close closes the warehouse.
func (p *Runner) Close() error { return p.Store.Close() }

// Run runs the named stages (every stage when none is named), in pipeline
// order, for one as-of date, holding the run lock of each. In a sharded run
// (sh.Of > 1) each sharded stage (features, score, publish) computes the
// shard's part; the pod of shard 0 then waits for every part and finishes
// the stage for the whole date, and alone runs the other stages.
func (p *Runner) Run(ctx context.Context, asOf time.Time, names []string, sh Shard) error {
	if len(names) == 0 {
		names = Stages
	}
	for _, s := range names {
		if !slices.Contains(Stages, s) {
			return fmt.Errorf("unknown stage %q: the stages are %v", s, Stages)
		}
	}
	if sh.Of < 1 {
		sh = NoShard
	}
	if sh.Sharded() && slices.Contains(names, "extract") && len(names) > 1 {
		// A pod would go on to the stages after extract as soon as its own
		// share landed, before the other pods' shares and pod 0's customers.
		return fmt.Errorf("a sharded run takes extract alone (stages %v): the stages after it read what every pod of the extract Job lands, so they run as a Job of their own (the chart's extract and score CronJobs)", names)
	}
	if sh.Wait == 0 {
		sh.Wait = p.PartsWait
	}
	if sh.Locker == nil {
		sh.Locker = p.Locker
	}
	if sh.Sharded() && sh.Index != 0 {
		var mine []string
		for _, s := range names {
			if slices.Contains(ShardedStages, s) {
				mine = append(mine, s)
			}
		}
		if len(mine) < len(names) {
			p.Log.WithFields(logrus.Fields{"shard": sh.Index, "shards": sh.Of, "stages": mine}).Info("the other stages are left to shard 0")
		}
		names = mine
	}
	release, err := lockStages(ctx, p.Locker, names, Run{AsOf: asOf, Shard: sh}, p.Log)
	if err != nil {
		for _, s := range names { // refused: each stage's run failed, and says why
			p.record(ctx, Result{Run: NewRun(p.Log, p.Mem, s, asOf).sharded(sh)}, err)
		}
		return err
	}
	ok := false
	defer func() { release(ok) }()
	for _, s := range stages {
		if !slices.Contains(names, s.name) {
			continue
		}
		r := NewRun(p.Log, p.Mem, s.name, asOf)
		if slices.Contains(ShardedStages, s.name) {
			r = r.sharded(sh)
		}
		stop := progress(r, p.Progress)
		res, err := s.run(ctx, r, p.Store, p.Options)
		stop()
		err = saysStopped(ctx, err)
		res.Run = r
		p.record(ctx, res, err)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if p.Done != nil {
			p.Done(res)
		}
	}
	ok = true
	return nil
}

// saysStopped makes the error of a stage whose context is done say it was
// stopped, in the words of the context's error ("context canceled"), where
// the step it stopped in said so in its own: a driver giving the
// cancellation's cause ("terminated signal received", which errors.Is
// takes for context.Canceled while its text does not say it).
func saysStopped(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || strings.Contains(err.Error(), ctx.Err().Error()) {
		return err
	}
	return fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
}

// record notes a stage's run in the runs table; a failure to is logged, not
// returned: the stage's own outcome is what the caller needs.
func (p *Runner) record(ctx context.Context, res Result, runErr error) {
	r := res.Run
	row := warehouse.Run{ID: r.ID, Stage: r.Stage, AsOf: r.AsOf, Started: r.Started, Finished: time.Now(), Status: "ok",
		Version: p.Version, Invocation: p.Invocation}
	var detail any
	switch {
	case res.Extract != nil:
		read, landed, rejected, blank := res.Extract.Totals()
		row.Read, row.Landed, row.Rejected, row.Blank = uint64(read), uint64(landed), uint64(rejected), uint64(blank)
		detail = res.Extract
	case res.Train != nil:
		t := res.Train
		row.Landed = uint64(t.LTV.Fit.Customers)
		d := map[string]any{"model_id": t.ModelID, "kind": t.LTV.Kind, "early_vip": t.EarlyReason == ""}
		if t.LTV.Metrics != nil {
			d["grade"] = t.LTV.Metrics.Grade
		}
		if t.LTV.Sample != nil {
			d["sample"] = t.LTV.Sample
		}
		if t.EarlyReason != "" {
			d["early_vip_reason"] = t.EarlyReason
		}
		detail = d
		if reasons := t.Reasons(); len(reasons) > 0 {
			row.Message = "no purchase model passed its gate: " + strings.Join(reasons, "; ")
		}
	case res.Score != nil:
		row.Landed = uint64(res.Score.Customers)
		detail = map[string]any{"model_id": res.Score.ModelID, "staged": res.Score.Staged, "plan": res.Score.Plan, "plan_of": res.Score.PlanOf,
			"buyers": res.Score.Buyers, "zero_revenue_buyers": res.Score.ZeroRevenue}
	case res.Publish != nil:
		pr := res.Publish
		row.Landed = uint64(pr.Customers)
		detail = map[string]any{"tables": pr.Tables, "score_run": pr.ScoreRun, "previous_as_of": DateOrNone(pr.Previous), "changes": pr.Changes, "part": pr.Part}
	case res.Lift != nil:
		row.Landed = uint64(len(res.Lift.Segments))
		verdicts := map[string]int{}
		for _, s := range res.Lift.Segments {
			verdicts[s.Verdict]++
		}
		detail = map[string]any{"window_days": res.Lift.WindowDays, "extracted_through": cmp.Or(res.Lift.ExtractedThrough, "none"),
			"switched": res.Lift.Switched, "verdicts": verdicts}
	case res.Export != nil:
		n := 0
		for _, f := range res.Export.Files {
			n += int(f.Rows)
		}
		row.Landed = uint64(n)
		detail = map[string]any{"files": len(res.Export.Files) + 1, "previous_as_of": cmp.Or(res.Export.PreviousAsOf, "none")}
	default:
		row.Landed = uint64(res.Features)
	}
	if detail != nil {
		b, _ := json.Marshal(detail)
		row.Detail = string(b)
	}
	if runErr != nil {
		row.Status, row.Message = "failed", runErr.Error()
	}
	if err := p.Store.RecordRun(context.WithoutCancel(ctx), row); err != nil {
		r.Log.WithError(err).Error("could not record the run")
	}
}

// DateOrNone is a date for people, or "none" for the zero time.
func DateOrNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.DateOnly)
}

// Export writes a published date's micro-segments as files for marketing
// (package export) and records the run.
func (p *Runner) Export(ctx context.Context, asOf time.Time, format, dir string) (export.Manifest, error) {
	r := NewRun(p.Log, p.Mem, "export", asOf)
	o := p.Options.Export
	m, err := export.Write(ctx, p.Store, export.Options{AsOf: asOf, RunID: r.ID, Format: format, Dir: dir,
		IncludeEmail: o.IncludeEmail, CSVBOM: o.CSVBOM, BatchRows: o.BatchRows, Mem: r.Mem, Log: r.Log})
	p.record(ctx, Result{Run: r, Export: &m}, err)
	if err != nil {
		return m, fmt.Errorf("export: %w", err)
	}
	return m, nil
}

// Report reads what the report of a published date shows.
func (p *Runner) Report(ctx context.Context, asOf time.Time) (report.Data, error) {
	d, err := report.Load(ctx, p.Store, asOf, p.Mem)
	if err != nil {
		return d, fmt.Errorf("report: %w", err)
	}
	return d, nil
}

// round keeps three decimals: seconds to the millisecond in logs and records.
func round(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// progress logs, every interval until stop, that the run's stage still runs:
// a stage that takes long says so at least that often.
func progress(r Run, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.Log.WithField("seconds", round(time.Since(r.Started).Seconds())).Info("still running")
			}
		}
	}()
	return func() { close(done) }
}

// retrying runs fn, again after each pause of backoff while the warehouse
// does not answer (it restarts, the network drops): for work that gives the
// same result however often it runs (a swap, a record, an entity landed).
func retrying(ctx context.Context, r Run, what string, backoff []time.Duration, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !errors.Is(err, warehouse.ErrUnavailable) {
			return err
		}
		if attempt == len(backoff) {
			return fmt.Errorf("ClickHouse did not answer in %d attempts: %w", attempt+1, err)
		}
		r.Log.WithError(err).WithFields(logrus.Fields{"what": what, "attempt": attempt + 1, "retry_in": backoff[attempt].String()}).
			Warn("ClickHouse did not answer: retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff[attempt]):
		}
	}
}
