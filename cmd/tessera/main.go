// Command tessera is Tessera's one binary: it parses flags and the config,
// wires the warehouse, the run lock and each stage's options, calls into
// pipeline, and prints what was done. It also holds the `tessera ltv` CLI and
// its CSV readers. Exit codes: 0 done, 1 failed, 2 bad usage or config.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/kube"
	"github.com/tessera-cdp/tessera/lookalike"
	"github.com/tessera-cdp/tessera/pipeline"
	"github.com/tessera-cdp/tessera/report"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// version is set at build time: -ldflags "-X main.version=..."
var version = "dev"

// cli is one invocation: where its output and logs go.
type cli struct {
	log            *logrus.Logger
	stdout, stderr io.Writer // results and help asked for; usage errors and logs
	help           map[*flag.FlagSet]string
}

type command struct {
	name, summary string
	run           func(c *cli, ctx context.Context, args []string) error
}

var commands = []command{
	{"run", "run every stage in order in one process: extract, features, train, score, publish", stageCmd("run")},
	{"extract", "land source data in the warehouse's raw tables (the extract CronJob)", stageCmd("extract")},
	{"features", "compute the customer features as of a date", stageCmd("features")},
	{"train", "fit the purchase and spend models on the history before a date", stageCmd("train")},
	{"score", "score and segment every customer as of a date, staged for publish", stageCmd("score")},
	{"publish", "swap a date's staged scores, segments, members, feeds and changes in", stageCmd("publish")},
	{"export", "write a published date's micro-segments as files for marketing", (*cli).exportCmd},
	{"report", "write the HTML report of a published date (segments, value, models)", (*cli).reportCmd},
	{"lift", "measure each published segment's treated members against its control group", (*cli).liftCmd},
	{"lookalike", "write a look-alike audience of a seed (a segment, the VIPs, a list) for ad platforms", (*cli).lookalikeCmd},
	{"backfill", "run a CronJob's Job once per date of a range, in Kubernetes", (*cli).backfillCmd},
	{"migrate", "create or update the ClickHouse tables", (*cli).migrateCmd},
	{"generate", "write a synthetic shop with known truth", (*cli).generateCmd},
	{"ltv", "fit customer-lifetime models (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma) and score customers", (*cli).ltvCmd},
	{"version", "print the version", func(c *cli, _ context.Context, _ []string) error {
		fmt.Fprintln(c.stdout, "tessera", version)
		return nil
	}},
}

// usageError marks bad usage or configuration: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	setMemoryLimit(os.Getenv, os.ReadFile)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{log: logrus.New(), stdout: stdout, stderr: stderr}
	c.log.SetOutput(stderr)
	// The format asked for in the environment holds from the first line,
	// also for an error in the config file itself.
	c.setLogFormat(config.Log{Format: cmp.Or(os.Getenv("TESSERA_LOG_FORMAT"), config.Default().Log.Format)})
	switch {
	case len(args) == 0:
		usage(stderr) // a command is missing: bad usage
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		usage(stdout)
		return 0
	case args[0] == "--version" || args[0] == "-version":
		fmt.Fprintln(stdout, "tessera", version)
		return 0
	}
	for _, cmd := range commands {
		if cmd.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := cmd.run(c, ctx, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			c.log.WithField("command", cmd.name).Error(err.Error())
			return 2
		default:
			c.log.WithField("command", cmd.name).WithError(err).Error("failed")
			return 1
		}
	}
	fmt.Fprintf(stderr, "tessera: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Tessera: predictive customer segmentation, as a batch pipeline.\n\nUsage: tessera COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'tessera COMMAND --help' for the flags of a command.\n"+
		"Every config key can be set by an environment variable TESSERA_<KEY>, e.g. TESSERA_CLICKHOUSE_ADDR.\n")
}

// newFlags is a command's flag set. Help asked for goes to stdout; a bad
// flag is an error, logged to stderr like every other (parse).
func (c *cli) newFlags(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if c.help == nil {
		c.help = map[*flag.FlagSet]string{}
	}
	c.help[fs] = fmt.Sprintf("Usage: tessera %s [flags]\n\n%s\n\nFlags:\n", name, summary)
	return fs
}

func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, c.help[fs])
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// loadConfig reads the config file and sets up logging from it.
func (c *cli) loadConfig(path string) (config.Config, error) {
	if err := config.CheckEnv(os.Environ()); err != nil {
		return config.Default(), usageError{err}
	}
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return cfg, usageError{err}
	}
	lvl, _ := logrus.ParseLevel(cfg.Log.Level)
	c.log.SetLevel(lvl)
	c.setLogFormat(cfg.Log)
	return cfg, nil
}

