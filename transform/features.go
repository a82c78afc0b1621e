package transform

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Feature documents one column of the feature table: the one place the README,
// the ClickHouse column comments and the report point to.
type Feature struct {
	Name, Unit, Definition string
	Type                   arrow.DataType
}

// Features lists the columns of customer_features, in order. Orders count when
// placed before the as-of date; "orders" are the ones not cancelled.
var Features = []Feature{
	{"customer_id", "", "the customer", arrow.BinaryTypes.String},
	{"orders", "orders", "orders placed before as_of, not cancelled", arrow.PrimitiveTypes.Int64},
	{"cancelled_orders", "orders", "orders placed before as_of and cancelled", arrow.PrimitiveTypes.Int64},
	{"revenue", "currency", "sum of net_amount of the orders", arrow.PrimitiveTypes.Float64},
	{"avg_check", "currency", "revenue / orders", arrow.PrimitiveTypes.Float64},
	{"items_per_order", "units", "mean items_count of the orders", arrow.PrimitiveTypes.Float64},
	{"return_rate", "share", "orders returned in whole or in part / orders", arrow.PrimitiveTypes.Float64},
	{"cancel_rate", "share", "cancelled_orders / (orders + cancelled_orders)", arrow.PrimitiveTypes.Float64},
	{"discount_share", "share", "orders with a discount / orders", arrow.PrimitiveTypes.Float64},
	{"discount_depth", "share", "sum of discount_amount / sum of gross_amount over the orders with a discount; 0 without", arrow.PrimitiveTypes.Float64},
	{"rating_mean", "1-5", "mean satisfaction rating of the rated orders; NaN when none is rated", arrow.PrimitiveTypes.Float64},
	{"first_order_date", "date", "day of the first order (UTC)", arrow.FixedWidthTypes.Date32},
	{"last_order_date", "date", "day of the last order (UTC)", arrow.FixedWidthTypes.Date32},
	{"days_since_first", "days", "as_of − first_order_date", arrow.PrimitiveTypes.Float64},
	{"days_since_last", "days", "as_of − last_order_date", arrow.PrimitiveTypes.Float64},
	{"interorder_mean_days", "days", "mean of the gaps between consecutive order days; 0 with one order day", arrow.PrimitiveTypes.Float64},
	{"interorder_std_days", "days", "population standard deviation of those gaps; 0 with fewer than two gaps", arrow.PrimitiveTypes.Float64},
	{"product_views_30d", "events", "product_view events in the 30 days before as_of", arrow.PrimitiveTypes.Int32},
	{"category_views_30d", "events", "category_view events in the 30 days before as_of", arrow.PrimitiveTypes.Int32},
	{"searches_30d", "events", "search events in the 30 days before as_of", arrow.PrimitiveTypes.Int32},
	{"cart_adds_30d", "events", "add_to_cart events in the 30 days before as_of", arrow.PrimitiveTypes.Int32},
	{"cart_removes_30d", "events", "remove_from_cart events in the 30 days before as_of", arrow.PrimitiveTypes.Int32},
	{"favorites_30d", "events", "favorite events in the 30 days before as_of", arrow.PrimitiveTypes.Int32},
	{"product_views_90d", "events", "product_view events in the 90 days before as_of", arrow.PrimitiveTypes.Int32},
	{"category_views_90d", "events", "category_view events in the 90 days before as_of", arrow.PrimitiveTypes.Int32},
	{"searches_90d", "events", "search events in the 90 days before as_of", arrow.PrimitiveTypes.Int32},
	{"cart_adds_90d", "events", "add_to_cart events in the 90 days before as_of", arrow.PrimitiveTypes.Int32},
	{"cart_removes_90d", "events", "remove_from_cart events in the 90 days before as_of", arrow.PrimitiveTypes.Int32},
	{"favorites_90d", "events", "favorite events in the 90 days before as_of", arrow.PrimitiveTypes.Int32},
	{"cart_to_order_90d", "share", "orders placed in the 90 days before as_of / visits with an add_to_cart in them; 0 without such visits", arrow.PrimitiveTypes.Float64},
	{"preferred_hour", "hour", "hour of the day (0-23, in the configured time_zone) with the most orders, site events and campaign opens and clicks before as_of; the earliest on ties", arrow.PrimitiveTypes.Int32},
	{"preferred_weekday", "weekday", "day of the week (1 Monday - 7 Sunday, in the configured time_zone) with the most orders, site events and campaign opens and clicks before as_of; the earliest on ties", arrow.PrimitiveTypes.Int32},
	{"first_week_orders", "orders", "orders placed in the first week: the day of the first order and the 6 days after (and before as_of)", arrow.PrimitiveTypes.Int32},
	{"first_week_revenue", "currency", "sum of net_amount of the first week's orders", arrow.PrimitiveTypes.Float64},
	{"first_week_items", "units", "sum of items_count of the first week's orders", arrow.PrimitiveTypes.Int32},
	{"first_week_discount_share", "share", "first week's orders with a discount / first week's orders", arrow.PrimitiveTypes.Float64},
	{"first_week_rating_mean", "1-5", "mean rating of the first week's rated orders; NaN when none is rated", arrow.PrimitiveTypes.Float64},
	{"first_week_events", "events", "site events in the first week", arrow.PrimitiveTypes.Int32},
	{"first_week_categories", "categories", "different top-level categories bought in the first week", arrow.PrimitiveTypes.Int32},
	{"email_open_rate", "share", "e-mail opens / e-mails delivered before as_of; 0 without deliveries", arrow.PrimitiveTypes.Float64},
	{"email_click_rate", "share", "e-mail clicks / e-mails delivered before as_of; 0 without deliveries", arrow.PrimitiveTypes.Float64},
	{"push_open_rate", "share", "push opens / pushes delivered before as_of; 0 without deliveries", arrow.PrimitiveTypes.Float64},
	{"push_click_rate", "share", "push clicks / pushes delivered before as_of; 0 without deliveries", arrow.PrimitiveTypes.Float64},
	{"sms_click_rate", "share", "SMS clicks / SMS delivered before as_of; 0 without deliveries", arrow.PrimitiveTypes.Float64},
	{"preferred_channel", "channel", "email, sms or push: the channel with the most opens and clicks per delivery; the first in that order on ties; empty without deliveries", arrow.BinaryTypes.String},
	{"optin_email", "flag", "the customer accepts e-mail marketing", arrow.FixedWidthTypes.Boolean},
	{"optin_sms", "flag", "the customer accepts SMS marketing", arrow.FixedWidthTypes.Boolean},
	{"optin_push", "flag", "the customer accepts push notifications", arrow.FixedWidthTypes.Boolean},
	{"distinct_products", "products", "different products bought in the orders", arrow.PrimitiveTypes.Int32},
	{"distinct_categories", "categories", "different top-level categories (the category path before its first '/') bought in the orders", arrow.PrimitiveTypes.Int32},
	{"price_level", "ratio", "mean over the order lines of unit_price / the median unit_price of the product's top-level category (all lines before as_of); 1 is the category's typical price", arrow.PrimitiveTypes.Float64},
	{"top_category", "category", "the top-level category with the largest spend (quantity × unit_price − discount); the first by name on ties", arrow.BinaryTypes.String},
	{"top_category_share", "share", "the top category's spend / the customer's spend on all lines", arrow.PrimitiveTypes.Float64},
	{"second_category", "category", "the top-level category with the second largest spend; empty with one category", arrow.BinaryTypes.String},
	{"second_category_share", "share", "the second category's spend / the customer's spend on all lines", arrow.PrimitiveTypes.Float64},
	{"top_brand", "brand", "the brand with the largest spend; the first by name on ties", arrow.BinaryTypes.String},
	{"top_brand_share", "share", "the top brand's spend / the customer's spend on all lines", arrow.PrimitiveTypes.Float64},
	{"revenue_12m", "currency", "sum of net_amount of the orders placed in the 365 days before as_of", arrow.PrimitiveTypes.Float64},
	{"last_gap_days", "days", "days between the last two order days; 0 with one order day", arrow.PrimitiveTypes.Float64},
	{"basket", "product ids", "the different products bought in the orders, their ids sorted and joined by the control character 0x1F (splitByChar('\\x1F', basket)); empty without lines", arrow.BinaryTypes.String},
}

