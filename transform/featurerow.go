package transform

import (
	"cmp"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// build sorts the orders' facts by customer and time and makes one row per
// buyer.
func (fr *featureRun) build(mem memory.Allocator) arrow.Record {
	facts := fr.facts
	sortFacts(facts)
	b := array.NewRecordBuilder(mem, FeatureSchema)
	defer b.Release()
	b.Reserve(len(fr.names))
	cols := newFeatureBuilders(b)
	for i := 0; i < len(facts); {
		c := facts[i].cust
		j := i
		for j < len(facts) && facts[j].cust == c {
			j++
		}
		s := summariseOrders(facts[i:j], fr.firstDay[c], fr.asOfDay)
		i = j
		if s.orders == 0 { // only cancelled orders: not a buyer
			continue
		}
		fr.appendRow(cols, c, &s)
	}
	return b.NewRecord()
}

// sortFacts puts the orders' facts in a total order, by customer then time:
// a customer's sums then add the same numbers in the same order however the
// warehouse handed the orders (a cluster's shards, a shard's slice hand them
// in any order). Facts that compare equal have the same numbers, so their
// order among themselves changes no sum. The warehouse mostly hands a
// customer's orders together, and customers are numbered as they first
// appear: then each customer's few orders are sorted where they are, not
// every order by a comparison sort (2.3 s of CPU at a million customers).
func sortFacts(facts []orderFacts) {
	byTime := func(a, b orderFacts) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.ts, b.ts), cmp.Compare(a.net, b.net),
			cmp.Compare(a.gross, b.gross), cmp.Compare(a.discount, b.discount), cmp.Compare(a.items, b.items), cmp.Compare(a.rating, b.rating))
	}
	for i := 1; i < len(facts); i++ {
		if facts[i].cust < facts[i-1].cust {
			slices.SortFunc(facts, func(a, b orderFacts) int { return cmp.Or(cmp.Compare(a.cust, b.cust), byTime(a, b)) })
			return
		}
	}
	for i := 0; i < len(facts); {
		j := i + 1
		for j < len(facts) && facts[j].cust == facts[i].cust {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(facts[i:j], byTime)
		}
		i = j
	}
}

// featureBuilders are the record's builders by column, typed once rather
// than on every row.
type featureBuilders struct {
	f64  []*array.Float64Builder
	i32  []*array.Int32Builder
	i64  []*array.Int64Builder
	str  []*array.StringBuilder
	date []*array.Date32Builder
	flag []*array.BooleanBuilder
}

func newFeatureBuilders(b *array.RecordBuilder) featureBuilders {
	n := len(Features)
	c := featureBuilders{make([]*array.Float64Builder, n), make([]*array.Int32Builder, n), make([]*array.Int64Builder, n),
		make([]*array.StringBuilder, n), make([]*array.Date32Builder, n), make([]*array.BooleanBuilder, n)}
	for i, fb := range b.Fields() {
		switch fb := fb.(type) {
		case *array.Float64Builder:
			c.f64[i] = fb
		case *array.Int32Builder:
			c.i32[i] = fb
		case *array.Int64Builder:
			c.i64[i] = fb
		case *array.StringBuilder:
			c.str[i] = fb
		case *array.Date32Builder:
			c.date[i] = fb
		case *array.BooleanBuilder:
			c.flag[i] = fb
		}
	}
	return c
}

// orderStats sum up one customer's orders.
type orderStats struct {
	orders, cancelled, returned, discounted, ratedN int64
	revenue, items, discSum, discGross, ratingSum   float64
	first, last                                     int32
	gaps, gapSum, gapSq                             float64 // gaps between order days; ints, so the sums are exact
	revenue12, lastGap                              float64
	fwOrders, fwItems, fwDisc, fwRated              int32
	fwRevenue, fwRating                             float64
}

// summariseOrders sums up one customer's orders, sorted by day.
func summariseOrders(facts []orderFacts, firstDay, asOfDay int32) orderStats {
	s := orderStats{first: math.MaxInt32, last: math.MinInt32}
	prevDay := int32(math.MinInt32)
	for _, f := range facts {
		if f.cancelled {
			s.cancelled++
			continue
		}
		if f.day <= firstDay+6 {
			s.fwOrders++
			s.fwRevenue += f.net
			s.fwItems += f.items
			if f.discount > 0 {
				s.fwDisc++
			}
			if f.rated {
				s.fwRated++
				s.fwRating += float64(f.rating)
			}
		}
		s.orders++
		s.revenue += f.net
		if f.day >= asOfDay-365 {
			s.revenue12 += f.net
		}
		s.items += float64(f.items)
		if f.returned {
			s.returned++
		}
		if f.discount > 0 {
			s.discounted++
			s.discSum += f.discount
			s.discGross += f.gross
		}
		if f.rated {
			s.ratedN++
			s.ratingSum += float64(f.rating)
		}
		s.first, s.last = min(s.first, f.day), max(s.last, f.day)
		if prevDay != math.MinInt32 && f.day != prevDay {
			g := float64(f.day - prevDay)
			s.lastGap = g
			s.gaps++
			s.gapSum += g
			s.gapSq += g * g
		}
		prevDay = f.day
	}
	return s
}

