package pipeline

import (
	"path/filepath"
	"time"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/synth"
)

// Options are each stage's own settings, built from the config in one place
// (OptionsFrom): no stage reads the whole config.
type Options struct {
	Extract  ExtractOptions
	Features FeatureOptions
	Train    TrainOptions
	Score    ScoreOptions
	Publish  PublishOptions
	Export   ExportOptions
}

// ExtractOptions: the sources, and how duplicates are caught.
type ExtractOptions struct {
	Source      config.Source
	DedupWindow int
	MaxAmount   float64
	BatchRows   int
	// Backoff: how long to wait before reading an entity again when the
	// warehouse did not answer while it landed.
	Backoff []time.Duration
	// Sample is the shop generated into SampleDir and read when the config
	// names no source at all.
	Sample    synth.Config
	SampleDir string
	// SpillDir is where the count of the rows landed beyond the duplicate
	// window spills (8 bytes a row landed of the entity being read).
	SpillDir string
	// Location: the shop's time zone, of a mapped export's times that carry
	// no offset (nil: UTC).
	Location *time.Location
}

// FeatureOptions: how many rows a batch read holds, and the time zone of
// the preferred hour and weekday (nil: UTC).
type FeatureOptions struct {
	BatchRows int
	Location  *time.Location
}

// TrainOptions: the candidate purchase models and the early-VIP model.
type TrainOptions struct {
	LTV       config.LTV
	EarlyVIP  segment.EarlyVIPOptions
	BatchRows int
}

// ScoreOptions: predictions, segmentation rules and the control group.
type ScoreOptions struct {
	CLVMonths       int
	DiscountMonthly float64
	Segmentation    config.Segmentation
	ControlShare    float64
	CampaignDays    int
	LiftWindowDays  int
	BatchRows       int
	// PlanBatchBuyers bounds the buyers whose macro groups shard 0 bisects
	// at a time (a larger group alone); 0: defaultPlanBatch.
	PlanBatchBuyers int
	// PlanHoldBytes bounds the profiles shard 0 holds, read once for every
	// pass of its plan, when the buyers fit a batch; beyond it each pass
	// reads them again. 0: defaultPlanHold.
	PlanHoldBytes int
	// ScoreBatchBuyers is about how many buyers a pod scores at a time
	// (their orders, predictions and features held); 0: defaultScoreBatch.
	ScoreBatchBuyers int
}

// defaultScoreBatch holds about 1 KB a buyer while a slice is scored.
const defaultScoreBatch = 250_000

func (o ScoreOptions) scoreBatch() int {
	if o.ScoreBatchBuyers > 0 {
		return o.ScoreBatchBuyers
	}
	return defaultScoreBatch
}

// defaultPlanBatch holds about 100 bytes a buyer of the batch on shard 0:
// 200 MB, whatever the number of buyers.
const defaultPlanBatch = 2_000_000

// defaultPlanHold: about 210 bytes a customer, held for the plan of up to
// about 2.5 million customers.
const defaultPlanHold = 512 << 20

func (o ScoreOptions) planHoldBytes() int {
	if o.PlanHoldBytes > 0 {
		return o.PlanHoldBytes
	}
	return defaultPlanHold
}

func (o ScoreOptions) planBatch() int {
	if o.PlanBatchBuyers > 0 {
		return o.PlanBatchBuyers
	}
	return defaultPlanBatch
}

// PublishOptions: how publish retries a swap the warehouse did not answer,
// and a hook run before every swap but the first (tests make it fail there).
type PublishOptions struct {
	Backoff    []time.Duration
	BeforeSwap func(table string) error
}

// ExportOptions: what the marketing files carry.
type ExportOptions struct {
	IncludeEmail bool
	CSVBOM       bool
	BatchRows    int
}

// DefaultBackoff is how long publish waits before each new attempt of a swap
// the warehouse did not answer (it restarts, the network drops).
var DefaultBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

// OptionsFrom builds every stage's options from the config.
func OptionsFrom(cfg config.Config) Options {
	sample := synth.Defaults()
	sample.Customers, sample.Days, sample.Seed, sample.Format = cfg.Sample.Customers, cfg.Sample.Days, cfg.Sample.Seed, cfg.Source.Files.Format
	sg := cfg.Segmentation
	return Options{
		Extract: ExtractOptions{Source: cfg.Source, DedupWindow: cfg.Source.DedupWindow, MaxAmount: cfg.Source.MaxAmount, BatchRows: cfg.BatchRows, Backoff: DefaultBackoff,
			Sample: sample, SampleDir: filepath.Join(cfg.DataDir, "sample-shop"), SpillDir: cfg.DataDir, Location: cfg.Location()},
		Features: FeatureOptions{BatchRows: cfg.BatchRows, Location: cfg.Location()},
		Train:    TrainOptions{LTV: cfg.LTV, EarlyVIP: sg.EarlyVIP, BatchRows: cfg.BatchRows},
		Score: ScoreOptions{CLVMonths: cfg.LTV.CLVMonths, DiscountMonthly: cfg.LTV.DiscountMonthly, Segmentation: sg,
			ControlShare: cfg.Export.ControlShare, CampaignDays: cfg.Export.CampaignDays, LiftWindowDays: cfg.Export.LiftWindowDays, BatchRows: cfg.BatchRows},
		Publish: PublishOptions{Backoff: DefaultBackoff},
		Export:  ExportOptions{IncludeEmail: cfg.Export.IncludeEmail, CSVBOM: cfg.Export.CSVBOM, BatchRows: cfg.BatchRows},
	}
}