// channels of campaign_events, in the order preferred_channel breaks ties.
var channels = []string{"email", "sms", "push"}

type engagement struct {
	delivered, opens, clicks [3]int32
	optin                    [3]bool
}

// FeatureInputs are the canonical batches the features are computed from.
type FeatureInputs struct {
	// Location is the time zone of preferred_hour and preferred_weekday
	// (the config's time_zone); nil: UTC.
	Location *time.Location
	// Orders: customer_id, ordered_at, status, gross_amount, discount_amount,
	// net_amount, items_count, rating.
	Orders []arrow.Record
	// Events: customer_id, ts, session_id, type (may be nil).
	Events Batches
	// Campaigns: customer_id, channel, type, ts (may be nil).
	Campaigns Batches
	// Customers: customer_id, optin_email, optin_sms, optin_push (may be nil).
	Customers Batches
	// Lines: order_id, product_id, quantity, unit_price, discount (may be
	// nil); they count for the orders above (which then need order_id).
	Lines Batches
	// Products: product_id, category, brand (may be empty).
	Products []arrow.Record
	// CategoryMedians, when set, gives the typical unit price of each
	// top-level category that price_level compares with, handed the counts of
	// the prices of the lines read; nil: the median of the lines read. A
	// shard reads only its customers' lines: it is to return the medians of
	// every customer's (see CategoryMedians, MediansOf).
	CategoryMedians func(own PriceCounts) (map[string]float64, error)
}

