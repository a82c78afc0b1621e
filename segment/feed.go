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

// Baskets are the distinct products each customer bought: customer i's are
// Products[Start[i]:Start[i+1]], sorted, numbered 0 to NumProducts−1.
type Baskets struct {
	Start       []int32
	Products    []int32
	NumProducts int
}

func (b Baskets) of(i int) []int32 { return b.Products[b.Start[i]:b.Start[i+1]] }

// FeedItem is a product of a segment's feed.
type FeedItem struct {
	Product int32
	Buyers  int     // members who bought it
	Lift    float64 // share of members who bought it / share of all buyers who did
}

// SegmentFeed ranks the products the segment's members bought by lift against
// the whole base (members who bought / members, over buyers who bought /
// buyers), among products at least MinSupport members bought; ties go to
// more buyers, then the lower product number.
func SegmentFeed(b Baskets, members []int, baseCount []int, buyers int, o FeedOptions) []FeedItem {
	count := map[int32]int{}
	for _, i := range members {
		for _, p := range b.of(i) {
			count[p]++
		}
	}
	return RankFeed(count, len(members), baseCount, buyers, o)
}

// RankFeed is SegmentFeed from the counts of the segment's members who bought
// each product.
func RankFeed(count map[int32]int, members int, baseCount []int, buyers int, o FeedOptions) []FeedItem {
	var items []FeedItem
	for p, n := range count {
		if n >= o.MinSupport {
			lift := (float64(n) / float64(members)) / (float64(baseCount[p]) / float64(buyers))
			items = append(items, FeedItem{Product: p, Buyers: n, Lift: lift})
		}
	}
	slices.SortFunc(items, func(x, y FeedItem) int {
		return cmp.Or(cmp.Compare(y.Lift, x.Lift), y.Buyers-x.Buyers, cmp.Compare(x.Product, y.Product))
	})
	return items[:min(len(items), o.SegmentSize)]
}

// BaseCounts are the buyers of each product, and the number of customers who
// bought anything.
func BaseCounts(b Baskets) ([]int, int) {
	counts := make([]int, b.NumProducts)
	buyers := 0
	for i := 0; i+1 < len(b.Start); i++ {
		ps := b.of(i)
		if len(ps) > 0 {
			buyers++
		}
		for _, p := range ps {
			counts[p]++
		}
	}
	return counts, buyers
}

// BestSellers are the products with the most buyers, ties to the lower number.
func BestSellers(counts []int, k int) []int32 {
	idx := make([]int32, len(counts))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return counts[b] - counts[a] })
	return idx[:min(k, len(idx))]
}

// CustomerFeed is the first k products of feed the customer has not bought.
func CustomerFeed(b Baskets, i int, feed []int32, k int) []int32 {
	bought := b.of(i)
	var out []int32
	for _, p := range feed {
		if _, found := slices.BinarySearch(bought, p); !found {
			out = append(out, p)
			if len(out) == k {
				break
			}
		}
	}
	return out
}
