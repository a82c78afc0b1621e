package pipeline

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// feedStore is a warehouse through which the pods of a sharded Job share
// what they count of their customers' baskets, so that each ranks every
// segment's feed from the counts of all, and no pod reads every basket.
type feedStore interface {
	SharePurchases(ctx context.Context, asOf time.Time, job, scoreRun string, s warehouse.Slice, runID string, rows []warehouse.SegmentPurchases) error
	PurchasesShared(ctx context.Context, asOf time.Time, job, scoreRun string) (map[int]string, error)
	// EachPurchases hands over the bases and the segments of deal.
	EachPurchases(ctx context.Context, asOf time.Time, job, scoreRun string, runs map[int]string, deal warehouse.Slice, fn func(warehouse.SegmentPurchases) error) error
	PurgePurchases(ctx context.Context) error
}

// basketSchema reads a customer's products.
var basketSchema = warehouse.CustomerProfiles.Columns("customer_id", "buyer", "basket")

// basketCounts are what a pod counts of its customers' baskets for the
// feeds: its buyers with a basket, the buyers of each product, each
// segment's members and their purchases.
type basketCounts struct {
	number  map[string]int32 // product id → number, first met first
	ids     []string         // by number
	base    []int            // buyers of each product, by number
	buyers  int              // buyers with a basket
	segment map[string]int32 // segment id → its index
	segs    []string         // by index
	members []int            // by index
	bought  purchases
}

func newBasketCounts() *basketCounts {
	return &basketCounts{number: map[string]int32{}, segment: map[string]int32{}}
}

// add counts a buyer's basket (product ids joined by basketSep, "" for
// none; read from a record, so the ids kept are copied), a member of seg
// ("" for none; kept as it is: the plan's names are its own).
func (bc *basketCounts) add(seg, basket string) {
	s := int32(-1)
	if seg != "" {
		var ok bool
		if s, ok = bc.segment[seg]; !ok {
			s = int32(len(bc.segs))
			bc.segment[seg] = s
			bc.segs, bc.members = append(bc.segs, seg), append(bc.members, 0)
			bc.bought.grow()
		}
		bc.members[s]++
	}
	if basket == "" {
		return
	}
	bc.buyers++
	for id := range strings.SplitSeq(basket, basketSep) {
		n, ok := bc.number[id]
		if !ok {
			id = strings.Clone(id)
			n = int32(len(bc.ids))
			bc.number[id] = n
			bc.ids, bc.base = append(bc.ids, id), append(bc.base, 0)
		}
		bc.base[n]++
		if s >= 0 {
			bc.bought.add(s, n)
		}
	}
}

// rows are the counts as the pods share them, the pod's (source's) own: the
// base first (its products named, in the order first met: their places),
// then each segment in id order, its products by place, ascending. The
// purchases counted are let go.
func (bc *basketCounts) rows(source int) []warehouse.SegmentPurchases {
	base := warehouse.SegmentPurchases{Shard: source, Members: bc.buyers, Products: make([]uint32, len(bc.ids)), Buyers: make([]uint32, len(bc.ids)), IDs: bc.ids}
	for n := range bc.ids {
		base.Products[n], base.Buyers[n] = uint32(n), uint32(bc.base[n])
	}
	out := []warehouse.SegmentPurchases{base}
	segs := make([]int32, len(bc.segs))
	for i := range segs {
		segs[i] = int32(i)
	}
	slices.SortFunc(segs, func(a, b int32) int { return strings.Compare(bc.segs[a], bc.segs[b]) })
	counts := make([]int32, len(bc.ids))
	for _, s := range segs {
		items := bc.bought.count(s, counts)
		// By place: product and count packed in one number, sorted without
		// a comparison function (a third of the time of sorting the items).
		packed := make([]uint64, len(items))
		for k, it := range items {
			packed[k] = uint64(it.Product)<<32 | uint64(uint32(it.Buyers))
		}
		slices.Sort(packed)
		r := warehouse.SegmentPurchases{Shard: source, Segment: bc.segs[s], Members: bc.members[s], Products: make([]uint32, len(items)), Buyers: make([]uint32, len(items))}
		for k, p := range packed {
			r.Products[k], r.Buyers[k] = uint32(p>>32), uint32(p)
		}
		out = append(out, r)
	}
	return out
}

