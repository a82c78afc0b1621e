package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// scoreStore is where score reads orders, features and models, writes its
// shard's profiles and, on shard 0, the date's plan and staged segments.
type scoreStore interface {
	reader
	streamer
	LatestModel(ctx context.Context, asOf time.Time, kinds ...string) (warehouse.Model, error)
	Stage(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	Publication(ctx context.Context, asOf time.Time) (warehouse.Publication, error)
	ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error)
	ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s warehouse.Slice) (arrow.Record, error)
	OpenPart(ctx context.Context, table string, schema *arrow.Schema, asOf time.Time, job string, s warehouse.Slice, runID string) (warehouse.PartWriter, error)
	PartsWritten(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
	PartRows(ctx context.Context, table string, asOf time.Time, job string, parts []warehouse.Slice) (int, error)
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
	RunRecord(ctx context.Context, id string) (warehouse.Run, bool, error)
	EachPart(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, job string, parts []warehouse.Slice, batch int, fn func(arrow.Record) error) error
}

// ZeroRevenueWarning says, when more than a fifth of the buyers bought for
// 0 in all, so and what it does to the scores; "" otherwise.
func (s ScoreSummary) ZeroRevenueWarning() string {
	if s.Buyers == 0 || float64(s.ZeroRevenue) <= zeroValueWarn*float64(s.Buyers) {
		return ""
	}
	return fmt.Sprintf("%d of %d buyers (%.0f%%) bought for 0 in all (their orders are worth 0): they are never high value, and revenue says little of them; "+
		"check where the orders' amounts come from", s.ZeroRevenue, s.Buyers, 100*float64(s.ZeroRevenue)/float64(s.Buyers))
}

// ScoreSummary sums up the scores of one run.
type ScoreSummary struct {
	Customers, Buyers int
	// WithPAlive buyers have a P(alive); NotPredicted buyers miss a
	// prediction, and Gated says why none was made for anyone.
	WithPAlive, NotPredicted int
	// ZeroRevenue buyers have bought for 0 in all (orders worth 0).
	ZeroRevenue      int
	Gated            []string
	MeanPAlive       float64
	Expected365      float64
	CLV12            float64
	WithNextOrder    int
	ModelID          string
	EarlyVIPModelID  string
	Segments         int
	MinSize, MaxSize int
	Lifecycle, Tiers map[string]int
	Part             bool // a shard other than 0: it wrote its part only
	// Staged are the rows of each table staged, or to be staged by publish's
	// shards, recorded with the run so that publish can check what is staged
	// is whole.
	Staged map[string]int
	// Plan is what publish's shards build the date's rows from (shard 0).
	Plan *Plan
	// PlanOf is the earlier score run of the job whose plan stands.
	PlanOf string
}

// Score scores the shard's customers as of the date (LTV, profile, early-VIP
// probability, basket) and writes them as its part of customer_profiles.
// Shard 0 (the only shard of a run that is not sharded) then waits for every
// part and plans the date over all customers: lifecycle, VIP and value
// tiers, RFM, micro-segments and control groups. It stages segments and
// writes each shard's part of customer_plan; publish's shards build
// customer_scores, segment_members and segment_changes from them, and rank
// the segments' feeds from their members' baskets.
func Score(ctx context.Context, r Run, wh scoreStore, o ScoreOptions) (ScoreSummary, error) {
	m, err := wh.LatestModel(ctx, r.AsOf, model.LTVKinds...)
	if err != nil {
		return ScoreSummary{}, err
	}
	early, earlyID, err := latestEarlyVIP(ctx, r, wh)
	if err != nil {
		return ScoreSummary{}, err
	}
	var n int
	var gated []string
	finish, err := gatherParts(ctx, r, wh, []string{warehouse.CustomerProfiles.Name}, func() (err error) {
		n, gated, err = scorePart(ctx, r, wh, o, m, early)
		return err
	})
	if err != nil {
		return ScoreSummary{}, err
	}
	if !finish {
		r.Log.WithField("customers", n).Info("profiles written; shard 0 plans the date")
		return ScoreSummary{Customers: n, ModelID: m.ID, EarlyVIPModelID: earlyID, Part: true}, nil
	}
	out := ScoreSummary{ModelID: m.ID, EarlyVIPModelID: earlyID, Gated: gated}
	err = plan(ctx, r, wh, o, m.ID, earlyID, &out)
	return out, err
}

