package pipeline

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/transform"
	"github.com/tessera-cdp/tessera/warehouse"
)

// The model inputs that train and score both read from the warehouse.

const day = 24 * time.Hour

// btyd are the columns of a transform.Summary record, as model inputs.
type btyd struct {
	ids                      *array.String
	x, tx, T, money, holdout []float64
}

// id is row i's customer.
func (b btyd) id(i int) string { return b.ids.Value(i) }

func summarise(mem memory.Allocator, recs []arrow.Record, opt transform.SummaryOptions) (arrow.Record, btyd, error) {
	sum, err := transform.Summary(mem, recs, opt)
	if err != nil {
		return nil, btyd{}, err
	}
	f := func(name string) []float64 { return canon.ArrayOf[*array.Float64](sum, name).Float64Values() }
	return sum, btyd{ids: canon.ArrayOf[*array.String](sum, "customer_id"), x: f("frequency"), tx: f("recency"), T: f("T"), money: f("monetary_value"),
		holdout: f("frequency_holdout")}, nil
}

// firstWeekColumns are the customer_features columns of the early-VIP model.
var firstWeekColumns = []string{"customer_id", "first_order_date", "first_week_orders", "first_week_revenue", "first_week_items",
	"first_week_discount_share", "first_week_rating_mean", "first_week_events", "first_week_categories"}

// firstWeeks reads the rows of a record with the firstWeekColumns: its
// columns found once, not a lookup by name a value.
func firstWeeks(rec arrow.Record) func(i int) segment.FirstWeek {
	i32 := func(name string) *array.Int32 { return canon.ArrayOf[*array.Int32](rec, name) }
	f64 := func(name string) *array.Float64 { return canon.ArrayOf[*array.Float64](rec, name) }
	orders, items, events, categories := i32("first_week_orders"), i32("first_week_items"), i32("first_week_events"), i32("first_week_categories")
	revenue, discount, rating := f64("first_week_revenue"), f64("first_week_discount_share"), f64("first_week_rating_mean")
	return func(i int) segment.FirstWeek {
		return segment.FirstWeek{Orders: float64(orders.Value(i)), Revenue: revenue.Value(i), Items: float64(items.Value(i)),
			DiscountShare: discount.Value(i), RatingMean: rating.Value(i), Events: float64(events.Value(i)),
			Categories: float64(categories.Value(i))}
	}
}

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
	recent := transform.EventTypesUsedFrom(asOf)
	return warehouse.Query{Entity: canon.Events, TimeColumn: "ts", Before: asOf, NonEmpty: "customer_id",
		Columns: []string{"customer_id", "ts", "session_id", "type"},
		// Features count events by type in the last 90 days, and the visits
		// of those days with something put in the cart: a type is read for
		// those days' events alone (a fifth of them at a million customers),
		// a session for the cart's.
		UsedWhen: []warehouse.UsedWhen{{Column: "type", Since: recent},
			{Column: "session_id", When: "type", Is: transform.SessionsUsedFor, Since: recent}}}
}

// campaignsBefore are the campaign events of known customers, point in time.
func campaignsBefore(asOf time.Time) warehouse.Query {
	return warehouse.Query{Entity: canon.CampaignEvents, TimeColumn: "ts", Before: asOf, Columns: []string{"customer_id", "channel", "type", "ts"},
		// Sends are nearly half of them, and counted by no feature.
		OneOf: []warehouse.OneOf{{Column: "type", Values: transform.CampaignTypesUsed}}}
}

// customerOptins are every customer's opt-ins as the source has them now.
var customerOptins = warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "optin_email", "optin_sms", "optin_push"}}

func release(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}