// setLogFormat logs JSON unless a person is watching a terminal.
func (c *cli) setLogFormat(l config.Log) {
	json := l.Format == "json"
	if l.Format == "auto" {
		f, ok := c.stderr.(*os.File)
		json = !ok || !term.IsTerminal(int(f.Fd()))
	}
	if json {
		c.log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339})
	} else {
		c.log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.TimeOnly})
	}
}

func parseAsOf(s string, cfg config.Config) (time.Time, error) {
	if s == "" {
		return pipeline.DefaultAsOf(cfg, time.Now()), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, usageError{fmt.Errorf("--as-of %q: want YYYY-MM-DD", s)}
	}
	return t, nil
}

var stageHelp = map[string]string{
	"run": "Runs the pipeline for one as-of date: extract (sources into the raw tables), features,\n" +
		"train, score and publish. With no clickhouse.addr it runs embedded: it writes Parquet tables under\n" +
		"data_dir (reading the configured sources, or a generated sample shop when none is configured).",
	"extract":  "Reads the configured sources, validates every row and lands it in the raw tables (or in rejected_rows with its reason).",
	"features": "Computes every buyer's features from the raw tables, as of the date, into customer_features.",
	"train":    "Fits the candidate purchase models on the history before a holdout, keeps the best, refits it with Gamma-Gamma and stores it in models.",
	"score": "Scores every customer as of the date with the newest models and plans the date: lifecycle, tiers,\n" +
		"RFM and micro-segments; stages segments and writes the plan for publish.",
	"publish": "Builds customer_scores, segment_members and segment_changes (against the previous published date)\n" +
		"from score's plan, ranks each segment's feed (segment_feed) from its members' baskets, and swaps\n" +
		"the date's partitions of those and of segments in.",
}

// stageCmd runs one stage, or all of them for "run".
func stageCmd(name string) func(c *cli, ctx context.Context, args []string) error {
	return func(c *cli, ctx context.Context, args []string) error {
		fs := c.newFlags(name, stageHelp[name])
		cfgPath := fs.String("config", "", "YAML config file (see tessera.example.yaml); empty: defaults and TESSERA_* variables")
		asOf := fs.String("as-of", "", "date to compute for, YYYY-MM-DD (default: yesterday in the configured time zone)")
		var only *string
		if name == "run" {
			only = fs.String("stages", "", "comma-separated stages to run, in pipeline order (default: all)")
		}
		var full *bool
		if name == "run" || name == "extract" {
			full = fs.Bool("full", false, "read every row of the database sources, ignoring their watermarks")
		}
		shard := "0/1"
		if name == "run" || slices.Contains(pipeline.ShardedStages, name) {
			fs.StringVar(&shard, "shard", "0/1", "I/N: a pod of an Indexed Job (TESSERA_SHARD_JOB names the run): extract lands the rows shard I of N owns;\n"+
				"features, score and publish take the customers of shard I; shard 0 waits for the others and finishes each stage;\n"+
				"the other stages are left to shard 0")
		}
		if err := c.parse(fs, args); err != nil {
			return err
		}
		cfg, err := c.loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		d, err := parseAsOf(*asOf, cfg)
		if err != nil {
			return err
		}
		stages := []string{name}
		if name == "run" {
			stages = pipeline.Stages
			if *only != "" {
				stages = strings.Split(*only, ",")
				for _, s := range stages {
					if !slices.Contains(pipeline.Stages, s) {
						return usageError{fmt.Errorf("--stages: unknown stage %q: the stages are %v", s, pipeline.Stages)}
					}
				}
			}
		}
		if full != nil {
			cfg.Source.Full = *full
		}
		sh, err := pipeline.ParseShard(shard, os.Getenv("TESSERA_SHARD_JOB"))
		if err != nil {
			return usageError{err}
		}
		p, err := c.openRunner(ctx, cfg, true)
		if err != nil {
			return err
		}
		defer p.Close()
		pr := &printer{ctx: ctx, out: c.stdout, store: p.Store}
		p.Done = pr.done
		if err := p.Run(ctx, d, stages, sh); err != nil {
			return err
		}
		return pr.err
	}
}

