package transform

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// basketFacts are a customer's features from order lines and the catalogue.
// BasketSep joins a customer's products in the basket feature: a control
// character, not a separator a product id of an export has.
const BasketSep = "\x1f"

type basketFacts struct {
	products, categories, firstWeekCats        int32
	basket                                     string // product ids, sorted, joined by BasketSep
	priceLevel                                 float64
	topCat, secondCat, topBrand                string
	topCatShare, secondCatShare, topBrandShare float64
}

type lineFact struct {
	cust, product, cat, brand int32
	unit, spend               float64
	firstWeek                 bool
}

// orderRef is an order's customer and day.
type orderRef struct{ cust, day int32 }

// orderEntry is an order as read, in input order; it counts when placed
// before as_of and not cancelled.
type orderEntry struct {
	id     string
	ref    orderRef
	counts bool
}

// orderFinder finds the orders of order lines. Lines usually come in the
// orders' own order (both sorted by order_id in the warehouse, or written
// order by order), so it tries the order after the last one found first and
// builds a map only when that fails.
type orderFinder struct {
	seq  []orderEntry
	at   int // the last found; -1 before the first
	byID map[string]int32
}

func (f *orderFinder) find(id string) orderEntry {
	if n := f.at + 1; n < len(f.seq) && f.seq[n].id == id {
		f.at = n
		return f.seq[n]
	}
	if f.byID == nil {
		f.byID = make(map[string]int32, len(f.seq))
		for i, e := range f.seq {
			f.byID[e.id] = int32(i)
		}
	}
	i, ok := f.byID[id]
	if !ok {
		return orderEntry{} // an unknown order: its lines do not count
	}
	f.at = int(i)
	return f.seq[i]
}

// interner numbers distinct strings.
type interner struct {
	ids   map[string]int32
	names []string
}

func (in *interner) id(s string) int32 {
	if in.ids == nil {
		in.ids = map[string]int32{}
	}
	if k, ok := in.ids[s]; ok {
		return k
	}
	k := int32(len(in.names))
	in.ids[s] = k
	in.names = append(in.names, s)
	return k
}

// product is a catalogue entry: its number and the numbers of its top-level
// category and brand ("" is 0 for both).
type product struct{ id, cat, brand int32 }

// basket computes the line-based features of the customers; orders finds the
// order of a line, firstDay is each customer's first order day.
func basket(in FeatureInputs, orders *orderFinder, firstDay []int32) ([]basketFacts, error) {
	out := make([]basketFacts, len(firstDay))
	for i := range out {
		out[i].priceLevel = math.NaN()
	}
	if in.Lines == nil {
		return out, nil
	}
	cat, err := readCatalogue(in.Products)
	if err != nil {
		return nil, err
	}
	ls, err := readLines(in.Lines, orders, firstDay, cat)
	if err != nil {
		return nil, err
	}
	var median []float64
	if in.CategoryMedians == nil {
		median = categoryMedians(ls.lines, len(cat.cats.names))
	} else {
		all, err := in.CategoryMedians(priceCounts(ls.lines, cat.cats.names))
		if err != nil {
			return nil, err
		}
		median = make([]float64, len(cat.cats.names))
		for c, name := range cat.cats.names {
			median[c] = all[name]
		}
	}
	s := newBasketScratch(len(cat.products), len(cat.cats.names), len(cat.brands.names))
	s.productIDs = make([]string, len(cat.products)) // by number, unknown products too
	var unjoinable []bool                            // by number: the id holds BasketSep
	for id, p := range cat.products {
		s.productIDs[p.id] = id
		if strings.Contains(id, BasketSep) {
			if unjoinable == nil {
				unjoinable = make([]bool, len(cat.products))
			}
			unjoinable[p.id] = true
		}
	}
	for k := 0; unjoinable != nil && k < len(ls.lines); k++ { // only when an id holds it: not a pass over every line
		if l := ls.lines[k]; unjoinable[l.product] {
			return nil, fmt.Errorf("features: product id %q holds the control character 0x1F that joins a basket's products", s.productIDs[l.product])
		}
	}
	if ls.together {
		lines := ls.lines
		for i := 0; i < len(lines); {
			j := i + 1
			for j < len(lines) && lines[j].cust == lines[i].cust {
				j++
			}
			out[lines[i].cust] = s.summarise(lines[i:j], median, cat.cats.names, cat.brands.names)
			i = j
		}
		return out, nil
	}
	// Lines grouped by customer, in input order within a customer, by a
	// counting sort: linear where a comparison sort of ten million lines is not.
	perCust := ls.perCust
	for c := 1; c < len(perCust); c++ {
		perCust[c] += perCust[c-1]
	}
	grouped := make([]lineFact, len(ls.lines))
	next := make([]int32, len(firstDay))
	copy(next, perCust)
	for _, l := range ls.lines {
		grouped[next[l.cust]] = l
		next[l.cust]++
	}
	ls.lines = nil
	for c := range out {
		if g := grouped[perCust[c]:perCust[c+1]]; len(g) > 0 {
			out[c] = s.summarise(g, median, cat.cats.names, cat.brands.names)
		}
	}
	return out, nil
}

