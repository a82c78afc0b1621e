package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// scoreStore is where score reads orders, features and models and stages
// scores, segments, members and feeds for publish.
type scoreStore interface {
	reader
	streamer
	LatestModel(ctx context.Context, asOf time.Time, kinds ...string) (warehouse.Model, error)
	Stage(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
	Publication(ctx context.Context, asOf time.Time) (warehouse.Publication, error)
	ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error)
	ReplacePart(ctx context.Context, table string, asOf time.Time, shard int, runID string, rec arrow.Record) error
	ReadParts(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
}

// ScoreSummary sums up the scores of one run.
type ScoreSummary struct {
	Customers, Buyers int
	// WithPAlive buyers have a P(alive); NotPredicted buyers miss a
	// prediction, and Gated says why none was made for anyone.
	WithPAlive, NotPredicted int
	Gated                    []string
	MeanPAlive               float64
	Expected365              float64
	CLV12                    float64
	WithNextOrder            int
	ModelID                  string
	EarlyVIPModelID          string
	Segments                 int
	MinSize, MaxSize         int
	Lifecycle, Tiers         map[string]int
	Part                     bool // a shard other than 0: it wrote its part only
	// Staged are the rows staged of each table, recorded with the run so
	// that publish can check what is staged is whole.
	Staged map[string]int
}

// Score scores every customer as of the date (LTV, RFM, lifecycle, VIP tier,
// early-VIP probability, strategy, micro-segment, product feed) and stages the
// date's partitions of customer_scores, segments, segment_members and
// segment_feed; publish swaps them in. A shard of a sharded score writes its
// LTV part; shard 0 waits for every part and does the rest.
func Score(ctx context.Context, r Run, wh scoreStore, o ScoreOptions) (ScoreSummary, error) {
	sh := o.Shard
	m, err := wh.LatestModel(ctx, r.AsOf, model.LTVKinds...)
	if err != nil {
		return ScoreSummary{}, err
	}
	// A shard reads only its customers' orders: the warehouse filters them.
	orders, err := wh.Read(ctx, r.Mem, sh.sliced(ordersBefore(r.AsOf)), o.BatchRows)
	if err != nil {
		return ScoreSummary{}, err
	}
	defer func() { release(orders) }()
	preds, a, err := predictLTV(r, m, orders, o)
	if err != nil {
		return ScoreSummary{}, err
	}
	modelID := m.ID
	if sh.Of > 1 {
		if err := stagePart(ctx, r, wh, sh, modelID, preds); err != nil {
			return ScoreSummary{}, err
		}
		if sh.Index != 0 {
			r.Log.WithFields(logrus.Fields{"shard": sh.Index, "shards": sh.Of, "customers": len(preds)}).Info("score part written; shard 0 segments and stages the date")
			return ScoreSummary{Customers: len(preds), ModelID: modelID, Part: true}, nil
		}
		if preds, err = waitForParts(ctx, r, wh, sh, modelID, a, o.PartsWait); err != nil {
			return ScoreSummary{}, err
		}
		release(orders) // shard 0 segments every customer: it needs every order's lines
		if orders, err = wh.Read(ctx, r.Mem, ordersBefore(r.AsOf), o.BatchRows); err != nil {
			return ScoreSummary{}, err
		}
	}
	feats, err := readScoreFeatures(ctx, r, wh, len(preds))
	if err != nil {
		return ScoreSummary{}, err
	}
	defer feats.Release()
	early, earlyID, err := latestEarlyVIP(ctx, r, wh)
	if err != nil {
		return ScoreSummary{}, err
	}
	custs, err := profiles(ctx, r, wh, feats, preds, early, o)
	if err != nil {
		return ScoreSummary{}, err
	}
	segs, err := segmentCustomers(ctx, r, wh, custs, o.Segmentation.MicroSegments)
	if err != nil {
		return ScoreSummary{}, err
	}
	lines := func(fn func(arrow.Record) error) error { return wh.Each(ctx, r.Mem, orderLines, o.BatchRows, fn) }
	baskets, err := transform.Baskets(orders, lines, r.AsOf)
	if err != nil {
		return ScoreSummary{}, err
	}
	if !a.Usable() {
		r.Log.WithField("reasons", a.Gate.Reasons).Warn("no purchase model passed its gate: no P(alive), expected purchases, next order or CLV is published; lifecycle and VIP tiers follow recency and rhythm")
	}
	out := ScoreSummary{Customers: len(custs), ModelID: modelID, EarlyVIPModelID: earlyID, Segments: len(segs), Gated: a.Gate.FailedReasons(),
		Lifecycle: map[string]int{}, Tiers: map[string]int{}, MinSize: math.MaxInt}
	for _, s := range segs {
		out.MinSize, out.MaxSize = min(out.MinSize, len(s.Members)), max(out.MaxSize, len(s.Members))
	}
	err = stageScores(ctx, r, wh, scored{custs, segs, baskets, modelID, earlyID}, &out, o)
	return out, err
}

// readScoreFeatures reads the date's customer_features, which must have a row
// for each of the buyers the orders have.
func readScoreFeatures(ctx context.Context, r Run, wh scoreStore, buyers int) (arrow.Record, error) {
	feats, err := wh.ReadPartition(ctx, r.Mem, warehouse.CustomerFeatures.Name, scoreFeatureSchema, r.AsOf)
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
	early := new(segment.EarlyVIPModel)
	if err := json.Unmarshal([]byte(m.Artefact), early); err != nil {
		return nil, "", fmt.Errorf("model %s: %w", m.ID, err)
	}
	return early, m.ID, nil
}

// scored is what score made of the customers, to be staged.
type scored struct {
	custs            []customer
	segs             []segment.Segment
	baskets          transform.CustomerBaskets
	modelID, earlyID string
}

// stageScores stages the date's scores, segments, members and feeds.
func stageScores(ctx context.Context, r Run, wh scoreStore, s scored, out *ScoreSummary, o ScoreOptions) error {
	feedRec, custFeeds := feeds(r, s.custs, s.segs, s.baskets, o.Segmentation.Feeds)
	defer feedRec.Release()
	s.baskets = transform.CustomerBaskets{} // every line of every buyer: not held while the records are built and staged
	scores := scoreRecord(r, s.custs, custFeeds, s.modelID, s.earlyID, out)
	defer scores.Release()
	segRec := segmentRecord(r, s.custs, s.segs)
	defer segRec.Release()
	members := memberRecord(r, s.custs, s.segs, custFeeds, o)
	defer members.Release()
	segments := len(s.segs)
	s.custs, s.segs = nil, nil // every customer's profile: not held while the records are staged
	start := time.Now()
	out.Staged = map[string]int{}
	for _, t := range []struct {
		table string
		rec   arrow.Record
	}{{warehouse.CustomerScores.Name, scores}, {warehouse.Segments.Name, segRec}, {warehouse.SegmentMembers.Name, members}, {warehouse.SegmentFeed.Name, feedRec}} {
		if err := wh.Stage(ctx, t.table, r.AsOf, r.ID, t.rec); err != nil {
			return err
		}
		out.Staged[t.table] = int(t.rec.NumRows())
	}
	r.Log.WithFields(logrus.Fields{"model_id": s.modelID, "early_vip_model_id": s.earlyID, "rows_landed": scores.NumRows(), "segments": segments,
		"seconds": round(time.Since(start).Seconds())}).Info("scores, segments, members and feeds staged for publish")
	return nil
}