// scorePart writes the shard's part of customer_profiles; it returns its
// customers and the reasons no purchase model passed its gate, if none did.
// It scores the shard's customers a slice at a time (scoreSlices): each
// customer's profile depends on its own orders and features alone.
func scorePart(ctx context.Context, r Run, wh scoreStore, o ScoreOptions, m warehouse.Model, early *segment.EarlyVIPModel) (int, []string, error) {
	sh := r.Shard
	ranges, err := scoreSlices(ctx, r, wh, o)
	if err != nil {
		return 0, nil, err
	}
	start := time.Now()
	pw, err := wh.OpenPart(ctx, warehouse.CustomerProfiles.Name, warehouse.CustomerProfiles.Schema, r.AsOf, sh.Job, sh.slice(), r.ID)
	if err != nil {
		return 0, nil, err
	}
	n := 0
	var a *model.Artefact
	orders := readOrders(ctx, r, wh, ranges[0], o)
	defer func() { orders.release() }()
	for j, s := range ranges {
		k, art, err := scoreSlice(ctx, r, wh, pw, s, orders, func() {
			// The next slice's orders are read while this one's profiles
			// are built and written.
			if j+1 < len(ranges) {
				orders = readOrders(ctx, r, wh, ranges[j+1], o)
			}
		}, o, m, early)
		if err != nil {
			pw.Abort(ctx)
			return 0, nil, err
		}
		n, a = n+k, art
	}
	if err := pw.Close(ctx); err != nil {
		return 0, nil, err
	}
	if !a.Usable() {
		r.Log.WithField("reasons", a.Gate.Reasons).Warn("no purchase model passed its gate: no P(alive), expected purchases, next order or CLV is published; lifecycle and VIP tiers follow recency and rhythm")
	}
	r.Log.WithFields(logrus.Fields{"customers": n, "model_id": m.ID, "slices": len(ranges), "seconds": round(time.Since(start).Seconds())}).Info("profiles written")
	return n, a.Gate.FailedReasons(), nil
}

// scoreSlices divide the shard's customers into slices of about
// ScoreOptions.ScoreBatchBuyers buyers (the shard's rows of the date's
// features, counted from their ids: the shard's range of the table, not the
// whole date), each a range of the customer hash within the shard's: a pod
// holds a slice's orders and features while it predicts, then its features
// and predictions, and the next slice's orders, while it writes. (At 1 M
// customers one process's peak stayed the plan's: 894 MB against 817 MB
// reading one slice at a time; a pod of four's 538 against 547 MB.)
func scoreSlices(ctx context.Context, r Run, wh scoreStore, o ScoreOptions) ([]warehouse.Slice, error) {
	ids, err := wh.ReadRunSlice(ctx, r.Mem, warehouse.CustomerFeatures.Name, featureIDSchema, r.AsOf, "", r.Shard.slice())
	if errors.Is(err, warehouse.ErrNoPartition) {
		return []warehouse.Slice{r.Shard.slice()}, nil
	}
	if err != nil {
		return nil, err
	}
	buyers := int(ids.NumRows())
	ids.Release()
	return subSlices(r.Shard.slice(), buyers, o.scoreBatch()), nil
}

// featureIDSchema reads the ids of customer_features.
var featureIDSchema = warehouse.CustomerFeatures.Columns("customer_id")

// subSlices cut a slice of buyers buyers into slices of about batch each:
// slice j of m of slice i of n is slice i·m+j of n·m, the hash range of
// slice i cut in m.
func subSlices(s warehouse.Slice, buyers, batch int) []warehouse.Slice {
	of := max(s.Of, 1)
	m := max(1, (buyers+batch-1)/batch)
	if m == 1 {
		return []warehouse.Slice{s}
	}
	out := make([]warehouse.Slice, m)
	for j := range out {
		out[j] = warehouse.Slice{Index: s.Index*m + j, Of: of * m}
	}
	return out
}