// openRunner opens the configured warehouse and, with lock, the run lock
// kube.lock names: a Kubernetes Lease (in a pod when auto, or when kubernetes
// or on), the warehouse's own lock (outside a pod when auto, or warehouse),
// or none (off).
func (c *cli) openRunner(ctx context.Context, cfg config.Config, lock bool) (*pipeline.Runner, error) {
	k := cfg.Kube
	inPod := os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	ttl := time.Duration(k.LeaseSeconds) * time.Second
	var locker pipeline.Locker
	if lock && (k.Lock == "on" || k.Lock == "kubernetes" || (k.Lock == "auto" && inPod)) {
		client, ns, err := kube.Client(k.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("run lock: %w", err)
		}
		locker = kube.Leases{Client: client, Namespace: ns, Holder: kube.Holder(), TTL: ttl, Wait: k.Wait}
	}
	p, err := pipeline.Open(ctx, cfg, c.log)
	if err != nil {
		return nil, err
	}
	if lock && (k.Lock == "warehouse" || (k.Lock == "auto" && !inPod)) {
		locker = pipeline.NewStoreLock(p.Store, k, kube.Holder())
	}
	p.Locker, p.Version = locker, version
	return p, nil
}

func (c *cli) migrateCmd(ctx context.Context, args []string) error {
	fs := c.newFlags("migrate", "Creates the ClickHouse database and applies every migration not yet applied.")
	cfgPath := fs.String("config", "", "YAML config file; empty: defaults and TESSERA_* variables")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.ClickHouse.Addr == "" {
		return errors.New("migrate needs a ClickHouse: set clickhouse.addr (or TESSERA_CLICKHOUSE_ADDR)")
	}
	wh, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer wh.Close()
	applied, err := wh.Migrate(ctx)
	if err != nil {
		return err
	}
	c.log.WithFields(logrus.Fields{"stage": "migrate", "applied": applied, "database": cfg.ClickHouse.Database}).Info("migrations applied")
	return nil
}

