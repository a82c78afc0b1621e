package pipeline

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// feedRow is a row of segment_feed.
type feedRow struct {
	segment, product string
	rank, buyers     int32
	lift             float64
}

// TestSegmentFeedsAddUp: the feeds ranked from four pods' counts of their
// customers' baskets, added up, are the feeds ranked from one count of
// every basket, and both are the feeds segment.RankFeed ranks from every
// member's purchases with the products numbered in id order (as score's
// plan ranked them before the pods counted them). Checked allocator.
func TestSegmentFeedsAddUp(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	o := segment.FeedOptions{SegmentSize: 10, CustomerSize: 5, MinSupport: 2}
	type buyer struct{ id, seg, basket string }
	var buyers []buyer
	for i := range 6000 {
		seg := ""
		if i%7 != 0 { // some buyers are in no segment
			seg = fmt.Sprintf("s%02d", rng.IntN(25))
		}
		var products []string
		for range rng.IntN(6) { // some bought nothing kept in a basket
			p := fmt.Sprintf("P%03d", min(299, int(rng.ExpFloat64()*float64(20+len(seg)*10))))
			if !slices.Contains(products, p) {
				products = append(products, p)
			}
		}
		slices.Sort(products)
		buyers = append(buyers, buyer{fmt.Sprintf("C%05d", i), seg, strings.Join(products, basketSep)})
	}
	rank := func(rows []warehouse.SegmentPurchases) ([]feedRow, map[string][]string) {
		fr := newFeedRanker(mem, o, func(string) bool { return true })
		for _, r := range rows {
			if err := fr.add(r); err != nil {
				t.Fatal(err)
			}
		}
		ranked, rec := fr.finish()
		defer rec.Release()
		segs, products := canon.ArrayOf[*array.String](rec, "segment_id"), canon.ArrayOf[*array.String](rec, "product_id")
		ranks, counts, lifts := canon.ArrayOf[*array.Int32](rec, "rank"), canon.ArrayOf[*array.Int32](rec, "buyers"), canon.ArrayOf[*array.Float64](rec, "lift")
		var out []feedRow
		for i := range int(rec.NumRows()) {
			out = append(out, feedRow{segs.Value(i), products.Value(i), ranks.Value(i), counts.Value(i), lifts.Value(i)})
		}
		return out, ranked
	}
	whole := newBasketCounts()
	pods := []*basketCounts{newBasketCounts(), newBasketCounts(), newBasketCounts(), newBasketCounts()}
	for _, b := range buyers {
		whole.add(b.seg, b.basket)
		pods[warehouse.ShardOf(b.id, len(pods))].add(b.seg, b.basket)
	}
	want, wantRanked := rank(whole.rows(0))
	if len(want) < 100 {
		t.Fatalf("%d feed rows: the test's segments are too small to test", len(want))
	}
	// As the warehouse hands them over: by segment, the base first.
	var shared []warehouse.SegmentPurchases
	for i, p := range pods {
		shared = append(shared, p.rows(i)...)
	}
	slices.SortStableFunc(shared, func(a, b warehouse.SegmentPurchases) int { return cmp.Compare(a.Segment, b.Segment) })
	got, gotRanked := rank(shared)
	if !slices.Equal(got, want) {
		t.Errorf("four pods' counts: %d feed rows, one count's %d; first %v, want %v", len(got), len(want), got[:3], want[:3])
	}
	for s, l := range wantRanked {
		if !slices.Equal(gotRanked[s], l) {
			t.Errorf("segment %s: four pods' feed %v, one count's %v", s, gotRanked[s], l)
		}
	}
	// The reference: every member's purchases, products numbered in id order.
	var ids []string
	base := map[string]int{}
	bought, members := map[string][]int32{}, map[string]int{}
	withBasket := 0
	for _, b := range buyers {
		if b.seg != "" {
			members[b.seg]++
		}
		if b.basket == "" {
			continue
		}
		withBasket++
		for _, p := range strings.Split(b.basket, basketSep) {
			if base[p] == 0 {
				ids = append(ids, p)
			}
			base[p]++
		}
	}
	slices.Sort(ids)
	number, counted := map[string]int32{}, make([]int, len(ids))
	for n, p := range ids {
		number[p], counted[n] = int32(n), base[p]
	}
	for _, b := range buyers {
		if b.seg != "" && b.basket != "" {
			for _, p := range strings.Split(b.basket, basketSep) {
				bought[b.seg] = append(bought[b.seg], number[p])
			}
		}
	}
	var ref []feedRow
	for _, s := range slices.Sorted(func(yield func(string) bool) {
		for s := range members {
			if !yield(s) {
				return
			}
		}
	}) {
		for k, it := range segment.RankFeed(bought[s], members[s], counted, withBasket, o, make([]int32, len(ids))) {
			ref = append(ref, feedRow{s, ids[it.Product], int32(k + 1), int32(it.Buyers), it.Lift})
		}
	}
	if !slices.Equal(want, ref) {
		t.Errorf("one count's feeds: %d rows, RankFeed's %d", len(want), len(ref))
	}
	// Counts of another plan do not add up.
	baseOf := func(shard int, ids ...string) warehouse.SegmentPurchases {
		r := warehouse.SegmentPurchases{Shard: shard, Members: len(ids), IDs: ids}
		for k := range ids {
			r.Products, r.Buyers = append(r.Products, uint32(k)), append(r.Buyers, 1)
		}
		return r
	}
	seg := func(shard int, places ...uint32) warehouse.SegmentPurchases {
		return warehouse.SegmentPurchases{Shard: shard, Segment: "s01", Members: 1, Products: places, Buyers: slices.Repeat([]uint32{1}, len(places))}
	}
	for _, c := range []struct {
		name string
		rows []warehouse.SegmentPurchases
	}{
		{"a pod's base twice", []warehouse.SegmentPurchases{baseOf(0, "P001"), baseOf(0, "P002")}},
		{"a base's products out of place", []warehouse.SegmentPurchases{{Members: 1, Products: []uint32{1}, Buyers: []uint32{1}, IDs: []string{"P001"}}}},
		{"a base's products without ids", []warehouse.SegmentPurchases{{Members: 1, Products: []uint32{0}, Buyers: []uint32{1}}}},
		{"a segment's product beyond its pod's base", []warehouse.SegmentPurchases{baseOf(0, "P001"), baseOf(1, "P001", "P002"), seg(0, 1)}},
		{"a segment of a pod without a base", []warehouse.SegmentPurchases{baseOf(0, "P001"), seg(1, 0)}},
		{"a base after a segment", []warehouse.SegmentPurchases{baseOf(0, "P001"), seg(0, 0), baseOf(1, "P001")}},
	} {
		fr := newFeedRanker(mem, o, func(string) bool { return true })
		var err error
		for _, r := range c.rows {
			if err = fr.add(r); err != nil {
				break
			}
		}
		fr.release()
		if err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
