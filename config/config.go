// Package config holds Tessera's typed configuration: one YAML file whose every key
// can be overridden by an environment variable TESSERA_<PATH> (upper case, levels
// joined by '_', e.g. TESSERA_CLICKHOUSE_ADDR). Secrets never come from the file:
// only from the environment or from files mounted in the container.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. See tessera.example.yaml for every key.
type Config struct {
	// TimeZone decides what "yesterday" means for the default --as-of.
	TimeZone string `yaml:"time_zone"`
	// DataDir holds the embedded mode's output tables and the sample shop,
	// and extract's spill of the key hashes it landed (see ExtractOptions).
	DataDir string `yaml:"data_dir"`
	// BatchRows bounds the rows of one Arrow record batch, and so memory
	// (publish takes batches of at most 16384 rows: less memory, less CPU).
	BatchRows  int        `yaml:"batch_rows"`
	Log        Log        `yaml:"log"`
	ClickHouse ClickHouse `yaml:"clickhouse"`
	Source     Source     `yaml:"source"`
	Sample     Sample     `yaml:"sample"`
	LTV        LTV        `yaml:"ltv"`
	// Segmentation: the score stage's rules (train fits the early-VIP model).
	Segmentation Segmentation `yaml:"segmentation"`
	Export       Export       `yaml:"export"`
	Kube         Kube         `yaml:"kube"`
}

// Kube configures the run lock, so two runs never write the same date at
// once: a Kubernetes Lease per stage and as-of date in a cluster, else a
// lock the warehouse holds (claims in ClickHouse, advisory file locks in the
// embedded folder).
type Kube struct {
	// Lock: auto (a Lease inside a Kubernetes pod, the warehouse's lock
	// elsewhere), kubernetes (or on: a Lease, through the kubeconfig outside
	// a pod), warehouse, or off.
	Lock string `yaml:"lock"`
	// LeaseSeconds: a holder that stops renewing (it crashed) loses the lock
	// after this long.
	LeaseSeconds int `yaml:"lease_seconds"`
	// Wait: how long a run waits for a held lock before it fails; 0: at once.
	Wait time.Duration `yaml:"wait"`
	// Kubeconfig outside a pod (empty: $KUBECONFIG or ~/.kube/config).
	Kubeconfig string `yaml:"kubeconfig"`
}

// Export configures the marketing deliverables: the control group held out of
// every micro-segment (chosen by score, published in segment_members) and the
// files `tessera export` writes.
type Export struct {
	// ControlShare of the customers is drawn into each campaign period's
	// control group and held out of every segment's campaigns (segment_members.
	// control_group): those whose fixed place, a hash of the customer id,
	// falls in the period's band.
	ControlShare float64 `yaml:"control_share"`
	// CampaignDays: the length of a campaign period (counted from
	// 1970-01-01). Each period a quarter of the control group is replaced, and
	// the last period's group stays held out lift_window_days − 1 days into
	// the new one, so that every date's control group is held out until its
	// lift window closes: on those days about 1.25 × control_share is held out.
	CampaignDays int `yaml:"campaign_days"`
	// IncludeEmail adds the clear e-mail address of customers who opted in to
	// e-mail; off, the files carry no address.
	IncludeEmail bool `yaml:"include_email"`
	// CSVBOM starts each CSV file with a UTF-8 byte order mark, for Excel.
	CSVBOM bool `yaml:"csv_bom"`
	// LiftWindowDays: tessera lift counts what members did in this many days
	// after the published date.
	LiftWindowDays int `yaml:"lift_window_days"`
}