func (c *cli) generateCmd(ctx context.Context, args []string) error {
	d := synth.Defaults()
	fs := c.newFlags("generate", "Writes a synthetic shop whose customers follow known processes (BG/NBD purchases,\n"+
		"Gamma-Gamma spend, a VIP minority), one file per canonical entity, plus truth files:\n"+
		"truth_customers.csv (each customer's latent traits), truth_bad_rows.csv (every bad row and its rule)\n"+
		"and truth.json (the parameters and row counts).")
	customers := fs.Int("customers", d.Customers, "number of customers")
	days := fs.Int("days", d.Days, "days of history")
	end := fs.String("end", d.End.Format(time.DateOnly), "end of the history (exclusive), YYYY-MM-DD")
	seed := fs.Int64("seed", d.Seed, "random seed: the same seed gives the same shop")
	out := fs.String("out", "", "output folder (required)")
	format := fs.String("format", d.Format, "file format: csv or parquet")
	bad := fs.Float64("bad-rows", 0, "fraction of bad records mixed into every entity, e.g. 0.01")
	vip := fs.Float64("vip-share", d.VIPShare, "share of customers in the VIP class (0: a pure BG/NBD population)")
	events := fs.Float64("event-share", 1, "share of the site and campaign events written (0.1 fits ten million customers on a smaller disk)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	e, err := time.Parse(time.DateOnly, *end)
	if err != nil {
		return usageError{fmt.Errorf("--end %q: want YYYY-MM-DD", *end)}
	}
	d.Customers, d.Days, d.End, d.Seed, d.Format, d.BadRows, d.VIPShare, d.EventShare = *customers, *days, e, *seed, *format, *bad, *vip, *events
	if err := d.Validate(); err != nil {
		return usageError{err}
	}
	start := time.Now()
	s, err := synth.Generate(ctx, d, *out)
	if err != nil {
		return err
	}
	f := logrus.Fields{"stage": "generate", "dir": *out, "seconds": time.Since(start).Round(time.Millisecond).Seconds()}
	for e, n := range s.Rows {
		f[string(e)] = n
	}
	c.log.WithFields(f).Info("shop generated")
	fmt.Fprintf(c.stdout, "Wrote a shop of %d customers to %s:\n", d.Customers, *out)
	for _, t := range []string{"customers", "products", "orders", "order_lines", "events", "campaign_events"} {
		for e, n := range s.Rows {
			if string(e) == t {
				fmt.Fprintf(c.stdout, "  %-16s %10d rows (%d bad)\n", t, n, s.BadRows[e])
			}
		}
	}
	return nil
}

// exportCmd writes a published date's micro-segments as files.
func (c *cli) exportCmd(ctx context.Context, args []string) error {
	fs := c.newFlags("export", "Writes, for a published as-of date, one file per micro-segment with its members, their strategy,\n"+
		"action, offer parameters, product feed and control-group flag; the members who joined and left a\n"+
		"segment since the previous export; and manifest.json with row counts and SHA-256 checksums.")
	format := fs.String("format", "csv", "file format: csv or parquet")
	f := publishedFlags(fs, "folder to write the files to (created if missing); {as_of} in it becomes the date")
	p, d, err := c.openPublished(ctx, fs, args, f, func() error {
		if *format != "csv" && *format != "parquet" {
			return usageError{fmt.Errorf("--format %q: want csv or parquet", *format)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer p.Close()
	dir := strings.ReplaceAll(*f.out, "{as_of}", d.Format(time.DateOnly))
	m, err := p.Export(ctx, d, *format, dir)
	if err != nil {
		return err
	}
	printExport(c.stdout, m, p.Store.Where(), dir)
	return nil
}

// reportCmd writes the report of a published date.
func (c *cli) reportCmd(ctx context.Context, args []string) error {
	fs := c.newFlags("report", "Writes one self-contained HTML page for a published as-of date: segment sizes and value,\n"+
		"CLV and P(alive) distributions, lifecycle stages and moves, the purchase model's holdout calibration\n"+
		"and the early potential-VIP model's ROC and precision-recall curves.")
	f := publishedFlags(fs, "the HTML file to write")
	p, d, err := c.openPublished(ctx, fs, args, f, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	data, err := p.Report(ctx, d)
	if err != nil {
		return err
	}
	if err := report.WriteFile(*f.out, data); err != nil {
		return err
	}
	printSegments(c.stdout, data, p.Store.Where())
	fmt.Fprintf(c.stdout, "\nReport of %s: %s\n", data.AsOf, *f.out)
	return nil
}

// liftCmd measures what each segment's campaign did.
func (c *cli) liftCmd(ctx context.Context, args []string) error {
	fs := c.newFlags("lift", "Measures, for every segment published for an as-of date, its treated members against the\n"+
		"control group held out of it, over --window-days after the date: conversion, orders and revenue per\n"+
		"member, their differences with 95% intervals, and the smallest effect the segment could show.\n"+
		"Writes segment_lift for the date (a re-run replaces it).")
	config := fs.String("config", "", "YAML config file (see tessera.example.yaml)")
	asOf := fs.String("as-of", "", "published date, YYYY-MM-DD (default: yesterday in the configured time zone)")
	window := fs.Int("window-days", 0, "days after the date to count (default: export.lift_window_days)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.loadConfig(*config)
	if err != nil {
		return err
	}
	d, err := parseAsOf(*asOf, cfg)
	if err != nil {
		return err
	}
	if *window == 0 {
		*window = cfg.Export.LiftWindowDays
	}
	if *window < 1 {
		return usageError{fmt.Errorf("--window-days %d: want at least 1", *window)}
	}
	p, err := c.openRunner(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := p.Lift(ctx, d, *window)
	if err != nil {
		return err
	}
	printLift(c.stdout, res, p.Store.Where())
	return nil
}

// lookalikeCmd writes a look-alike audience.
func (c *cli) lookalikeCmd(ctx context.Context, args []string) error {
	fs := c.newFlags("lookalike", "Ranks every registered customer not in the seed (buyers, and customers with only site behaviour)\n"+
		"by likeness to it on what they bought and did on the site and with messages, and writes the --size most\n"+
		"alike who opted in to e-mail as the hex SHA-256 of their trimmed, lower-cased address (column email),\n"+
		"the form ad platforms' customer-list uploads take. A re-run replaces the file.")
	seed := fs.String("seed", "", "a segment id (seg-...) or vip of the published date, or a file of customer ids (one a line)")
	size := fs.Int("size", 1000, "customers to write")
	method := fs.String("method", lookalike.Logistic, "logistic (a regularised classifier of seed against the rest) or centroid (distance to the seed's mean)")
	f := publishedFlags(fs, "the CSV file to write")
	p, d, err := c.openPublished(ctx, fs, args, f, func() error {
		switch {
		case *seed == "":
			return usageError{errors.New("--seed is required: a segment id, vip, or a file of customer ids")}
		case *size < 1:
			return usageError{fmt.Errorf("--size %d: want at least 1", *size)}
		case *method != lookalike.Logistic && *method != lookalike.Centroid:
			return usageError{fmt.Errorf("--method %q: want logistic or centroid", *method)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer p.Close()
	ids, err := p.Seed(ctx, d, *seed)
	if err != nil {
		return err
	}
	res, err := p.Lookalike(ctx, d, ids, *size, *method, *f.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Look-alike audience of %s as of %s (%s): %d seed customers, %d ranked; the %d most alike who opted in to e-mail written to %s\n",
		*seed, res.AsOf, res.Method, res.Seed, res.Base, res.Written, res.File)
	return nil
}

// publishedArgs are the flags of a command that reads a published date and
// writes to --out.
type publishedArgs struct{ config, asOf, out *string }

func publishedFlags(fs *flag.FlagSet, outHelp string) publishedArgs {
	return publishedArgs{
		config: fs.String("config", "", "YAML config file (see tessera.example.yaml)"),
		asOf:   fs.String("as-of", "", "published date, YYYY-MM-DD (default: yesterday in the configured time zone)"),
		out:    fs.String("out", "", outHelp),
	}
}

// openPublished parses the flags (check, if set, checks the command's own),
// loads the config and opens the warehouse, without the run lock: it writes
// no table of the date.
func (c *cli) openPublished(ctx context.Context, fs *flag.FlagSet, args []string, f publishedArgs, check func() error) (*pipeline.Runner, time.Time, error) {
	if err := c.parse(fs, args); err != nil {
		return nil, time.Time{}, err
	}
	if *f.out == "" {
		return nil, time.Time{}, usageError{errors.New("--out is required")}
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, time.Time{}, err
		}
	}
	cfg, err := c.loadConfig(*f.config)
	if err != nil {
		return nil, time.Time{}, err
	}
	d, err := parseAsOf(*f.asOf, cfg)
	if err != nil {
		return nil, d, err
	}
	p, err := c.openRunner(ctx, cfg, false)
	return p, d, err
}

// backfillCmd creates one Job per date from a CronJob's template and follows them.
func (c *cli) backfillCmd(ctx context.Context, args []string) error {
	fs := c.newFlags("backfill", "Creates one Job per date from the CronJob's template (as kubectl create job --from=cronjob/NAME does)\n"+
		"with --as-of DATE added, at most --parallel at once, follows them with a progress line and reports the\n"+
		"dates that failed (exit 1 if any). Re-running it follows the Jobs already made instead of repeating them.")
	cronJob := fs.String("cronjob", "", "the CronJob, e.g. tessera-score")
	from := fs.String("from", "", "first date, YYYY-MM-DD")
	to := fs.String("to", "", "last date (inclusive), YYYY-MM-DD")
	parallel := fs.Int("parallel", 1, "Jobs running at once")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig outside a pod (default: $KUBECONFIG or ~/.kube/config)")
	namespace := fs.String("namespace", "", "namespace (default: the pod's, or the kubeconfig context's)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	f, err1 := time.Parse(time.DateOnly, *from)
	t, err2 := time.Parse(time.DateOnly, *to)
	switch {
	case *cronJob == "":
		return usageError{errors.New("--cronjob is required")}
	case err1 != nil || err2 != nil:
		return usageError{fmt.Errorf("--from %q and --to %q: want YYYY-MM-DD", *from, *to)}
	case t.Before(f):
		return usageError{fmt.Errorf("--to %s is before --from %s", *to, *from)}
	case *parallel < 1:
		return usageError{errors.New("--parallel must be at least 1")}
	}
	client, ns, err := kube.Client(*kubeconfig)
	if err != nil {
		return err
	}
	if *namespace != "" {
		ns = *namespace
	}
	res, err := kube.Backfill(ctx, client, kube.BackfillOptions{CronJob: *cronJob, Namespace: ns, From: f, To: t, Parallel: *parallel}, c.stdout)
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		var days []string
		for _, d := range res.Failed {
			days = append(days, d.Format(time.DateOnly))
		}
		return fmt.Errorf("backfill of %s: %d of %d dates failed: %s", *cronJob, len(res.Failed), len(res.Failed)+len(res.Succeeded), strings.Join(days, ", "))
	}
	fmt.Fprintf(c.stdout, "backfill of %s: all %d dates done\n", *cronJob, len(res.Succeeded))
	return nil
}
