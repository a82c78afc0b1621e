package pipeline

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// featureStore is where the features stage reads orders and publishes features.
type featureStore interface {
	reader
	streamer
	ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
}

// Features computes every buyer's features as of the date and publishes them
// as the date's partition of customer_features.
func Features(ctx context.Context, r Run, st featureStore, o FeatureOptions) (int, error) {
	start := time.Now()
	// Orders and the catalogue are held; lines, site and campaign events and
	// opt-ins stream past (they are most of the rows).
	orders, err := st.Read(ctx, r.Mem, ordersBefore(r.AsOf), o.BatchRows)
	if err != nil {
		return 0, err
	}
	defer release(orders)
	products, err := st.Read(ctx, r.Mem, catalogue, o.BatchRows)
	if err != nil {
		return 0, err
	}
	defer release(products)
	stream := func(q warehouse.Query) transform.Batches {
		return func(fn func(arrow.Record) error) error { return st.Each(ctx, r.Mem, q, o.BatchRows, fn) }
	}
	in := transform.FeatureInputs{Location: o.Location, Orders: orders, Products: products, Lines: stream(orderLines), Events: stream(eventsBefore(r.AsOf)),
		Campaigns: stream(campaignsBefore(r.AsOf)), Customers: stream(customerOptins)}
	rec, err := transform.CustomerFeatures(r.Mem, in, r.AsOf)
	if err != nil {
		return 0, err
	}
	defer rec.Release()
	if err := st.ReplacePartition(ctx, warehouse.CustomerFeatures.Name, r.AsOf, r.ID, rec); err != nil {
		return 0, err
	}
	r.Log.WithFields(logrus.Fields{"rows_landed": rec.NumRows(), "seconds": round(time.Since(start).Seconds())}).Info("features published")
	return int(rec.NumRows()), nil
}
