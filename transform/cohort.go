package transform

import (
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// orderVisit calls fn for every order placed before asOf and not cancelled,
// with its customer id, order id ("" without the column), day and net amount.
func orderVisit(orders []arrow.Record, asOf time.Time, fn func(cust, order string, day int32, net float64)) error {
	limit := asOf.UTC().Unix()
	for _, rec := range orders {
		c, err := featureColumns(rec)
		if err != nil {
			return err
		}
		perSecond := int64(arrow.Second.Multiplier() / c.at.DataType().(*arrow.TimestampType).Unit.Multiplier())
		for i := 0; i < int(rec.NumRows()); i++ {
			if c.id.IsNull(i) || c.at.IsNull(i) || c.status.Value(i) == "cancelled" {
				continue
			}
			ts := int64(c.at.Value(i)) / perSecond
			if ts >= limit {
				continue
			}
			order := ""
			if c.order != nil {
				order = c.order.Value(i)
			}
			fn(c.id.Value(i), order, int32(floorDiv(ts, 86400)), c.net.Value(i))
		}
	}
	return nil
}

// HorizonRevenue is, for every buyer whose first order (not cancelled, before
// asOf) is at least days before asOf, the net revenue of the orders placed in
// the days from the first order's day on: what the buyer brought in their
// first days. Orders of the ids returned are those of the same rules.
func HorizonRevenue(orders []arrow.Record, asOf time.Time, days int) (map[string]float64, error) {
	first := map[string]int32{}
	if err := orderVisit(orders, asOf, func(cust, _ string, day int32, _ float64) {
		if f, ok := first[cust]; !ok || day < f {
			first[cust] = day
		}
	}); err != nil {
		return nil, err
	}
	asOfDay := int32(asOf.UTC().Unix() / 86400)
	out := map[string]float64{}
	for id, f := range first {
		if f+int32(days) <= asOfDay {
			out[strings.Clone(id)] = 0 // outlives the records
		}
	}
	err := orderVisit(orders, asOf, func(cust, _ string, day int32, net float64) {
		if v, ok := out[cust]; ok && day < first[cust]+int32(days) {
			out[cust] = v + net
		}
	})
	return out, err
}
