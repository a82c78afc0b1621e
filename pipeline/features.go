package pipeline

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// featureStore is where the features stage reads orders and publishes
// features, whole or in one part a shard.
type featureStore interface {
	reader
	streamer
	ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	OpenPart(ctx context.Context, table string, schema *arrow.Schema, asOf time.Time, job string, s warehouse.Slice, runID string) (warehouse.PartWriter, error)
	PartsWritten(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
	PublishParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
}

// medianStore computes the category medians of price_level in the
// warehouse once for a sharded Job, so that no pod reads every line to know
// them.
type medianStore interface {
	JobMedians(ctx context.Context, asOf time.Time, job, runID string) (map[string]float64, error)
}

// Features computes every buyer's features as of the date and publishes them
// as the date's partition of customer_features. A shard of a sharded run
// computes its customers' features, reading only their rows, and writes them
// as its part; shard 0 then waits for every part and publishes them in one
// swap. What is computed over every customer (the categories' median prices)
// is computed once for the Job, by the warehouse, and handed to each shard.
func Features(ctx context.Context, r Run, st featureStore, o FeatureOptions) (int, error) {
	start := time.Now()
	sh := r.Shard
	// Orders and the catalogue are held; lines, site and campaign events and
	// opt-ins stream past (they are most of the rows).
	orders, err := st.Read(ctx, r.Mem, sh.sliced(ordersBefore(r.AsOf)), o.BatchRows)
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
		return func(fn func(arrow.Record) error) error { return st.Each(ctx, r.Mem, sh.sliced(q), o.BatchRows, fn) }
	}
	in := transform.FeatureInputs{Location: o.Location, Orders: orders, Products: products, Lines: stream(orderLines), Events: stream(eventsBefore(r.AsOf)),
		Campaigns: stream(campaignsBefore(r.AsOf)), Customers: stream(customerOptins)}
	if sh.Sharded() {
		if in.CategoryMedians, err = categoryMedians(ctx, r, st, products, o); err != nil {
			return 0, err
		}
	}
	rec, err := transform.CustomerFeatures(r.Mem, in, r.AsOf)
	if err != nil {
		return 0, err
	}
	defer rec.Release()
	if !sh.Sharded() {
		if err := st.ReplacePartition(ctx, warehouse.CustomerFeatures.Name, r.AsOf, r.ID, rec); err != nil {
			return 0, err
		}
		r.Log.WithFields(logrus.Fields{"rows_landed": rec.NumRows(), "seconds": round(time.Since(start).Seconds())}).Info("features published")
		return int(rec.NumRows()), nil
	}
	log := r.Log.WithFields(logrus.Fields{"rows_landed": rec.NumRows(), "seconds": round(time.Since(start).Seconds())})
	finish, err := gatherParts(ctx, r, st, []string{warehouse.CustomerFeatures.Name}, func() error {
		return warehouse.WritePart(ctx, st, warehouse.CustomerFeatures.Name, r.AsOf, sh.Job, sh.slice(), r.ID, rec)
	})
	if err != nil {
		return 0, err
	}
	if !finish {
		log.Info("features part written; shard 0 publishes the date")
		return int(rec.NumRows()), nil
	}
	n, err := st.PublishParts(ctx, warehouse.CustomerFeatures.Name, r.AsOf, sh.Job, sh.Of)
	if err != nil {
		return 0, err
	}
	r.Log.WithFields(logrus.Fields{"shards": sh.Of, "rows_landed": n, "seconds": round(time.Since(start).Seconds())}).Info("features published from every shard's part")
	return n, nil
}

// categoryMedians are the median prices of every customer's lines by
// category: from the warehouse when it computes them (the first pod of the
// Job to come, holding "medians" alone, computes and stores them; the
// others wait for it and read them), else read here.
func categoryMedians(ctx context.Context, r Run, st featureStore, products []arrow.Record, o FeatureOptions) (map[string]float64, error) {
	if m, ok := st.(medianStore); ok {
		var out map[string]float64
		err := r.Shard.alone(ctx, "medians", r.AsOf, func() (err error) {
			out, err = m.JobMedians(ctx, r.AsOf, r.Shard.Job, r.ID)
			return err
		})
		return out, err
	}
	orders, err := st.Read(ctx, r.Mem, ordersBefore(r.AsOf), o.BatchRows)
	if err != nil {
		return nil, err
	}
	defer release(orders)
	lines := func(fn func(arrow.Record) error) error { return st.Each(ctx, r.Mem, orderLines, o.BatchRows, fn) }
	return transform.CategoryMedians(transform.FeatureInputs{Orders: orders, Products: products, Lines: lines}, r.AsOf)
}