// PriceCounts counts order lines by top-level category and unit price: what
// each shard's lines say of the category medians, merged by adding.
type PriceCounts map[string]map[float64]int64

// MediansOf is the median unit price of each category counted: the upper
// middle price for an even count, as CustomerFeatures takes it of the lines
// it reads. Of counts merged from every shard, it is what one process takes
// of every line.
func MediansOf(counts PriceCounts) map[string]float64 {
	out := make(map[string]float64, len(counts))
	for c, byPrice := range counts {
		var n int64
		for _, k := range byPrice {
			n += k
		}
		if n == 0 {
			continue
		}
		prices := slices.Sorted(maps.Keys(byPrice))
		at := n / 2 // 0-based: the upper middle of an even count
		for _, p := range prices {
			if at < byPrice[p] {
				out[c] = p
				break
			}
			at -= byPrice[p]
		}
	}
	return out
}

// CategoryMedians are the medians of unit price by top-level category that
// CustomerFeatures compares prices with: over the lines of the orders placed
// before asOf and not cancelled, the upper middle price for an even count.
func CategoryMedians(in FeatureInputs, asOf time.Time) (map[string]float64, error) {
	fr := &featureRun{limit: asOf.UTC().Unix()}
	if err := fr.readOrders(in.Orders); err != nil {
		return nil, err
	}
	cat, err := readCatalogue(in.Products)
	if err != nil {
		return nil, err
	}
	firstDay := make([]int32, len(fr.names))
	ls, err := readLines(in.Lines, &orderFinder{seq: fr.orderSeq, at: -1}, firstDay, cat)
	if err != nil {
		return nil, err
	}
	has := make([]bool, len(cat.cats.names))
	for _, l := range ls.lines {
		has[l.cat] = true
	}
	out := map[string]float64{}
	for c, m := range categoryMedians(ls.lines, len(cat.cats.names)) {
		if has[c] { // categories without a line counted have no median
			out[cat.cats.names[c]] = m
		}
	}
	return out, nil
}

// Batches hands record batches to fn one at a time, stopping at fn's first
// error. A batch, and any string viewed in it, is valid only during the call:
// the large inputs stream from the warehouse instead of being held whole.
type Batches func(fn func(arrow.Record) error) error

