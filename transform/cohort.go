package transform

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
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

// CustomerBaskets are the distinct products each buyer bought in the orders
// placed before asOf and not cancelled: Customers[i] bought
// Products[Start[i]:Start[i+1]] (sorted numbers into ProductIDs, which are
// in id order).
type CustomerBaskets struct {
	Customers  []string
	Start      []int32
	Products   []int32
	ProductIDs []string
}

// Baskets collects the baskets from orders (with order_id) and lines
// (order_id, product_id).
func Baskets(orders []arrow.Record, lines Batches, asOf time.Time) (CustomerBaskets, error) {
	var b CustomerBaskets
	custIdx := map[string]int32{}
	orderCust := map[string]int32{}
	if err := orderVisit(orders, asOf, func(cust, order string, _ int32, _ float64) {
		k, ok := custIdx[cust]
		if !ok {
			k = int32(len(b.Customers))
			custIdx[cust] = k
			b.Customers = append(b.Customers, cust)
		}
		orderCust[order] = k
	}); err != nil {
		return b, err
	}
	prodIdx := map[string]int32{}
	type pair struct{ cust, prod int32 }
	var pairs []pair
	if err := lines.each(func(rec arrow.Record) error {
		order, ok1 := column(rec, "order_id").(*array.String)
		prod, ok2 := column(rec, "product_id").(*array.String)
		if !(ok1 && ok2) {
			return fmt.Errorf("baskets: order lines need order_id and product_id columns")
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			c, ok := orderCust[order.Value(i)]
			if !ok {
				continue
			}
			p, ok := prodIdx[prod.Value(i)]
			if !ok {
				p = int32(len(b.ProductIDs))
				id := string([]byte(prod.Value(i))) // outlives the record
				prodIdx[id] = p
				b.ProductIDs = append(b.ProductIDs, id)
			}
			pairs = append(pairs, pair{c, p})
		}
		return nil
	}); err != nil {
		return b, err
	}
	// Products numbered in id order, not in the order the lines came in: a
	// feed breaks ties by number, and a warehouse (a cluster's shards) may
	// hand the same lines in any order.
	byID := make([]int32, len(b.ProductIDs))
	for i := range byID {
		byID[i] = int32(i)
	}
	slices.SortFunc(byID, func(x, y int32) int { return strings.Compare(b.ProductIDs[x], b.ProductIDs[y]) })
	renumber := make([]int32, len(byID))
	sortedIDs := make([]string, len(byID))
	for n, old := range byID {
		renumber[old], sortedIDs[n] = int32(n), b.ProductIDs[old]
	}
	b.ProductIDs = sortedIDs
	for i := range pairs {
		pairs[i].prod = renumber[pairs[i].prod]
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		if x.cust != y.cust {
			return int(x.cust - y.cust)
		}
		return int(x.prod - y.prod)
	})
	pairs = slices.Compact(pairs)
	b.Start = make([]int32, len(b.Customers)+1)
	b.Products = make([]int32, len(pairs))
	for i, p := range pairs {
		b.Start[p.cust+1]++
		b.Products[i] = p.prod
	}
	for i := 1; i < len(b.Start); i++ {
		b.Start[i] += b.Start[i-1]
	}
	for i := range b.Customers { // ids outlive the records
		b.Customers[i] = string([]byte(b.Customers[i]))
	}
	return b, nil
}
