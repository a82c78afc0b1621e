package segment

import (
	"cmp"
	"errors"
	"slices"
)

// FeedOptions configure the product feeds.
type FeedOptions struct {
	// SegmentSize: products kept per micro-segment.
	SegmentSize int `yaml:"segment_size"`
	// CustomerSize: products per customer (the segment's, minus what the
	// customer bought).
	CustomerSize int `yaml:"customer_size"`
	// MinSupport: a product enters a segment's feed only when at least this
	// many of its members bought it.
	MinSupport int `yaml:"min_support"`
}

// DefaultFeeds are the defaults.
var DefaultFeeds = FeedOptions{SegmentSize: 30, CustomerSize: 10, MinSupport: 3}

// Validate says what is wrong with the options.
func (o FeedOptions) Validate() error {
	if o.SegmentSize < 1 || o.CustomerSize < 1 || o.CustomerSize > o.SegmentSize || o.MinSupport < 1 {
		return errors.New("feeds: segment_size and min_support at least 1, customer_size between 1 and segment_size")
	}
	return nil
}

// FeedItem is a product of a segment's feed.
type FeedItem struct {
	Product int32
	Buyers  int     // members who bought it
	Lift    float64 // share of members who bought it / share of all buyers who did
}

// RankFeed ranks the products the segment's members bought (bought: the
// product of each member's purchase of it, one entry per member and product,
// in any order; RankFeed overwrites it) by lift against the whole base
// (members who bought / members, over buyers who bought / buyers), among
// products at least MinSupport members bought; ties go to more buyers, then
// the lower product number. Products are numbered in two bytes where the
// catalogue allows. counts is scratch of a zero per product number
// (len(baseCount)), left zero again.
func RankFeed[P uint16 | int32](bought []P, members int, baseCount []int, buyers int, o FeedOptions, counts []int32) []FeedItem {
	return RankCounts(CountBought(bought, counts), members, baseCount, buyers, o)
}

// CountBought counts a segment's purchases (bought, as RankFeed takes them;
// CountBought overwrites it): an item a product, with the members who
// bought it (Buyers), in the order first met. counts is scratch of a zero
// per product number, left zero again. Counts of the same segment's members
// on several pods add up to the counts of all (RankCounts ranks them).
func CountBought[P uint16 | int32](bought []P, counts []int32) []FeedItem {
	// Counted into an array, not sorted nor mapped: maps of counts were most
	// of the feeds' time, and then sorting them about a third. The products
	// met are kept at the front of bought: the n-th new one is seen at the
	// n-th entry or later.
	seen := 0
	for _, p := range bought {
		if counts[p] == 0 {
			bought[seen] = p
			seen++
		}
		counts[p]++
	}
	items := make([]FeedItem, seen)
	for k, p := range bought[:seen] {
		items[k] = FeedItem{Product: int32(p), Buyers: int(counts[p])}
		counts[p] = 0
	}
	return items
}

// RankCounts ranks a segment's products from their counts (items: each
// product once, with the members who bought it, in any order) as RankFeed
// does: by lift against the whole base, among products at least MinSupport
// members bought; ties go to more buyers, then the lower product number.
func RankCounts(items []FeedItem, members int, baseCount []int, buyers int, o FeedOptions) []FeedItem {
	if o.SegmentSize < 1 {
		return items[:0]
	}
	// The best SegmentSize kept in rank order as they come: a feed is a few
	// dozen of a segment's hundreds of products, and sorting them all was
	// most of the ranking (0.43 of the 0.66 s the four publish pods of a
	// million customers ranked).
	top := make([]FeedItem, 0, min(len(items), o.SegmentSize))
	for _, it := range items {
		if it.Buyers < o.MinSupport {
			continue
		}
		it.Lift = (float64(it.Buyers) / float64(members)) / (float64(baseCount[it.Product]) / float64(buyers))
		full := len(top) == o.SegmentSize
		if full && rankOrder(it, top[len(top)-1]) > 0 {
			continue
		}
		k, _ := slices.BinarySearchFunc(top, it, rankOrder)
		if !full {
			top = append(top, FeedItem{})
		}
		copy(top[k+1:], top[k:len(top)-1])
		top[k] = it
	}
	return top
}

// rankOrder orders a feed's products: by lift, then buyers, descending,
// then the lower product number (each product is once in a feed).
func rankOrder(x, y FeedItem) int {
	return cmp.Or(cmp.Compare(y.Lift, x.Lift), y.Buyers-x.Buyers, cmp.Compare(x.Product, y.Product))
}
