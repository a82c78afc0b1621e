package jobs

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/transform"
)

// featureStore is where the features stage reads orders and publishes features.
type featureStore interface {
	ReadOrders(ctx context.Context, mem memory.Allocator, before time.Time, batch int) ([]arrow.Record, error)
	ReadEvents(ctx context.Context, mem memory.Allocator, before time.Time, batch int) ([]arrow.Record, error)
	ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
}

// features computes every buyer's features as of the date and publishes them as
// the date's partition of customer_features.
func features(ctx context.Context, rc *runContext, st featureStore) (int, error) {
	start := time.Now()
	recs, err := st.ReadOrders(ctx, rc.mem, rc.asOf, rc.cfg.BatchRows)
	if err != nil {
		return 0, err
	}
	events, err := st.ReadEvents(ctx, rc.mem, rc.asOf, rc.cfg.BatchRows)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, r := range append(recs, events...) {
			r.Release()
		}
	}()
	rec, err := transform.CustomerFeatures(rc.mem, transform.FeatureInputs{Orders: recs, Events: events}, rc.asOf)
	if err != nil {
		return 0, err
	}
	defer rec.Release()
	if err := st.ReplacePartition(ctx, "customer_features", rc.asOf, rc.runID, rec); err != nil {
		return 0, err
	}
	rc.log.WithFields(logrus.Fields{"rows_landed": rec.NumRows(), "seconds": round(time.Since(start).Seconds())}).Info("features published")
	return int(rec.NumRows()), nil
}
