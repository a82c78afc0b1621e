// Package transform computes customer features from canonical Arrow batches,
// point in time: as of a date, nothing at or after it counts.
package transform

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/canon"
)

// SummarySchema is the buy-till-you-die summary of each customer, with the
// semantics of lifetimes and BTYD: purchases collapse to one per customer per
// day; frequency counts repeat purchase days; recency is the time from the first
// to the last purchase day; T the time from the first purchase day to the end of
// the calibration period; monetary_value the mean value of the repeat purchase
// days (0 without repeats). Times are in the summary's unit. Only customers
// whose first purchase falls in the calibration period have a row.
var SummarySchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "frequency", Type: arrow.PrimitiveTypes.Float64},
	{Name: "recency", Type: arrow.PrimitiveTypes.Float64},
	{Name: "T", Type: arrow.PrimitiveTypes.Float64},
	{Name: "monetary_value", Type: arrow.PrimitiveTypes.Float64},
	{Name: "first_purchase", Type: arrow.FixedWidthTypes.Date32},
	// With a holdout period: purchase days in it and their mean value.
	{Name: "frequency_holdout", Type: arrow.PrimitiveTypes.Float64},
	{Name: "monetary_value_holdout", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// SummaryOptions say what period and unit a summary covers.
type SummaryOptions struct {
	// CalibrationEnd is the last day counted (inclusive, UTC); T runs to it.
	CalibrationEnd time.Time
	// Unit is the time unit of recency and T: 24h for days, 168h for weeks.
	Unit time.Duration
	// HoldoutEnd, when set, is the last day (inclusive) of a holdout period
	// after CalibrationEnd: its purchase days are counted apart, for evaluating
	// models fitted on the calibration period.
	HoldoutEnd time.Time
}

// byDay orders a customer's purchases by day, then value: a day's value then
// sums the same numbers in the same order however they were read.
func byDay(a, b purchase) int {
	return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.value, b.value))
}

type purchase struct {
	cust  int32
	day   int32
	value float64
}