// catalogue numbers the products, their top-level categories and brands.
type catalogue struct {
	products     map[string]product
	cats, brands interner
}

func readCatalogue(products []arrow.Record) (*catalogue, error) {
	c := &catalogue{products: map[string]product{}}
	c.cats.id("")
	c.brands.id("")
	for _, rec := range products {
		id, ok1 := column(rec, "product_id").(*array.String)
		cat, ok2 := column(rec, "category").(*array.String)
		brand, ok3 := column(rec, "brand").(*array.String)
		if !(ok1 && ok2 && ok3) {
			return nil, fmt.Errorf("features: products need product_id, category and brand columns")
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			top, _, _ := strings.Cut(cat.Value(i), "/")
			p, seen := c.products[id.Value(i)]
			if !seen {
				p.id = int32(len(c.products))
			}
			p.cat, p.brand = c.cats.id(top), c.brands.id(brand.Value(i))
			c.products[id.Value(i)] = p
		}
	}
	return c, nil
}

// lineFacts are the lines of the orders that count, with how many each
// customer has (perCust[c+1]) and whether each customer's lines came together.
type lineFacts struct {
	lines    []lineFact
	perCust  []int32
	together bool
}

// readLines keeps the facts of the lines of orders that count; a product
// missing from the catalogue gets a number, category and brand "".
func readLines(batches Batches, orders *orderFinder, firstDay []int32, cat *catalogue) (lineFacts, error) {
	// Lines stream past, their number unknown: room for four an order (the
	// generated shop has 3.25) spares copying a slice of hundreds of megabytes
	// as it grows; room left unused is never touched, so never resident.
	ls := lineFacts{lines: make([]lineFact, 0, 4*len(orders.seq)), perCust: make([]int32, len(firstDay)+1), together: true}
	var lastOrder string
	var order orderEntry
	known := false
	// Whether each customer's lines are already together, as when orders come
	// by customer: then they need no grouping.
	prev := int32(-1)
	err := batches.each(func(rec arrow.Record) error {
		known = false // lastOrder was a view of the previous batch
		ids, ok1 := column(rec, "order_id").(*array.String)
		prod, ok2 := column(rec, "product_id").(*array.String)
		qty, ok3 := column(rec, "quantity").(*array.Int32)
		unit, ok4 := column(rec, "unit_price").(*array.Float64)
		disc, _ := column(rec, "discount").(*array.Float64)
		if !(ok1 && ok2 && ok3 && ok4) {
			return fmt.Errorf("features: order lines need order_id, product_id, quantity and unit_price columns")
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			// An order's lines are usually consecutive: one lookup per order.
			if o := ids.Value(i); !known || o != lastOrder {
				order = orders.find(o)
				lastOrder, known = o, true
			}
			if !order.counts {
				continue
			}
			c := order.ref.cust
			if c != prev {
				ls.together = ls.together && ls.perCust[c+1] == 0
				prev = c
			}
			p, ok := cat.products[prod.Value(i)]
			if !ok { // unknown products: category and brand ""
				p.id = int32(len(cat.products))
				cat.products[strings.Clone(prod.Value(i))] = p
			}
			spend := float64(qty.Value(i))*unit.Value(i) - value(disc, i)
			ls.lines = append(ls.lines, lineFact{cust: c, product: p.id, cat: p.cat, brand: p.brand, unit: unit.Value(i), spend: spend,
				firstWeek: order.ref.day <= firstDay[c]+6})
			ls.perCust[c+1]++
		}
		return nil
	})
	return ls, err
}

// priceCounts counts the lines by category name and unit price.
func priceCounts(lines []lineFact, cats []string) PriceCounts {
	out := PriceCounts{}
	for _, l := range lines {
		byPrice := out[cats[l.cat]]
		if byPrice == nil {
			byPrice = map[float64]int64{}
			out[cats[l.cat]] = byPrice
		}
		byPrice[l.unit]++
	}
	return out
}

// categoryMedians is the typical price of each category: the middle unit
// price of its lines (the upper one of the two for an even count, as
// ClickHouse's quantileExact).
func categoryMedians(lines []lineFact, cats int) []float64 {
	perCat := make([]int, cats)
	for _, l := range lines {
		perCat[l.cat]++
	}
	byCat := make([][]float64, cats)
	for c, k := range perCat {
		byCat[c] = make([]float64, 0, k)
	}
	for _, l := range lines {
		byCat[l.cat] = append(byCat[l.cat], l.unit)
	}
	median := make([]float64, cats)
	for c, ps := range byCat {
		if len(ps) > 0 {
			median[c] = nthSmallest(ps, len(ps)/2)
		}
	}
	return median
}