// appendRow appends customer c's row: column k of Features is builder k.
func (fr *featureRun) appendRow(col featureBuilders, c int32, s *orderStats) {
	f64, i32, i64, str, date, flag := col.f64, col.i32, col.i64, col.str, col.date, col.flag
	str[0].Append(fr.names[c])
	i64[1].Append(s.orders)
	i64[2].Append(s.cancelled)
	no := float64(s.orders)
	f64[3].Append(s.revenue)
	f64[4].Append(s.revenue / no)
	f64[5].Append(s.items / no)
	f64[6].Append(float64(s.returned) / no)
	f64[7].Append(float64(s.cancelled) / float64(s.orders+s.cancelled))
	f64[8].Append(float64(s.discounted) / no)
	depth := 0.0
	if s.discGross > 0 {
		depth = s.discSum / s.discGross
	}
	f64[9].Append(depth)
	rating := math.NaN()
	if s.ratedN > 0 {
		rating = s.ratingSum / float64(s.ratedN)
	}
	f64[10].Append(rating)
	date[11].Append(arrow.Date32(s.first))
	date[12].Append(arrow.Date32(s.last))
	f64[13].Append(float64(fr.asOfDay - s.first))
	f64[14].Append(float64(fr.asOfDay - s.last))
	mean, std := 0.0, 0.0
	if s.gaps > 0 {
		mean = s.gapSum / s.gaps
	}
	if s.gaps > 1 {
		// Σ(g−mean)² = (n Σg² − (Σg)²)/n, exact in integers below 2^53
		std = math.Sqrt(math.Max(0, s.gaps*s.gapSq-s.gapSum*s.gapSum) / (s.gaps * s.gaps))
	}
	f64[15].Append(mean)
	f64[16].Append(std)
	bh := &fr.beh[c]
	for t := range eventTypes {
		i32[17+t].Append(bh.last30[t])
		i32[23+t].Append(bh.last90[t])
	}
	conv := 0.0
	if fr.cartVisits[c] > 0 {
		conv = float64(bh.orders90) / float64(fr.cartVisits[c])
	}
	f64[29].Append(conv)
	i32[30].Append(int32(mode(bh.hours[:])))
	i32[31].Append(int32(mode(bh.weekdays[:]) + 1))
	i32[32].Append(s.fwOrders)
	f64[33].Append(s.fwRevenue)
	i32[34].Append(s.fwItems)
	f64[35].Append(float64(s.fwDisc) / float64(s.fwOrders))
	fwMean := math.NaN()
	if s.fwRated > 0 {
		fwMean = s.fwRating / float64(s.fwRated)
	}
	f64[36].Append(fwMean)
	i32[37].Append(fr.firstWeekEvents[c])
	i32[38].Append(fr.bask[c].firstWeekCats)
	e := &fr.eng[c]
	rate := func(n int32, ch int) float64 {
		if e.delivered[ch] == 0 {
			return 0
		}
		return float64(n) / float64(e.delivered[ch])
	}
	f64[39].Append(rate(e.opens[0], 0))
	f64[40].Append(rate(e.clicks[0], 0))
	f64[41].Append(rate(e.opens[2], 2))
	f64[42].Append(rate(e.clicks[2], 2))
	f64[43].Append(rate(e.clicks[1], 1))
	best, bestRate := "", -1.0
	for ch, name := range channels {
		if r := rate(e.opens[ch]+e.clicks[ch], ch); e.delivered[ch] > 0 && r > bestRate {
			best, bestRate = name, r
		}
	}
	str[44].Append(best)
	for ch := range channels {
		flag[45+ch].Append(e.optin[ch])
	}
	bk := &fr.bask[c]
	i32[48].Append(bk.products)
	i32[49].Append(bk.categories)
	f64[50].Append(bk.priceLevel)
	str[51].Append(bk.topCat)
	f64[52].Append(bk.topCatShare)
	str[53].Append(bk.secondCat)
	f64[54].Append(bk.secondCatShare)
	str[55].Append(bk.topBrand)
	f64[56].Append(bk.topBrandShare)
	f64[57].Append(s.revenue12)
	f64[58].Append(s.lastGap)
	str[59].Append(bk.basket)
}
