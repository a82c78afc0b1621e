package transform

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/array"
)

// basketFacts are a customer's features from order lines and the catalogue.
type basketFacts struct {
	products, categories, firstWeekCats        int32
	priceLevel                                 float64
	topCat, secondCat, topBrand                string
	topCatShare, secondCatShare, topBrandShare float64
}

type lineFact struct {
	cust, product, cat, brand int32
	unit, spend               float64
	firstWeek                 bool
}

// orderRef is an order that counts: its customer and day.
type orderRef struct{ cust, day int32 }

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

// basket computes the line-based features of the customers; orderCust maps
// each order that counts (placed before as_of, not cancelled) to its customer
// and day, firstDay is each customer's first order day.
func basket(in FeatureInputs, orderCust map[string]orderRef, firstDay []int32) ([]basketFacts, error) {
	out := make([]basketFacts, len(firstDay))
	for i := range out {
		out[i].priceLevel = math.NaN()
	}
	if len(in.Lines) == 0 {
		return out, nil
	}
	var cats, brands, prods interner
	cats.id("")
	brands.id("")
	type catBrand struct{ cat, brand int32 }
	catalogue := map[string]catBrand{}
	for _, rec := range in.Products {
		id, ok1 := column(rec, "product_id").(*array.String)
		cat, ok2 := column(rec, "category").(*array.String)
		brand, ok3 := column(rec, "brand").(*array.String)
		if !(ok1 && ok2 && ok3) {
			return nil, fmt.Errorf("features: products need product_id, category and brand columns")
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			top, _, _ := strings.Cut(cat.Value(i), "/")
			catalogue[id.Value(i)] = catBrand{cats.id(top), brands.id(brand.Value(i))}
		}
	}
	total := 0
	for _, rec := range in.Lines {
		total += int(rec.NumRows())
	}
	lines := make([]lineFact, 0, total)
	for _, rec := range in.Lines {
		order, ok1 := column(rec, "order_id").(*array.String)
		prod, ok2 := column(rec, "product_id").(*array.String)
		qty, ok3 := column(rec, "quantity").(*array.Int32)
		unit, ok4 := column(rec, "unit_price").(*array.Float64)
		disc, _ := column(rec, "discount").(*array.Float64)
		if !(ok1 && ok2 && ok3 && ok4) {
			return nil, fmt.Errorf("features: order lines need order_id, product_id, quantity and unit_price columns")
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			ref, ok := orderCust[order.Value(i)]
			if !ok {
				continue
			}
			c := ref.cust
			cb := catalogue[prod.Value(i)] // unknown products: category and brand ""
			spend := float64(qty.Value(i))*unit.Value(i) - value(disc, i)
			lines = append(lines, lineFact{cust: c, product: prods.id(prod.Value(i)), cat: cb.cat, brand: cb.brand, unit: unit.Value(i), spend: spend,
				firstWeek: ref.day <= firstDay[c]+6})
		}
	}
	// The typical price of a category: the middle unit price of its lines (the
	// upper one of the two for an even count, as ClickHouse's quantileExact).
	perCat := make([]int, len(cats.names))
	for _, l := range lines {
		perCat[l.cat]++
	}
	byCat := make([][]float64, len(cats.names))
	for c, k := range perCat {
		byCat[c] = make([]float64, 0, k)
	}
	for _, l := range lines {
		byCat[l.cat] = append(byCat[l.cat], l.unit)
	}
	median := make([]float64, len(cats.names))
	for c, ps := range byCat {
		if len(ps) > 0 {
			slices.Sort(ps)
			median[c] = ps[len(ps)/2]
		}
	}
	slices.SortStableFunc(lines, func(a, b lineFact) int { return cmp.Compare(a.cust, b.cust) })
	for i := 0; i < len(lines); {
		c := lines[i].cust
		j := i
		for j < len(lines) && lines[j].cust == c {
			j++
		}
		out[c] = summariseBasket(lines[i:j], median, cats.names, brands.names)
		i = j
	}
	return out, nil
}

func summariseBasket(ls []lineFact, median []float64, cats, brands []string) basketFacts {
	var f basketFacts
	prods := map[int32]bool{}
	firstWeekCats := map[int32]bool{}
	catSpend, brandSpend := map[int32]float64{}, map[int32]float64{}
	total, levelSum, levelN := 0.0, 0.0, 0
	for _, l := range ls {
		prods[l.product] = true
		if l.firstWeek && cats[l.cat] != "" {
			firstWeekCats[l.cat] = true
		}
		catSpend[l.cat] += l.spend
		brandSpend[l.brand] += l.spend
		total += l.spend
		if m := median[l.cat]; m > 0 {
			levelSum += l.unit / m
			levelN++
		}
	}
	f.products = int32(len(prods))
	f.firstWeekCats = int32(len(firstWeekCats))
	for c := range catSpend {
		if cats[c] != "" {
			f.categories++
		}
	}
	if levelN > 0 {
		f.priceLevel = levelSum / float64(levelN)
	}
	ranked := func(spend map[int32]float64, names []string) []int32 {
		var ks []int32
		for k := range spend {
			if names[k] != "" {
				ks = append(ks, k)
			}
		}
		slices.SortFunc(ks, func(a, b int32) int {
			if c := cmp.Compare(spend[b], spend[a]); c != 0 {
				return c
			}
			return strings.Compare(names[a], names[b])
		})
		return ks
	}
	share := func(x float64) float64 {
		if total <= 0 {
			return 0
		}
		return x / total
	}
	if rc := ranked(catSpend, cats); len(rc) > 0 {
		f.topCat, f.topCatShare = cats[rc[0]], share(catSpend[rc[0]])
		if len(rc) > 1 {
			f.secondCat, f.secondCatShare = cats[rc[1]], share(catSpend[rc[1]])
		}
	}
	if rb := ranked(brandSpend, brands); len(rb) > 0 {
		f.topBrand, f.topBrandShare = brands[rb[0]], share(brandSpend[rb[0]])
	}
	return f
}
