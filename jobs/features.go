package jobs

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// reader reads raw tables into Arrow: ClickHouse, or the embedded Parquet folder.
type reader interface {
	Read(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int) ([]arrow.Record, error)
}

// streamer reads a raw table a batch at a time.
type streamer interface {
	Each(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int, fn func(arrow.Record) error) error
}

// ordersBefore are the order columns features and models use, point in time.
func ordersBefore(asOf time.Time) warehouse.Query {
	return warehouse.Query{Entity: canon.Orders, TimeColumn: "ordered_at", Before: asOf,
		Columns: []string{"order_id", "customer_id", "ordered_at", "status", "gross_amount", "discount_amount", "net_amount", "items_count", "rating"}}
}

// orderLines are all order lines: they count through their orders, which are
// read point in time.
var orderLines = warehouse.Query{Entity: canon.OrderLines, Columns: []string{"order_id", "product_id", "quantity", "unit_price", "discount"}}

// catalogue is every product's category and brand.
var catalogue = warehouse.Query{Entity: canon.Products, Columns: []string{"product_id", "category", "brand"}}

// eventsBefore are the site events of known customers, point in time.
func eventsBefore(asOf time.Time) warehouse.Query {
	return warehouse.Query{Entity: canon.Events, TimeColumn: "ts", Before: asOf, NonEmpty: "customer_id",
		Columns: []string{"customer_id", "ts", "session_id", "type"}}
}

// campaignsBefore are the campaign events of known customers, point in time.
func campaignsBefore(asOf time.Time) warehouse.Query {
	return warehouse.Query{Entity: canon.CampaignEvents, TimeColumn: "ts", Before: asOf, Columns: []string{"customer_id", "channel", "type", "ts"}}
}

// customerOptins are every customer's opt-ins as the source has them now.
var customerOptins = warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "optin_email", "optin_sms", "optin_push"}}

// featureStore is where the features stage reads orders and publishes features.
type featureStore interface {
	reader
	streamer
	ReplacePartition(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
}

// features computes every buyer's features as of the date and publishes them as
// the date's partition of customer_features.
func features(ctx context.Context, rc *runContext, st featureStore) (int, error) {
	start := time.Now()
	// Orders and the catalogue are held; lines, site and campaign events and
	// opt-ins stream past (they are most of the rows).
	orders, err := st.Read(ctx, rc.mem, ordersBefore(rc.asOf), rc.cfg.BatchRows)
	if err != nil {
		return 0, err
	}
	defer release(orders)
	products, err := st.Read(ctx, rc.mem, catalogue, rc.cfg.BatchRows)
	if err != nil {
		return 0, err
	}
	defer release(products)
	stream := func(q warehouse.Query) transform.Batches {
		return func(fn func(arrow.Record) error) error { return st.Each(ctx, rc.mem, q, rc.cfg.BatchRows, fn) }
	}
	in := transform.FeatureInputs{Orders: orders, Products: products, Lines: stream(orderLines), Events: stream(eventsBefore(rc.asOf)),
		Campaigns: stream(campaignsBefore(rc.asOf)), Customers: stream(customerOptins)}
	rec, err := transform.CustomerFeatures(rc.mem, in, rc.asOf)
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
