package transform

import (
	"fmt"
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
	cancelled, returned, rated bool
	gross, discount, net       float64
	items, rating              int32
}

// CustomerFeatures computes the features of every customer with an order placed
// before asOf from canonical order batches (customer_id, ordered_at, status,
// gross_amount, discount_amount, net_amount, items_count, rating). Nothing at or
// after asOf counts. One row per customer, in order of first appearance.
func CustomerFeatures(mem memory.Allocator, recs []arrow.Record, asOf time.Time) (arrow.Record, error) {
	limit := asOf.UTC().Unix()
	asOfDay := int32(limit / 86400)
	ids := map[string]int32{}
	var names []string
	var facts []orderFacts
	for _, rec := range recs {
		c, err := featureColumns(rec)
		if err != nil {
			return nil, err
		}
		perSecond := int64(arrow.Second.Multiplier() / c.at.DataType().(*arrow.TimestampType).Unit.Multiplier())
		for i := 0; i < int(rec.NumRows()); i++ {
			if c.id.IsNull(i) || c.at.IsNull(i) {
				continue
			}
			ts := int64(c.at.Value(i)) / perSecond
			if ts >= limit {
				continue
			}
			id := c.id.Value(i)
			k, ok := ids[id]
			if !ok {
				k = int32(len(names))
				ids[id] = k
				names = append(names, id)
			}
			st := c.status.Value(i)
			f := orderFacts{cust: k, day: int32(floorDiv(ts, 86400)), cancelled: st == "cancelled",
				returned: st == "returned" || st == "partially_returned",
				gross:    c.gross.Value(i), discount: value(c.discount, i), net: c.net.Value(i)}
			if c.items.IsValid(i) {
				f.items = c.items.Value(i)
			}
			if c.rating != nil && c.rating.IsValid(i) {
				f.rated, f.rating = true, c.rating.Value(i)
			}
			facts = append(facts, f)
		}
	}
	slices.SortStableFunc(facts, func(a, b orderFacts) int {
		if a.cust != b.cust {
			return int(a.cust - b.cust)
		}
		return int(a.day - b.day)
	})
	b := array.NewRecordBuilder(mem, FeatureSchema)
	defer b.Release()
	b.Reserve(len(names))
	f64 := func(i int) *array.Float64Builder { return b.Field(i).(*array.Float64Builder) }
	for i := 0; i < len(facts); {
		c := facts[i].cust
		var orders, cancelled, returned, discounted, ratedN int64
		var revenue, items, discSum, discGross, ratingSum float64
		first, last, prevDay := int32(math.MaxInt32), int32(math.MinInt32), int32(math.MinInt32)
		var gaps []float64
		for ; i < len(facts) && facts[i].cust == c; i++ {
			f := facts[i]
			if f.cancelled {
				cancelled++
				continue
			}
			orders++
			revenue += f.net
			items += float64(f.items)
			if f.returned {
				returned++
			}
			if f.discount > 0 {
				discounted++
				discSum += f.discount
				discGross += f.gross
			}
			if f.rated {
				ratedN++
				ratingSum += float64(f.rating)
			}
			first, last = min(first, f.day), max(last, f.day)
			if prevDay != math.MinInt32 && f.day != prevDay {
				gaps = append(gaps, float64(f.day-prevDay))
			}
			prevDay = f.day
		}
		if orders == 0 { // only cancelled orders: not a buyer
			continue
		}
		b.Field(0).(*array.StringBuilder).Append(names[c])
		b.Field(1).(*array.Int64Builder).Append(orders)
		b.Field(2).(*array.Int64Builder).Append(cancelled)
		no := float64(orders)
		f64(3).Append(revenue)
		f64(4).Append(revenue / no)
		f64(5).Append(items / no)
		f64(6).Append(float64(returned) / no)
		f64(7).Append(float64(cancelled) / float64(orders+cancelled))
		f64(8).Append(float64(discounted) / no)
		depth := 0.0
		if discGross > 0 {
			depth = discSum / discGross
		}
		f64(9).Append(depth)
		rating := math.NaN()
		if ratedN > 0 {
			rating = ratingSum / float64(ratedN)
		}
		f64(10).Append(rating)
		b.Field(11).(*array.Date32Builder).Append(arrow.Date32(first))
		b.Field(12).(*array.Date32Builder).Append(arrow.Date32(last))
		f64(13).Append(float64(asOfDay - first))
		f64(14).Append(float64(asOfDay - last))
		mean, std := 0.0, 0.0
		if len(gaps) > 0 {
			for _, g := range gaps {
				mean += g
			}
			mean /= float64(len(gaps))
			if len(gaps) > 1 {
				for _, g := range gaps {
					std += (g - mean) * (g - mean)
				}
				std = math.Sqrt(std / float64(len(gaps)))
			}
		}
		f64(15).Append(mean)
		f64(16).Append(std)
	}
	return b.NewRecord(), nil
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

type featureCols struct {
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
	c.rating, _ = col("rating").(*array.Int32)
	return c, nil
}