// purchases are each segment's members' purchases, a product number each:
// in two bytes while the numbers fit, in four once a number does not.
type purchases struct {
	narrow [][]uint16
	wide   [][]int32 // nil while narrow holds them
}

// grow adds a segment.
func (ps *purchases) grow() {
	if ps.wide != nil {
		ps.wide = append(ps.wide, nil)
		return
	}
	ps.narrow = append(ps.narrow, nil)
}

// add adds a purchase of product n by a member of segment seg.
func (ps *purchases) add(seg, n int32) {
	if ps.wide == nil && n <= math.MaxUint16 {
		ps.narrow[seg] = append(ps.narrow[seg], uint16(n))
		return
	}
	if ps.wide == nil {
		ps.wide = make([][]int32, len(ps.narrow))
		for s, l := range ps.narrow {
			w := make([]int32, len(l), len(l)+1)
			for i, v := range l {
				w[i] = int32(v)
			}
			ps.wide[s], ps.narrow[s] = w, nil
		}
		ps.narrow = nil
	}
	ps.wide[seg] = append(ps.wide[seg], n)
}

// count counts segment s's purchases (segment.CountBought, counts its
// scratch) and lets them go.
func (ps *purchases) count(s int32, counts []int32) []segment.FeedItem {
	if ps.wide != nil {
		l := ps.wide[s]
		ps.wide[s] = nil
		return segment.CountBought(l, counts)
	}
	l := ps.narrow[s]
	ps.narrow[s] = nil
	return segment.CountBought(l, counts)
}

// countBaskets counts the baskets of slice s's buyers, placed in their
// segments by plan (the slice's rows of customer_plan, in id order).
func countBaskets(ctx context.Context, r Run, st publishStore, o ScoreOptions, s warehouse.Slice, plan []planRow, bc *basketCounts) error {
	k := 0
	err := st.EachPart(ctx, r.Mem, warehouse.CustomerProfiles.Name, basketSchema, r.AsOf, r.Shard.Job, []warehouse.Slice{s}, o.BatchRows, func(rec arrow.Record) error {
		ids, baskets := canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.String](rec, "basket")
		buyer := canon.ArrayOf[*array.Boolean](rec, "buyer")
		for i := 0; i < int(rec.NumRows()); i++ {
			if k >= len(plan) || plan[k].id != ids.Value(i) {
				return fmt.Errorf("the plan of shard %d lacks customer %s of its profiles: run score again", s.Index, ids.Value(i))
			}
			if buyer.Value(i) {
				bc.add(plan[k].segment, baskets.Value(i))
			}
			k++
		}
		return nil
	})
	if err == nil && k != len(plan) {
		err = fmt.Errorf("the plan of shard %d has %d customers, its profiles %d: run score again", s.Index, len(plan), k)
	}
	return err
}

// segmentFeeds ranks the segments' feeds from their members' baskets: it
// returns every segment's products by rank, for the shard's customers'
// feeds, and writes the shard's part of segment_feed, the segments dealt to
// it (by their id's hash, as customers are to shards; every segment of a
// run not sharded). A pod of a sharded Job shares the counts of its own
// customers' baskets and waits up to the shard's ShareWait for every pod's;
// it ranks the segments dealt to it from them, writes its part, and takes
// the other segments' feeds from the other pods' parts (waiting up to
// ShareWait again, else ranking them itself from the counts). Without
// every pod's counts in time it counts every shard's plan and baskets
// itself. Every way adds up the same counts: the same feeds as one process
// ranks. A part written from another score run's plan fails publish's
// check of what is staged.
func segmentFeeds(ctx context.Context, r Run, st publishStore, o ScoreOptions, scoreRun string, pl Plan, plan []planRow) (map[string][]string, error) {
	sh := r.Shard
	deal := sh.slice()
	fs, canShare := st.(feedStore)
	var own []warehouse.SegmentPurchases // the shard's counts, when counted
	if !sh.Sharded() || canShare {
		bc := newBasketCounts()
		if err := countBaskets(ctx, r, st, o, deal, plan, bc); err != nil {
			return nil, err
		}
		own = bc.rows(sh.Index)
	}
	if !sh.Sharded() {
		return rankFeeds(ctx, r, st, o, scoreRun, deal.Owns, eachRow(own))
	}
	if canShare {
		if err := fs.SharePurchases(ctx, r.AsOf, sh.Job, scoreRun, deal, r.ID, own); err != nil {
			return nil, err
		}
		var runs map[int]string
		var readErr error
		waited := waitFor(ctx, sh.shareWait(), func() (bool, string, error) {
			runs, readErr = fs.PurchasesShared(ctx, r.AsOf, sh.Job, scoreRun)
			return len(runs) == sh.Of, fmt.Sprintf("%d of %d pods of %s shared their customers' purchases", len(runs), sh.Of, sh.Job), readErr
		})
		switch {
		case readErr != nil:
			return nil, readErr
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case waited == nil:
			return sharedFeeds(ctx, r, st, fs, o, scoreRun, runs)
		}
		r.Log.WithError(waited).Warn("the segments' feeds are counted from every shard's baskets instead")
	}
	// The other shards' counts (the shard's own too, if not counted yet),
	// handed to the ranker with the shard's own in segment order.
	others := newBasketCounts()
	for _, s := range sh.all() {
		part := plan
		switch {
		case s.Index == sh.Index && own != nil:
			continue
		case s.Index != sh.Index:
			var err error
			if part, err = readPlan(ctx, r, st, o, scoreRun, pl, s); err != nil {
				return nil, err
			}
		}
		if err := countBaskets(ctx, r, st, o, s, part, others); err != nil {
			return nil, err
		}
	}
	// Numbered apart from the shard's own: a source of their own.
	rows := append(own, others.rows(sh.Index+1)...)
	slices.SortStableFunc(rows, func(a, b warehouse.SegmentPurchases) int { return strings.Compare(a.Segment, b.Segment) })
	return rankFeeds(ctx, r, st, o, scoreRun, deal.Owns, eachRow(rows))
}

