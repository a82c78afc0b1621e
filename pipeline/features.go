package pipeline

import (
	"context"
	"fmt"
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

// medianStore is a warehouse through which the pods of a sharded Job share
// what they count of their lines' prices, so that each takes the category
// medians of price_level from the counts of all instead of reading every
// line; and which computes them when the pods do not all come (JobMedians).
type medianStore interface {
	StoredMedians(ctx context.Context, asOf time.Time, job string) (map[string]float64, error)
	StoreMedians(ctx context.Context, asOf time.Time, job, runID string, m map[string]float64) error
	SharePrices(ctx context.Context, asOf time.Time, job string, s warehouse.Slice, runID string, counts map[string]map[float64]int64) error
	PricesShared(ctx context.Context, asOf time.Time, job string) (pods, categorised int, err error)
	SharedPrices(ctx context.Context, asOf time.Time, job string) (int, map[string]map[float64]int64, error)
	JobMedians(ctx context.Context, asOf time.Time, job, runID string) (map[string]float64, error)
}

// Features computes every buyer's features as of the date and publishes them
// as the date's partition of customer_features. A shard of a sharded run
// computes its customers' features, reading only their rows, and writes them
// as its part; shard 0 then waits for every part and publishes them in one
// swap. What is computed over every customer (the categories' median prices)
// each pod takes from what all the Job's pods count of their own lines.
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
		in.CategoryMedians = func(own transform.PriceCounts) (map[string]float64, error) {
			return categoryMedians(ctx, r, st, products, own, o)
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
// category, for a pod that counted its own (own): in the warehouse, the
// Job's medians if they are stored (a pod run again compares with what the
// others did), else the counts of every pod added up by pod 0 once each has
// shared its own and stored for the others (each waits up to the shard's
// ShareWait for the others' counts or pod 0's medians); a pod whose Job's
// pods do not all come in time takes the medians the warehouse computes
// from every line (the first pod to get there, holding "medians" alone,
// computes and stores them). Without such a warehouse: from every line,
// read here.
func categoryMedians(ctx context.Context, r Run, st featureStore, products []arrow.Record, own transform.PriceCounts, o FeatureOptions) (map[string]float64, error) {
	sh := r.Shard
	m, ok := st.(medianStore)
	if !ok {
		orders, err := st.Read(ctx, r.Mem, ordersBefore(r.AsOf), o.BatchRows)
		if err != nil {
			return nil, err
		}
		defer release(orders)
		lines := func(fn func(arrow.Record) error) error { return st.Each(ctx, r.Mem, orderLines, o.BatchRows, fn) }
		return transform.CategoryMedians(transform.FeatureInputs{Orders: orders, Products: products, Lines: lines}, r.AsOf)
	}
	if stored, err := m.StoredMedians(ctx, r.AsOf, sh.Job); err != nil || len(stored) > 0 {
		return stored, err
	}
	if err := m.SharePrices(ctx, r.AsOf, sh.Job, sh.slice(), r.ID, own); err != nil {
		return nil, err
	}
	// Pod 0 adds up the counts once they all have shared and stores the
	// medians; the others wait for them (each reading every pod's counts
	// had cost the warehouse four reads of 46 MB at a million customers).
	// Asked each second; the counts read once.
	var medians map[string]float64
	var readErr error
	waited := waitFor(ctx, sh.shareWait(), func() (bool, string, error) {
		n, categorised, err := m.PricesShared(ctx, r.AsOf, sh.Job)
		if err != nil {
			readErr = err
			return false, "", err
		}
		if n == sh.Of && (sh.Index == 0 || categorised == 0) {
			// Pod 0 adds them up; or, no line being of a category of
			// the catalogue (or no line at all), each pod does: pod 0
			// stores no medians of none.
			return true, "", nil
		}
		if sh.Index != 0 {
			if medians, err = m.StoredMedians(ctx, r.AsOf, sh.Job); err != nil {
				readErr = err
				return false, "", err
			}
			if len(medians) > 0 {
				return true, "", nil
			}
		}
		if n < sh.Of {
			return false, fmt.Sprintf("%d of %d pods of %s shared their lines' prices", n, sh.Of, sh.Job), nil
		}
		return false, fmt.Sprintf("every pod of %s shared its lines' prices, pod 0 has not stored their medians", sh.Job), nil
	})
	switch {
	case readErr != nil:
		return nil, readErr
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case waited == nil && len(medians) > 0:
		return medians, nil
	case waited == nil:
		n, all, err := m.SharedPrices(ctx, r.AsOf, sh.Job)
		if err != nil {
			return nil, err
		}
		if n != sh.Of {
			return nil, fmt.Errorf("the lines' prices of %d of %d pods of %s read, after every pod had shared its own", n, sh.Of, sh.Job)
		}
		medians := transform.MediansOf(all)
		return medians, m.StoreMedians(ctx, r.AsOf, sh.Job, r.ID, medians)
	}
	r.Log.WithError(waited).Warn("the category medians are computed from every line instead")
	var out map[string]float64
	err := sh.alone(ctx, "medians", r.AsOf, func() (err error) {
		out, err = m.JobMedians(ctx, r.AsOf, sh.Job, r.ID)
		return err
	})
	return out, err
}