// scoreSlice writes the profiles of a slice of the shard's customers to pw;
// it returns how many, and the purchase model's artefact. It takes the
// slice's orders, read ahead, and calls predicted once they are predicted
// and let go of.
func scoreSlice(ctx context.Context, r Run, wh scoreStore, pw warehouse.PartWriter, s warehouse.Slice, orders *pending[[]arrow.Record], predicted func(), o ScoreOptions, m warehouse.Model, early *segment.EarlyVIPModel) (int, *model.Artefact, error) {
	// The slice's features are read while its orders are predicted: held
	// beside them for that while.
	features := startRead(ctx, func(ctx context.Context) (arrow.Record, error) {
		return wh.ReadRunSlice(ctx, r.Mem, warehouse.CustomerFeatures.Name, scoreFeatureSchema, r.AsOf, "", s)
	}, releaseRecord)
	defer features.release()
	recs, err := orders.take()
	if err != nil {
		return 0, nil, err
	}
	preds, a, err := predictLTV(r, m, recs, o)
	release(recs) // not held while the profiles are built
	if err != nil {
		return 0, nil, err
	}
	predicted()
	rec, err := features.take()
	feats, err := scoreFeatures(r, rec, err, len(preds))
	if err != nil {
		return 0, nil, err
	}
	defer feats.Release()
	n, err := writeProfiles(ctx, r, wh, pw, s, feats, preds, early, m.ID, o)
	return n, a, err
}

// readOrders begins the read of a slice's orders (the warehouse filters
// them).
func readOrders(ctx context.Context, r Run, wh scoreStore, s warehouse.Slice, o ScoreOptions) *pending[[]arrow.Record] {
	q := ordersBefore(r.AsOf)
	q.Slice = s
	return startRead(ctx, func(ctx context.Context) ([]arrow.Record, error) {
		return wh.Read(ctx, r.Mem, q, o.BatchRows)
	}, release)
}

// scoreFeatures are the features read of a slice (feats, or the read's
// error), which must have a row for each of the buyers the orders have. It
// takes feats: the caller releases what it returns, and nothing on an
// error.
func scoreFeatures(r Run, feats arrow.Record, err error, buyers int) (arrow.Record, error) {
	if errors.Is(err, warehouse.ErrNoPartition) && buyers == 0 {
		b := array.NewRecordBuilder(r.Mem, scoreFeatureSchema)
		defer b.Release()
		return b.NewRecord(), nil
	}
	if err != nil && !errors.Is(err, warehouse.ErrNoPartition) {
		return nil, err
	}
	if err != nil || feats.NumRows() != int64(buyers) {
		n := 0
		if feats != nil {
			n = int(feats.NumRows())
			feats.Release()
		}
		return nil, fmt.Errorf("customer_features as of %s has %d buyers, the orders %d: run features for the date first", r.AsOf.Format(time.DateOnly), n, buyers)
	}
	return feats, nil
}

// latestEarlyVIP is the newest early potential-VIP model trained by the
// date, or nil when train stored none yet.
func latestEarlyVIP(ctx context.Context, r Run, wh scoreStore) (*segment.EarlyVIPModel, string, error) {
	m, err := wh.LatestModel(ctx, r.AsOf, model.KindEarlyVIP)
	if errors.Is(err, warehouse.ErrNoModel) {
		r.Log.Warn("no early potential-VIP model (train stores one when the shop has a full cohort): potential VIPs come from CLV alone")
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if m.Status == "gated" {
		r.Log.WithField("reason", m.Reason).Warn("no early potential-VIP model for the date: potential VIPs come from CLV alone")
		return nil, "", nil
	}
	early := new(segment.EarlyVIPModel)
	if err := json.Unmarshal([]byte(m.Artefact), early); err != nil {
		return nil, "", fmt.Errorf("model %s: %w", m.ID, err)
	}
	return early, m.ID, nil
}