// Records is a Batches of records already in memory.
func Records(recs ...arrow.Record) Batches {
	return func(fn func(arrow.Record) error) error {
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// each runs fn on every batch of b; a nil b has none.
func (b Batches) each(fn func(arrow.Record) error) error {
	if b == nil {
		return nil
	}
	return b(fn)
}

// site behaviour counters, in the order of the feature columns above
var eventTypes = []string{"product_view", "category_view", "search", "add_to_cart", "remove_from_cart", "favorite"}

type behaviour struct {
	last30, last90 [6]int32
	hours          [24]int32
	weekdays       [7]int32
	orders90       int32
}

// mode is the index of the largest count, the earliest on ties.
func mode(counts []int32) int {
	best := 0
	for i, c := range counts {
		if c > counts[best] {
			best = i
		}
	}
	return best
}

// FeatureSchema is the Arrow schema of the feature table.
var FeatureSchema = func() *arrow.Schema {
	fields := make([]arrow.Field, len(Features))
	for i, f := range Features {
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type}
	}
	return arrow.NewSchema(fields, nil)
}()

type orderFacts struct {
	cust                       int32
	day                        int32
	ts                         int64 // seconds
	cancelled, returned, rated bool
	gross, discount, net       float64
	items, rating              int32
}

// CustomerFeatures computes the features of every customer with an order placed
// before asOf (a buyer). Nothing at or after asOf counts. One row per buyer, in
// order of first appearance in the orders. Its phases: the orders' facts; then
// at the same time on two cores the basket (order lines) and the behaviour
// (the orders' times, site and campaign events, opt-ins), which touch
// different tallies; then one row per buyer.
func CustomerFeatures(mem memory.Allocator, in FeatureInputs, asOf time.Time) (arrow.Record, error) {
	fr := &featureRun{limit: asOf.UTC().Unix(), zone: newZone(in.Location)}
	fr.asOfDay = int32(fr.limit / 86400)
	if err := fr.readOrders(in.Orders); err != nil {
		return nil, err
	}
	if in.Lines != nil && len(in.Orders) > 0 && !fr.orderIDs {
		return nil, fmt.Errorf("features: order lines need the orders' order_id column")
	}
	n := len(fr.names)
	fr.firstDay = make([]int32, n) // day of each customer's first order
	for i := range fr.firstDay {
		fr.firstDay[i] = math.MaxInt32
	}
	for _, f := range fr.facts {
		if !f.cancelled {
			fr.firstDay[f.cust] = min(fr.firstDay[f.cust], f.day)
		}
	}
	fr.beh, fr.eng = make([]behaviour, n), make([]engagement, n)
	fr.firstWeekEvents, fr.cartVisits = make([]int32, n), make([]int32, n)
	basketDone := make(chan error, 1)
	go func() {
		var err error
		fr.bask, err = basket(in, &orderFinder{seq: fr.orderSeq, at: -1}, fr.firstDay)
		basketDone <- err
	}()
	behaviourErr := fr.behaviour(in)
	if err := <-basketDone; err != nil {
		return nil, err
	}
	if behaviourErr != nil {
		return nil, behaviourErr
	}
	fr.ids, fr.orderSeq = nil, nil // what the build no longer needs is not held while it runs
	return fr.build(mem), nil
}

// featureRun is one computation of the features: customers are numbered in
// order of first appearance, and every tally is a slice by that number.
type featureRun struct {
	limit    int64 // as_of in Unix seconds: nothing at or after it counts
	zone     zone  // of the hours and weekdays of activity
	asOfDay  int32
	ids      map[string]int32
	names    []string
	facts    []orderFacts
	orderSeq []orderEntry
	orderIDs bool // the orders have order_id

	firstDay                    []int32
	beh                         []behaviour
	eng                         []engagement
	firstWeekEvents, cartVisits []int32
	bask                        []basketFacts
}

// readOrders numbers the customers and keeps each order's facts.
func (fr *featureRun) readOrders(recs []arrow.Record) error {
	rows := 0
	for _, rec := range recs {
		rows += int(rec.NumRows())
	}
	fr.ids = make(map[string]int32, rows/3)
	fr.names = make([]string, 0, rows/3)
	fr.facts = make([]orderFacts, 0, rows)
	fr.orderSeq = make([]orderEntry, 0, rows)
	var lastID string // orders come grouped by customer: one lookup per customer
	var k int32
	seen := false
	for _, rec := range recs {
		c, err := featureColumns(rec)
		if err != nil {
			return err
		}
		perSecond := int64(arrow.Second.Multiplier() / c.at.DataType().(*arrow.TimestampType).Unit.Multiplier())
		fr.orderIDs = fr.orderIDs || c.order != nil
		for i := 0; i < int(rec.NumRows()); i++ {
			if c.id.IsNull(i) || c.at.IsNull(i) || int64(c.at.Value(i))/perSecond >= fr.limit {
				if c.order != nil && c.order.IsValid(i) { // its lines are skipped in step
					fr.orderSeq = append(fr.orderSeq, orderEntry{id: c.order.Value(i)})
				}
				continue
			}
			ts := int64(c.at.Value(i)) / perSecond
			if id := c.id.Value(i); !seen || id != lastID {
				var ok bool
				if k, ok = fr.ids[id]; !ok {
					k = int32(len(fr.names))
					fr.ids[id] = k
					fr.names = append(fr.names, id)
				}
				lastID, seen = id, true
			}
			st := c.status.Value(i)
			f := orderFacts{cust: k, day: int32(floorDiv(ts, 86400)), ts: ts, cancelled: st == "cancelled",
				returned: st == "returned" || st == "partially_returned",
				gross:    c.gross.Value(i), discount: value(c.discount, i), net: c.net.Value(i)}
			if c.items.IsValid(i) {
				f.items = c.items.Value(i)
			}
			if c.rating != nil && c.rating.IsValid(i) {
				f.rated, f.rating = true, c.rating.Value(i)
			}
			fr.facts = append(fr.facts, f)
			if c.order != nil && c.order.IsValid(i) {
				fr.orderSeq = append(fr.orderSeq, orderEntry{id: c.order.Value(i), ref: orderRef{cust: k, day: f.day}, counts: !f.cancelled})
			}
		}
	}
	return nil
}

// customerLookup finds customers' numbers by id. Raw tables come sorted by
// customer, so consecutive rows usually share one: remembering the last id
// skips most map lookups. And the customers are numbered in the order their
// orders come, the order the other tables come in too: a new id is most
// often one of the next few customers' (names: their ids by number), found
// without the map (at a million customers, 1.9 M lookups of the 43.7 M
// site and campaign events' ids missed the last id).
type customerLookup struct {
	ids    map[string]int32
	names  []string
	last   string
	k      int32
	ok, on bool
	at     int32 // the last customer found: -1 before the first
}

// lookAhead is how many of the customers after the last one found are
// compared with a new id before the map is asked.
const lookAhead = 4

func (l *customerLookup) index(id string) (int32, bool) {
	if l.on && id == l.last {
		return l.k, l.ok
	}
	for k := l.at + 1; k <= l.at+lookAhead && int(k) < len(l.names); k++ {
		if l.names[k] == id {
			l.k, l.ok, l.at, l.last, l.on = k, true, k, id, true
			return k, true
		}
	}
	l.k, l.ok = l.ids[id]
	l.last, l.on = id, true
	if l.ok {
		l.at = l.k
	}
	return l.k, l.ok
}

func newCustomerLookup(ids map[string]int32, names []string) customerLookup {
	return customerLookup{ids: ids, names: names, at: -1}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func value(a *array.Float64, i int) float64 {
	if a == nil || a.IsNull(i) {
		return 0
	}
	return a.Value(i)
}

// column is the named column of rec, or nil.
func column(rec arrow.Record, name string) arrow.Array {
	if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
		return rec.Column(idx[0])
	}
	return nil
}

type eventCols struct {
	id, session, typ *array.String
	ts               *array.Timestamp
}

func eventColumns(rec arrow.Record) (eventCols, error) {
	var c eventCols
	s := rec.Schema()
	col := func(name string) arrow.Array {
		if idx := s.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	var ok1, ok2, ok3 bool
	c.id, ok1 = col("customer_id").(*array.String)
	c.ts, ok2 = col("ts").(*array.Timestamp)
	c.typ, ok3 = col("type").(*array.String)
	if !(ok1 && ok2 && ok3) {
		return c, fmt.Errorf("features: events need customer_id, ts and type columns of the canonical types")
	}
	c.session, _ = col("session_id").(*array.String)
	return c, nil
}

type featureCols struct {
	order                *array.String // order_id, when lines are joined
	id, status           *array.String
	at                   *array.Timestamp
	gross, discount, net *array.Float64
	items, rating        *array.Int32
}

func featureColumns(rec arrow.Record) (featureCols, error) {
	var c featureCols
	s := rec.Schema()
	col := func(name string) arrow.Array {
		if idx := s.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	c.id, ok1 = col("customer_id").(*array.String)
	c.at, ok2 = col("ordered_at").(*array.Timestamp)
	c.status, ok3 = col("status").(*array.String)
	c.gross, ok4 = col("gross_amount").(*array.Float64)
	c.net, ok5 = col("net_amount").(*array.Float64)
	c.items, ok6 = col("items_count").(*array.Int32)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return c, fmt.Errorf("features: orders need customer_id, ordered_at, status, gross_amount, net_amount and items_count columns of the canonical types")
	}
	c.discount, _ = col("discount_amount").(*array.Float64)
	c.order, _ = col("order_id").(*array.String)
	c.rating, _ = col("rating").(*array.Int32)
	return c, nil
}