// Segmentation holds the rules of lifecycle stages, VIP tiers, the early
// potential-VIP model, micro-segments, product feeds and strategies; the model
// package documents each field.
type Segmentation struct {
	Lifecycle     segment.LifecycleOptions `yaml:"lifecycle"`
	VIP           segment.VIPOptions       `yaml:"vip"`
	EarlyVIP      segment.EarlyVIPOptions  `yaml:"early_vip"`
	MicroSegments segment.SegmentOptions   `yaml:"micro_segments"`
	Feeds         segment.FeedOptions      `yaml:"feeds"`
	// Strategies: the first rule whose conditions all hold gives a customer's
	// strategy and action; the last rule has no conditions.
	Strategies []segment.StrategyRule `yaml:"strategies"`
	// Offers: each customer's recommended discount, a step of a ladder
	// picked by a rule table (segment.OfferOptions).
	Offers segment.OfferOptions `yaml:"offers"`
}

// LTV configures the purchase and spend models (train) and their predictions (score).
type LTV struct {
	// HoldoutDays: train fits each candidate on the history up to this many days
	// before the as-of date, scores it on those days, and keeps the best.
	HoldoutDays int `yaml:"holdout_days"`
	// Models are the candidates: bgnbd, mbgnbd, pnbd.
	Models []string `yaml:"models"`
	// Gate: the floors the history must reach before anything is predicted.
	Gate model.GateOptions `yaml:"gate"`
	// Penalty is an L2 penalty on the parameters (0: plain maximum likelihood).
	Penalty float64 `yaml:"penalty"`
	// CLVMonths: the horizon of the CLV score publishes (clv_12m), with
	// DiscountMonthly, the monthly discount rate future value is discounted by.
	CLVMonths       int     `yaml:"clv_months"`
	DiscountMonthly float64 `yaml:"discount_monthly"`
	// MaxCustomers bounds what train fits on: a base with more buyers is
	// fitted on one in ⌈buyers/MaxCustomers⌉ of them, chosen by a hash of the
	// customer id and SampleSeed (0: every buyer).
	MaxCustomers int    `yaml:"max_customers"`
	SampleSeed   uint64 `yaml:"sample_seed"`
	// MinGrade is the worst holdout grade (A, B, C or D) a purchase model
	// may have and still be used: train tries the next candidate below it,
	// and with none left score publishes no prediction and says why. The
	// default, C, refuses a model no better than a rule of thumb (D) and
	// one never checked on a holdout.
	MinGrade string `yaml:"min_grade"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (JSON unless on a terminal), json, text
}

// ClickHouse is the warehouse. With no address Tessera runs embedded and writes
// Parquet files under DataDir instead.
type ClickHouse struct {
	Addr string `yaml:"addr"` // host:port of the native protocol
	// Database holds Tessera's tables (created by migrate).
	Database string `yaml:"database"`
	// User and PasswordFile (a mounted file holding the password; else
	// TESSERA_CLICKHOUSE_PASSWORD) are whom Tessera connects as.
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
	// Secure: TLS to the native protocol's secure port (9440; hosted
	// ClickHouse requires it), checked against CAFile or the system's roots.
	Secure bool   `yaml:"secure"`
	CAFile string `yaml:"ca_file"`
	// DialTimeout: how long a connection may take before the server is
	// taken not to answer.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// Compression of the blocks sent and read: lz4 across a network; none
	// when Tessera and the server share a host or a fast link (both sides
	// then skip compressing and decompressing every block).
	Compression string `yaml:"compression"`
	// Cluster names a cluster of the servers' remote_servers: the tables are
	// then replicated on every shard (ZooKeeper or ClickHouse Keeper, the
	// {shard} and {replica} macros), read and written through Distributed
	// tables, and published shard by shard. Empty: one server.
	Cluster string `yaml:"cluster"`
	// Password comes from TESSERA_CLICKHOUSE_PASSWORD or PasswordFile, never the file.
	Password string `yaml:"-"`
}

// identRe is what a name taken from the config into SQL may look like.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Source says where extract reads from. An entity with a query in postgres or
// mysql is read from that database; every other entity from files.
type Source struct {
	Files Files `yaml:"files"`
	// Full re-reads every row, ignoring the watermarks (tessera extract --full).
	Full     bool      `yaml:"-"`
	Postgres SQLSource `yaml:"postgres"`
	MySQL    SQLSource `yaml:"mysql"`
	// ClickHouse as a source, for shops that keep click-stream there (DSN
	// clickhouse://user:password@host:9000/database).
	ClickHouse SQLSource `yaml:"clickhouse"`
	// DedupWindow: a row whose key was read within this many keys before is
	// caught as a duplicate before landing (newest version wins, counted).
	// Only that many keys (and versions) are held for it, so that extract's
	// memory does not grow with the rows read; a key repeated further apart
	// lands twice, the raw table keeps one, and the run counts it. Customers
	// and orders also keep every key, 8 bytes each, to check their children
	// against. Embedded runs (no ClickHouse) hold every key.
	DedupWindow int `yaml:"dedup_window"`
	// MaxAmount: an amount or price above it (in absolute value) is rejected
	// as out_of_range rather than landed: such a number is an export's error,
	// and one of them makes nonsense of a customer's totals.
	MaxAmount float64 `yaml:"max_amount"`
	// MaxRejectedShare: extract fails (exit 1) when it rejects more than
	// this share of an entity's rows, blank records and repeated keys aside,
	// naming the entity and its top rules; what landed stays landed.
	MaxRejectedShare RejectedShares `yaml:"max_rejected_share"`
	// UnknownProduct: what becomes of an order line whose product the
	// catalogue lacks (when products are read at all): count (land it and
	// count it) or reject (unknown_product).
	UnknownProduct string `yaml:"unknown_product"`
}

// SQLSource is a database read with one query per entity whose result columns
// are named after canonical columns.
type SQLSource struct {
	// Queries maps an entity (customers, orders, ...) to its SELECT.
	Queries map[string]string `yaml:"queries"`
	// DSNFile: a mounted file holding the DSN (else the TESSERA_SOURCE_..._DSN
	// variable): it holds the password.
	DSNFile string `yaml:"dsn_file"`
	// Watermarks maps an entity to its version column (a canonical timestamp
	// column of its query, e.g. updated_at): each run reads only the rows at or
	// after the newest value landed before, less Overlap (for late commits).
	Watermarks map[string]string `yaml:"watermarks"`
	Overlap    time.Duration     `yaml:"overlap"`
	// Preset magento2 (mysql only) reads a Magento 2 database with Tessera's
	// built-in mapping (customers, guests, products, orders, order lines, all
	// incremental by updated_at); queries given here replace the preset's.
	Preset string `yaml:"preset"`
	// TablePrefix is Magento's table prefix, if the shop was installed with one.
	TablePrefix string `yaml:"table_prefix"`
	// DSN comes from TESSERA_SOURCE_POSTGRES_DSN / TESSERA_SOURCE_MYSQL_DSN or
	// DSNFile, never from the config file: it holds the password.
	DSN string `yaml:"-"`
}

// Files are canonical CSV or Parquet files, one per entity, as `tessera generate`
// writes them.
type Files struct {
	Dir    string `yaml:"dir"`    // empty: the generated sample shop
	Format string `yaml:"format"` // csv or parquet
	// ShopifyOrders is a Shopify Orders CSV export: orders, their lines and
	// the customers (by e-mail) come from it instead of Dir.
	ShopifyOrders string `yaml:"shopify_orders"`
	// ShopifyCustomers is a Shopify Customers CSV export: customers come from
	// it (with their first order's time from ShopifyOrders, when set).
	ShopifyCustomers string `yaml:"shopify_customers"`
	// Mapping reads a shop's own export: per entity (or transactions), its
	// file under Dir and how its columns and values map onto the canonical
	// ones. Entities it leaves out are read as canonical files, as before.
	Mapping map[string]FileMapping `yaml:"mapping"`
}

// Sample is the shop generated when no source is configured.
type Sample struct {
	// Customers, Days and Seed: the size, span and seed of the generated
	// shop (tessera generate takes the same).
	Customers int   `yaml:"customers"`
	Days      int   `yaml:"days"`
	Seed      int64 `yaml:"seed"`
}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		TimeZone:   "UTC",
		DataDir:    "tessera-data",
		BatchRows:  65536,
		Log:        Log{Level: "info", Format: "auto"},
		ClickHouse: ClickHouse{Database: "tessera", User: "default", DialTimeout: 10 * time.Second, Compression: "lz4"},
		Source: Source{Files: Files{Format: "csv"}, Postgres: SQLSource{Overlap: time.Hour}, MySQL: SQLSource{Overlap: time.Hour},
			ClickHouse: SQLSource{Overlap: time.Hour}, DedupWindow: 1 << 20, MaxAmount: canon.DefaultMaxAmount,
			MaxRejectedShare: defaultShares(0.05), UnknownProduct: "count"},
		Sample: Sample{Customers: 10000, Days: 730, Seed: 1},
		LTV: LTV{HoldoutDays: 90, Models: []string{"bgnbd", "mbgnbd"}, Gate: model.DefaultGate, CLVMonths: 12, DiscountMonthly: 0.01,
			MaxCustomers: 200000, MinGrade: model.GradeC},
		Segmentation: Segmentation{Lifecycle: segment.DefaultLifecycle, VIP: segment.DefaultVIP, EarlyVIP: segment.DefaultEarlyVIP,
			MicroSegments: segment.DefaultSegments, Feeds: segment.DefaultFeeds, Strategies: slices.Clone(segment.DefaultStrategies), Offers: segment.DefaultOffers},
		Export: Export{ControlShare: 0.1, CampaignDays: 28, LiftWindowDays: 28},
		Kube:   Kube{Lock: "auto", LeaseSeconds: 60, Wait: 2 * time.Hour},
	}
}

// Load reads path (none when empty), applies TESSERA_* overrides from env and
// validates. Errors here are configuration errors: the CLI exits with code 2.
func Load(path string, env func(string) string) (Config, error) {
	var b []byte
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return Default(), fmt.Errorf("read config: %w", err)
		}
	}
	return Parse(path, b, env)
}

// Parse is Load of a config file's content (name names it in errors).
func Parse(name string, b []byte, env func(string) string) (Config, error) {
	c := Default()
	if len(b) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %w", name, err)
		}
	}
	if err := override(reflect.ValueOf(&c).Elem(), "TESSERA", env); err != nil {
		return c, err
	}
	var err error
	if c.ClickHouse.Password, err = secret(env("TESSERA_CLICKHOUSE_PASSWORD"), c.ClickHouse.PasswordFile, "clickhouse.password_file"); err != nil {
		return c, err
	}
	if c.Source.Postgres.DSN, err = secret(env("TESSERA_SOURCE_POSTGRES_DSN"), c.Source.Postgres.DSNFile, "source.postgres.dsn_file"); err != nil {
		return c, err
	}
	if c.Source.MySQL.DSN, err = secret(env("TESSERA_SOURCE_MYSQL_DSN"), c.Source.MySQL.DSNFile, "source.mysql.dsn_file"); err != nil {
		return c, err
	}
	if c.Source.ClickHouse.DSN, err = secret(env("TESSERA_SOURCE_CLICKHOUSE_DSN"), c.Source.ClickHouse.DSNFile, "source.clickhouse.dsn_file"); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// secret is the value from the environment, else the content of file.
func secret(fromEnv, file, key string) (string, error) {
	if fromEnv != "" || file == "" {
		return fromEnv, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Validate checks every value.
func (c Config) Validate() error {
	var errs []error
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		errs = append(errs, fmt.Errorf("time_zone: %w", err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.BatchRows < 1024 || c.BatchRows > 1<<22 {
		errs = append(errs, fmt.Errorf("batch_rows must be between 1024 and 4194304, got %d", c.BatchRows))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level must be debug, info, warn or error, got %q", c.Log.Level))
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log.format must be auto, json or text, got %q", c.Log.Format))
	}
	if c.ClickHouse.Addr != "" {
		if !strings.Contains(c.ClickHouse.Addr, ":") {
			errs = append(errs, fmt.Errorf("clickhouse.addr must be host:port, got %q", c.ClickHouse.Addr))
		}
		if !identRe.MatchString(c.ClickHouse.Database) {
			errs = append(errs, fmt.Errorf("clickhouse.database %q is not a plain name", c.ClickHouse.Database))
		}
		if db := strings.ToLower(c.ClickHouse.Database); db == "system" || db == "information_schema" {
			errs = append(errs, fmt.Errorf("clickhouse.database %q is ClickHouse's own: give Tessera a database of its own (e.g. tessera)", c.ClickHouse.Database))
		}
		if c.ClickHouse.Compression != "lz4" && c.ClickHouse.Compression != "none" {
			errs = append(errs, fmt.Errorf("clickhouse.compression must be lz4 or none, got %q", c.ClickHouse.Compression))
		}
		if c.ClickHouse.Cluster != "" && !identRe.MatchString(c.ClickHouse.Cluster) {
			errs = append(errs, fmt.Errorf("clickhouse.cluster %q is not a plain name (one of the servers' remote_servers)", c.ClickHouse.Cluster))
		}
	}
	errs = append(errs, c.validateSource()...)
	if c.LTV.HoldoutDays < 1 || c.LTV.CLVMonths < 1 || c.LTV.DiscountMonthly < 0 || c.LTV.Penalty < 0 {
		errs = append(errs, errors.New("ltv: holdout_days and clv_months must be positive, discount_monthly and penalty not negative"))
	}
	if !slices.Contains([]string{model.GradeA, model.GradeB, model.GradeC, model.GradeD}, c.LTV.MinGrade) {
		errs = append(errs, fmt.Errorf("ltv.min_grade must be one of A, B, C, D, got %q", c.LTV.MinGrade))
	}
	if c.LTV.MaxCustomers != 0 && c.LTV.MaxCustomers < 1000 {
		errs = append(errs, fmt.Errorf("ltv.max_customers must be 0 (every buyer) or at least 1000, got %d", c.LTV.MaxCustomers))
	}
	if c.ClickHouse.CAFile != "" && !c.ClickHouse.Secure {
		errs = append(errs, errors.New("clickhouse.ca_file is set but clickhouse.secure is not: set secure: true to use TLS"))
	}
	if err := c.LTV.Gate.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.LTV.Models) == 0 {
		errs = append(errs, errors.New("ltv.models: name at least one of bgnbd, mbgnbd, pnbd"))
	}
	for _, m := range c.LTV.Models {
		if !slices.Contains(model.Candidates, m) {
			errs = append(errs, fmt.Errorf("ltv.models: %q is not one of bgnbd, mbgnbd, pnbd", m))
		}
	}
	sg := c.Segmentation
	for _, err := range []error{sg.Lifecycle.Validate(), sg.VIP.Validate(), sg.EarlyVIP.Validate(), sg.MicroSegments.Validate(),
		sg.Feeds.Validate(), segment.ValidateStrategies(sg.Strategies), sg.Offers.Validate()} {
		if err != nil {
			errs = append(errs, fmt.Errorf("segmentation.%w", err))
		}
	}
	switch c.Kube.Lock {
	case "auto", "kubernetes", "on", "warehouse", "off":
	default:
		errs = append(errs, fmt.Errorf("kube.lock must be auto, kubernetes, warehouse or off, got %q", c.Kube.Lock))
	}
	if c.Kube.LeaseSeconds < 15 || c.Kube.Wait < 0 {
		errs = append(errs, errors.New("kube: lease_seconds at least 15, wait not negative"))
	}
	if c.Export.ControlShare < 0 || c.Export.ControlShare >= 1 || c.Export.CampaignDays < 1 || c.Export.LiftWindowDays < 1 {
		errs = append(errs, errors.New("export: control_share in [0, 1), campaign_days and lift_window_days at least 1"))
	}
	if c.Sample.Customers < 1 || c.Sample.Days < 1 {
		errs = append(errs, errors.New("sample.customers and sample.days must be positive"))
	}
	return errors.Join(errs...)
}

// entities are the canonical entity names; config does not import canon so that
// it stays a leaf, and a test keeps the two lists equal.
var entities = map[string]bool{"customers": true, "products": true, "orders": true, "order_lines": true, "events": true, "campaign_events": true}

// Location is the configured time zone.
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// override sets each field from its environment variable, if set.
func override(v reflect.Value, prefix string, env func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" || tag == "" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := override(fv, name, env); err != nil {
				return err
			}
			continue
		}
		s := env(name)
		if s == "" {
			continue
		}
		if err := setValue(fv, s); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func setValue(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot set a %s from the environment", v.Type())
		}
		var items []string
		for _, it := range strings.Split(s, ",") {
			items = append(items, strings.TrimSpace(it))
		}
		v.Set(reflect.ValueOf(items))
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	default:
		return fmt.Errorf("cannot set a %s from the environment", v.Kind())
	}
	return nil
}

// validateSource says what is wrong with the source section.
func (c Config) validateSource() []error {
	var errs []error
	if w := c.Source.DedupWindow; w < c.BatchRows || w > 1<<30 {
		errs = append(errs, fmt.Errorf("source.dedup_window must be between batch_rows (%d) and 1073741824, got %d: duplicates within a batch are always caught", c.BatchRows, w))
	}
	if m := c.Source.MaxAmount; !(m > 0) || math.IsInf(m, 0) {
		errs = append(errs, fmt.Errorf("source.max_amount must be a positive number, got %v", m))
	}
	for _, e := range slices.Sorted(maps.Keys(entities)) {
		if s := c.Source.MaxRejectedShare.Of(e); !(s >= 0 && s <= 1) {
			errs = append(errs, fmt.Errorf("source.max_rejected_share.%s must be between 0 and 1, got %v", e, s))
		}
	}
	if u := c.Source.UnknownProduct; u != "count" && u != "reject" {
		errs = append(errs, fmt.Errorf("source.unknown_product must be count or reject, got %q", u))
	}
	errs = append(errs, c.validateMapping()...)
	if f := c.Source.Files.Format; f != "csv" && f != "parquet" {
		errs = append(errs, fmt.Errorf("source.files.format must be csv or parquet, got %q", f))
	}
	for name, src := range map[string]SQLSource{"postgres": c.Source.Postgres, "mysql": c.Source.MySQL, "clickhouse": c.Source.ClickHouse} {
		for e := range src.Queries {
			if !entities[e] {
				errs = append(errs, fmt.Errorf("source.%s.queries: %q is not an entity (customers, products, orders, order_lines, events, campaign_events)", name, e))
			}
		}
		for e, col := range src.Watermarks {
			if !identRe.MatchString(col) {
				errs = append(errs, fmt.Errorf("source.%s.watermarks.%s: %q is not a plain column name (letters, digits, _)", name, e, col))
			}
			if _, ok := src.Queries[e]; !ok && src.Preset == "" {
				errs = append(errs, fmt.Errorf("source.%s.watermarks: %s has no query", name, e))
			}
		}
		if src.Overlap < 0 {
			errs = append(errs, fmt.Errorf("source.%s.overlap must not be negative", name))
		}
		if src.Preset != "" && (name != "mysql" || src.Preset != "magento2") {
			errs = append(errs, fmt.Errorf("source.%s.preset: %q is not a preset (mysql has magento2)", name, src.Preset))
		}
		if src.TablePrefix != "" && !identRe.MatchString(src.TablePrefix) {
			errs = append(errs, fmt.Errorf("source.%s.table_prefix %q is not a plain name (letters, digits, _)", name, src.TablePrefix))
		}
		if (len(src.Queries) > 0 || src.Preset != "") && src.DSN == "" {
			errs = append(errs, fmt.Errorf("source.%s has queries but no DSN: set TESSERA_SOURCE_%s_DSN or source.%s.dsn_file", name, strings.ToUpper(name), name))
		}
	}
	return errs
}