// eachRow hands rows over one at a time, as EachPurchases does.
func eachRow(rows []warehouse.SegmentPurchases) func(fn func(warehouse.SegmentPurchases) error) error {
	return func(fn func(warehouse.SegmentPurchases) error) error {
		for _, row := range rows {
			if err := fn(row); err != nil {
				return err
			}
		}
		return nil
	}
}

// sharedFeeds ranks the feeds of the segments dealt to the pod from the
// counts every pod shared (runs), writes them as its part, and takes the
// others' from the other pods' parts once all are written; a pod that waits
// longer than ShareWait for them ranks every segment itself.
func sharedFeeds(ctx context.Context, r Run, st publishStore, fs feedStore, o ScoreOptions, scoreRun string, runs map[int]string) (map[string][]string, error) {
	sh := r.Shard
	deal := sh.slice()
	mine, err := rankFeeds(ctx, r, st, o, scoreRun, deal.Owns, func(fn func(warehouse.SegmentPurchases) error) error {
		return fs.EachPurchases(ctx, r.AsOf, sh.Job, scoreRun, runs, deal, fn)
	})
	if err != nil {
		return nil, err
	}
	var readErr error
	waited := waitFor(ctx, sh.shareWait(), func() (bool, string, error) {
		n, err := st.PartsWritten(ctx, warehouse.SegmentFeed.Name, r.AsOf, sh.Job, sh.Of)
		readErr = err
		return n == sh.Of, fmt.Sprintf("%d of %d pods of %s ranked their segments' feeds", n, sh.Of, sh.Job), err
	})
	switch {
	case readErr != nil:
		return nil, readErr
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case waited != nil:
		r.Log.WithError(waited).Warn("every segment's feed ranked here from the counts the pods shared instead")
		ranked, rec, err := rankCounts(r, o, func(string) bool { return false }, func(fn func(warehouse.SegmentPurchases) error) error {
			return fs.EachPurchases(ctx, r.AsOf, sh.Job, scoreRun, runs, warehouse.Slice{}, fn)
		})
		if err != nil {
			return nil, err
		}
		rec.Release()
		return ranked, nil
	}
	ranked := map[string][]string{}
	var others []warehouse.Slice
	for _, s := range sh.all() {
		if s.Index != sh.Index {
			others = append(others, s)
		}
	}
	err = st.EachPart(ctx, r.Mem, warehouse.SegmentFeed.Name, feedPartSchema, r.AsOf, sh.Job, others, o.BatchRows, func(rec arrow.Record) error {
		segs, ranks, products := canon.ArrayOf[*array.String](rec, "segment_id"), canon.ArrayOf[*array.Int32](rec, "rank"), canon.ArrayOf[*array.String](rec, "product_id")
		for i := range int(rec.NumRows()) {
			seg, k := segs.Value(i), int(ranks.Value(i))
			if deal.Owns(seg) {
				return fmt.Errorf("segment %s's feed in another pod's part: the pods deal segments apart", seg)
			}
			list := ranked[seg]
			if k < 1 || k > o.Segmentation.Feeds.SegmentSize {
				return fmt.Errorf("segment %s's feed: rank %d", seg, k)
			}
			for len(list) < k {
				list = append(list, "")
			}
			if list[k-1] != "" {
				return fmt.Errorf("segment %s's feed: rank %d twice", seg, k)
			}
			list[k-1] = strings.Clone(products.Value(i))
			ranked[seg] = list
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for seg, list := range ranked {
		if slices.Contains(list, "") {
			return nil, fmt.Errorf("segment %s's feed lacks a rank: the parts of segment_feed are not whole", seg)
		}
	}
	maps.Copy(ranked, mine)
	return ranked, nil
}

// feedPartSchema reads each segment's products by rank.
var feedPartSchema = warehouse.SegmentFeed.Columns("segment_id", "rank", "product_id")

// rankFeeds ranks the feeds of the segments each hands over (the bases
// first, then the segments in id order) and writes the rows of those that
// part keeps as the shard's part of segment_feed, stamped with the score
// run. It returns every segment's products by rank.
func rankFeeds(ctx context.Context, r Run, st publishStore, o ScoreOptions, scoreRun string, part func(seg string) bool, each func(fn func(warehouse.SegmentPurchases) error) error) (map[string][]string, error) {
	ranked, rec, err := rankCounts(r, o, part, each)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	pw, err := st.OpenPart(ctx, warehouse.SegmentFeed.Name, warehouse.SegmentFeed.Schema, r.AsOf, r.Shard.Job, r.Shard.slice(), scoreRun)
	if err != nil {
		return nil, err
	}
	if rec.NumRows() > 0 {
		if err := pw.Write(ctx, rec); err != nil {
			pw.Abort(ctx)
			return nil, err
		}
	}
	if err := pw.Close(ctx); err != nil {
		return nil, err
	}
	return ranked, nil
}

// rankCounts ranks the feeds of the segments each hands over: every
// segment's products by rank, and the segment_feed rows of those keep keeps.
func rankCounts(r Run, o ScoreOptions, keep func(seg string) bool, each func(fn func(warehouse.SegmentPurchases) error) error) (map[string][]string, arrow.Record, error) {
	fr := newFeedRanker(r.Mem, o.Segmentation.Feeds, keep)
	if err := each(fr.add); err != nil {
		fr.release()
		return nil, nil, err
	}
	ranked, rec := fr.finish()
	return ranked, rec, nil
}

// feedRanker ranks each segment's feed from the counts of its members on
// every pod, handed over in segment order, the bases first: it adds up a
// segment's counts, then ranks them (segment.RankCounts) against the base
// added up, its products numbered in id order as one process numbers them.
type feedRanker struct {
	o       segment.FeedOptions
	keep    func(seg string) bool // the segments whose rows the record takes
	base    map[string]int        // buyers of each product, while the base rows come
	placed  map[int][]string      // each pod's products by place, while the base rows come
	number  map[int][]int32       // each pod's products' numbers by place
	buyers  int
	ids     []string // products in id order, once the base is whole
	counted []int    // buyers of each product, by number
	seg     string
	started bool // a segment's rows have come
	members int
	sum     []int   // the segment's buyers of each product, by number
	touched []int32 // the numbers whose sum is not 0
	ranked  map[string][]string
	b       *array.RecordBuilder
	segID   *array.StringBuilder
	rankB   *array.Int32Builder
	product *array.StringBuilder
	buyersB *array.Int32Builder
	lift    *array.Float64Builder
}

func newFeedRanker(mem memory.Allocator, o segment.FeedOptions, keep func(seg string) bool) *feedRanker {
	b := array.NewRecordBuilder(mem, warehouse.SegmentFeed.Schema)
	return &feedRanker{o: o, keep: keep, base: map[string]int{}, placed: map[int][]string{}, ranked: map[string][]string{}, b: b,
		segID: canon.BuilderOf[*array.StringBuilder](b, "segment_id"), rankB: canon.BuilderOf[*array.Int32Builder](b, "rank"),
		product: canon.BuilderOf[*array.StringBuilder](b, "product_id"), buyersB: canon.BuilderOf[*array.Int32Builder](b, "buyers"),
		lift: canon.BuilderOf[*array.Float64Builder](b, "lift")}
}

func (fr *feedRanker) release() { fr.b.Release() }

// add adds a pod's counts of a segment (or of the base). It keeps none of
// row's arrays.
func (fr *feedRanker) add(row warehouse.SegmentPurchases) error {
	if len(row.Products) != len(row.Buyers) {
		return fmt.Errorf("the purchases of segment %q: %d products, %d counts", row.Segment, len(row.Products), len(row.Buyers))
	}
	if row.Segment == "" {
		if fr.ids != nil {
			return fmt.Errorf("the purchases of pod %d's base came after a segment's", row.Shard)
		}
		if _, ok := fr.placed[row.Shard]; ok {
			return fmt.Errorf("the purchases of pod %d's base came twice", row.Shard)
		}
		if len(row.IDs) != len(row.Products) {
			return fmt.Errorf("the purchases of pod %d's base: %d products, %d ids", row.Shard, len(row.Products), len(row.IDs))
		}
		ids := make([]string, len(row.IDs))
		for k, id := range row.IDs {
			if row.Products[k] != uint32(k) {
				return fmt.Errorf("the purchases of pod %d's base: product %d in place %d", row.Shard, row.Products[k], k)
			}
			ids[k] = strings.Clone(id)
			fr.base[ids[k]] += int(row.Buyers[k])
		}
		fr.placed[row.Shard] = ids
		fr.buyers += row.Members
		return nil
	}
	if fr.ids == nil {
		fr.numberBase()
	}
	if !fr.started || row.Segment != fr.seg {
		if fr.started {
			if row.Segment < fr.seg {
				return fmt.Errorf("the purchases of segment %s came after those of %s", row.Segment, fr.seg)
			}
			fr.rank()
		}
		fr.seg, fr.started = row.Segment, true
	}
	number := fr.number[row.Shard]
	fr.members += row.Members
	for k, place := range row.Products {
		if int(place) >= len(number) {
			return fmt.Errorf("members of segment %s on pod %d bought its product %d, of the %d its base names: the pods' counts are not of one plan", row.Segment, row.Shard, place, len(number))
		}
		n := number[place]
		if row.Buyers[k] == 0 {
			continue
		}
		if fr.sum[n] == 0 {
			fr.touched = append(fr.touched, n)
		}
		fr.sum[n] += int(row.Buyers[k])
	}
	return nil
}

// numberBase numbers the base's products in id order, and each pod's
// places.
func (fr *feedRanker) numberBase() {
	fr.ids = slices.Sorted(maps.Keys(fr.base))
	numbers := make(map[string]int32, len(fr.ids))
	fr.counted, fr.sum = make([]int, len(fr.ids)), make([]int, len(fr.ids))
	for n, id := range fr.ids {
		numbers[id], fr.counted[n] = int32(n), fr.base[id]
	}
	fr.number = make(map[int][]int32, len(fr.placed))
	for shard, ids := range fr.placed {
		nums := make([]int32, len(ids))
		for k, id := range ids {
			nums[k] = numbers[id]
		}
		fr.number[shard] = nums
	}
	fr.base, fr.placed = nil, nil
}

// rank ranks the segment whose counts are added up, and starts the next.
func (fr *feedRanker) rank() {
	items := make([]segment.FeedItem, len(fr.touched))
	for k, n := range fr.touched {
		items[k] = segment.FeedItem{Product: n, Buyers: fr.sum[n]}
		fr.sum[n] = 0
	}
	fr.touched = fr.touched[:0]
	feed := segment.RankCounts(items, fr.members, fr.counted, fr.buyers, fr.o)
	products := make([]string, len(feed))
	keep := fr.keep(fr.seg)
	for k, it := range feed {
		products[k] = fr.ids[it.Product]
		if !keep {
			continue
		}
		fr.segID.Append(fr.seg)
		fr.rankB.Append(int32(k + 1))
		fr.product.Append(products[k])
		fr.buyersB.Append(int32(it.Buyers))
		fr.lift.Append(it.Lift)
	}
	fr.ranked[fr.seg] = products
	fr.members = 0
}

// finish ranks the last segment: each segment's products by rank, and the
// segment_feed record.
func (fr *feedRanker) finish() (map[string][]string, arrow.Record) {
	defer fr.b.Release()
	if fr.started {
		fr.rank()
	}
	return fr.ranked, fr.b.NewRecord()
}