// Summary computes the BTYD summary of the orders in recs, which must have the
// columns customer_id (string), ordered_at (timestamp) and net_amount (float64),
// and may have status: cancelled orders are not purchases. One output row per
// customer with a purchase on or before CalibrationEnd: not in id order, but
// the customers of one half of the id hash, then of the other, each half in
// the order its customers first appear in recs.
func Summary(mem memory.Allocator, recs []arrow.Record, opt SummaryOptions) (arrow.Record, error) {
	if opt.Unit <= 0 {
		return nil, fmt.Errorf("summary: time unit must be positive, got %s", opt.Unit)
	}
	endDay := int32(opt.CalibrationEnd.UTC().Unix() / 86400)
	lastDay := endDay
	if !opt.HoldoutEnd.IsZero() {
		lastDay = int32(opt.HoldoutEnd.UTC().Unix() / 86400)
		if lastDay <= endDay {
			return nil, fmt.Errorf("summary: holdout end %s is not after the calibration end %s", opt.HoldoutEnd.Format(time.DateOnly), opt.CalibrationEnd.Format(time.DateOnly))
		}
	}
	// Customers are split between two shards by a hash of their id, each
	// collected and grouped on its own core.
	const shards = 2
	results := make([]shardPurchases, shards)
	errs := make([]error, shards)
	var wg sync.WaitGroup
	for sh := 0; sh < shards; sh++ {
		wg.Add(1)
		go func(sh int) {
			defer wg.Done()
			results[sh], errs[sh] = collect(recs, lastDay, sh, shards)
		}(sh)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rows := 0
	for _, r := range results {
		rows += len(r.names)
	}
	// Customers come out of each shard's grouping in order of first
	// appearance: append each one's row straight to the builders.
	b := array.NewRecordBuilder(mem, SummarySchema)
	defer b.Release()
	b.Reserve(rows)
	f64 := func(name string) *array.Float64Builder { return canon.BuilderOf[*array.Float64Builder](b, name) }
	idB := canon.BuilderOf[*array.StringBuilder](b, "customer_id")
	fB, rB, tB, mB := f64("frequency"), f64("recency"), f64("T"), f64("monetary_value")
	dB := canon.BuilderOf[*array.Date32Builder](b, "first_purchase")
	hfB, hmB := f64("frequency_holdout"), f64("monetary_value_holdout")
	unitDays := float64(opt.Unit) / float64(24*time.Hour)
	for _, r := range results {
		names, ps := r.names, r.ps
		for i := 0; i < len(ps); {
			c := ps[i].cust
			firstDay, lastCal := ps[i].day, ps[i].day
			days, repeatValue := 0, 0.0
			hDays, hValue := 0, 0.0
			for i < len(ps) && ps[i].cust == c {
				d := ps[i].day
				dayValue := 0.0
				for i < len(ps) && ps[i].cust == c && ps[i].day == d {
					dayValue += ps[i].value
					i++
				}
				switch {
				case d > endDay:
					hDays++
					hValue += dayValue
				default:
					if days > 0 {
						repeatValue += dayValue
					}
					days++
					lastCal = d
				}
			}
			if firstDay > endDay { // first bought in the holdout: not a calibration customer
				continue
			}
			money, hMoney := 0.0, 0.0
			if days > 1 {
				money = repeatValue / float64(days-1)
			}
			if hDays > 0 {
				hMoney = hValue / float64(hDays)
			}
			idB.Append(names[c])
			fB.UnsafeAppend(float64(days - 1))
			rB.UnsafeAppend(float64(lastCal-firstDay) / unitDays)
			tB.UnsafeAppend(float64(endDay-firstDay) / unitDays)
			mB.UnsafeAppend(money)
			dB.UnsafeAppend(arrow.Date32(firstDay))
			hfB.UnsafeAppend(float64(hDays))
			hmB.UnsafeAppend(hMoney)
		}
	}
	return b.NewRecord(), nil
}

type orderCols struct {
	id, status *array.String
	at         *array.Timestamp
	value      *array.Float64
}

func orderColumns(rec arrow.Record) (orderCols, error) {
	var c orderCols
	s := rec.Schema()
	col := func(name string) arrow.Array {
		if idx := s.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	var ok bool
	if c.id, ok = col("customer_id").(*array.String); !ok {
		return c, fmt.Errorf("summary: orders need a string customer_id column")
	}
	if c.at, ok = col("ordered_at").(*array.Timestamp); !ok {
		return c, fmt.Errorf("summary: orders need a timestamp ordered_at column")
	}
	if c.value, ok = col("net_amount").(*array.Float64); !ok {
		return c, fmt.Errorf("summary: orders need a float64 net_amount column")
	}
	if st := col("status"); st != nil {
		if c.status, ok = st.(*array.String); !ok {
			return c, fmt.Errorf("summary: status must be a string column")
		}
	}
	return c, nil
}

// shardPurchases are one shard's customers and their purchases, grouped by
// customer (in order of first appearance) and by day within a customer.
type shardPurchases struct {
	names []string
	ps    []purchase
}

// collect gathers the purchases up to lastDay of the customers whose id hashes
// to shard, and groups them.
func collect(recs []arrow.Record, lastDay int32, shard, shards int) (shardPurchases, error) {
	total := 0
	for _, rec := range recs {
		total += int(rec.NumRows())
	}
	guess := total / shards
	ids := make(map[string]int32, guess/2)
	names := make([]string, 0, guess/2)
	ps := make([]purchase, 0, guess+guess/8)
	// Orders often come grouped by customer: decide once per run of one id.
	prev, prevC, prevMine, started := "", int32(-1), false, false
	for _, rec := range recs {
		cols, err := orderColumns(rec)
		if err != nil {
			return shardPurchases{}, err
		}
		ts := cols.at.TimestampValues()
		unit := cols.at.DataType().(*arrow.TimestampType).Unit
		perDay := int64(86400 * (time.Second / unit.Multiplier()))
		for i := 0; i < int(rec.NumRows()); i++ {
			if cols.id.IsNull(i) || cols.at.IsNull(i) || (cols.status != nil && cols.status.Value(i) == "cancelled") {
				continue
			}
			t := int64(ts[i])
			day := t / perDay
			if t < 0 && t%perDay != 0 {
				day--
			}
			if day > int64(lastDay) {
				continue
			}
			id := cols.id.Value(i)
			if !started || id != prev {
				prev, started = id, true
				prevMine = fnv1a(id)%uint64(shards) == uint64(shard)
				prevC = -1
				if prevMine {
					c, ok := ids[id]
					if !ok {
						// id views the record's buffer: fine while recs are
						// alive, which they are for the whole call.
						c = int32(len(names))
						ids[id] = c
						names = append(names, id)
					}
					prevC = c
				}
			}
			if !prevMine {
				continue
			}
			v := 0.0
			if cols.value.IsValid(i) {
				v = cols.value.Value(i)
			}
			ps = append(ps, purchase{cust: prevC, day: int32(day), value: v})
		}
	}
	// Group by customer with a counting sort (linear), then order each
	// customer's few purchases by day.
	start := make([]int32, len(names)+1)
	for _, p := range ps {
		start[p.cust+1]++
	}
	for c := 1; c <= len(names); c++ {
		start[c] += start[c-1]
	}
	next := append([]int32(nil), start[:len(names)]...)
	grouped := make([]purchase, len(ps))
	for _, p := range ps {
		grouped[next[p.cust]] = p
		next[p.cust]++
	}
	for c := 0; c < len(names); c++ {
		g := grouped[start[c]:start[c+1]]
		if !slices.IsSortedFunc(g, byDay) {
			slices.SortFunc(g, byDay)
		}
	}
	return shardPurchases{names: names, ps: grouped}, nil
}

// fnv1a hashes a string (FNV-1a, 64 bits): fixed, so shards and thus row order
// are the same on every run.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