// nthSmallest is the k-th smallest of xs (0-based), which it reorders: a
// quickselect, linear on average where sorting is n log n.
func nthSmallest(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		// median of three as the pivot; then Hoare's partition
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// basketScratch holds per-customer tallies indexed by product, category and
// brand number, reset between customers through the lists of what was touched:
// no map per customer.
type basketScratch struct {
	seenProduct  []int32 // stamp of the last customer that bought it
	catSpend     []float64
	catFirstWeek []bool
	brandSpend   []float64
	cats, brands []int32 // touched
	stamp        int32
	productIDs   []string // by number
	basket       []string // the customer's product ids
}

func newBasketScratch(products, cats, brands int) *basketScratch {
	return &basketScratch{seenProduct: make([]int32, products), catSpend: make([]float64, cats),
		catFirstWeek: make([]bool, cats), brandSpend: make([]float64, brands)}
}

func (s *basketScratch) summarise(ls []lineFact, median []float64, cats, brands []string) basketFacts {
	var f basketFacts
	s.stamp++
	// Summed in an order of their values, not of their reading: a warehouse
	// (a cluster's shards) may hand a customer's lines in any order, and a
	// float sum depends on it.
	ratio := func(l lineFact) float64 {
		if m := median[l.cat]; m > 0 {
			return l.unit / m
		}
		return 0
	}
	slices.SortFunc(ls, func(a, b lineFact) int {
		// Not cmp.Or: its arguments, the ratios' divisions too, are all
		// computed for every comparison.
		if c := cmp.Compare(a.spend, b.spend); c != 0 {
			return c
		}
		if c := cmp.Compare(ratio(a), ratio(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.unit, b.unit)
	})
	total, levelSum, levelN := 0.0, 0.0, 0
	s.basket = s.basket[:0]
	for _, l := range ls {
		if s.seenProduct[l.product] != s.stamp {
			s.seenProduct[l.product] = s.stamp
			f.products++
			s.basket = append(s.basket, s.productIDs[l.product])
		}
		if s.catSpend[l.cat] == 0 && !slices.Contains(s.cats, l.cat) {
			s.cats = append(s.cats, l.cat)
		}
		if l.firstWeek && cats[l.cat] != "" && !s.catFirstWeek[l.cat] {
			s.catFirstWeek[l.cat] = true
			f.firstWeekCats++
		}
		s.catSpend[l.cat] += l.spend
		if s.brandSpend[l.brand] == 0 && !slices.Contains(s.brands, l.brand) {
			s.brands = append(s.brands, l.brand)
		}
		s.brandSpend[l.brand] += l.spend
		total += l.spend
		if m := median[l.cat]; m > 0 {
			levelSum += l.unit / m
			levelN++
		}
	}
	for _, c := range s.cats {
		if cats[c] != "" {
			f.categories++
		}
	}
	if levelN > 0 {
		f.priceLevel = levelSum / float64(levelN)
	}
	slices.Sort(s.basket)
	f.basket = strings.Join(s.basket, BasketSep)
	share := func(x float64) float64 {
		if total <= 0 {
			return 0
		}
		return x / total
	}
	// top and second by spend, the first by name on ties
	better := func(spend []float64, names []string, a, b int32) bool {
		if spend[a] != spend[b] {
			return spend[a] > spend[b]
		}
		return names[a] < names[b]
	}
	top, second := int32(-1), int32(-1)
	for _, c := range s.cats {
		if cats[c] == "" {
			continue
		}
		switch {
		case top < 0 || better(s.catSpend, cats, c, top):
			top, second = c, top
		case second < 0 || better(s.catSpend, cats, c, second):
			second = c
		}
	}
	if top >= 0 {
		f.topCat, f.topCatShare = cats[top], share(s.catSpend[top])
		if second >= 0 {
			f.secondCat, f.secondCatShare = cats[second], share(s.catSpend[second])
		}
	}
	topBrand := int32(-1)
	for _, b := range s.brands {
		if brands[b] != "" && (topBrand < 0 || better(s.brandSpend, brands, b, topBrand)) {
			topBrand = b
		}
	}
	if topBrand >= 0 {
		f.topBrand, f.topBrandShare = brands[topBrand], share(s.brandSpend[topBrand])
	}
	for _, c := range s.cats {
		s.catSpend[c], s.catFirstWeek[c] = 0, false
	}
	for _, b := range s.brands {
		s.brandSpend[b] = 0
	}
	s.cats, s.brands = s.cats[:0], s.brands[:0]
	return f
}
