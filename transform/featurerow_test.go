package transform

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortFacts: whether the warehouse hands each customer's orders together
// (customers numbered as they first appear) or mixed, the facts come out in
// the order one comparison sort of them all gives.
func TestSortFacts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fact := func(cust int32) orderFacts {
		return orderFacts{cust: cust, day: rng.Int32N(5), ts: rng.Int64N(3), net: float64(rng.IntN(4)), gross: float64(rng.IntN(2)),
			discount: float64(rng.IntN(2)), items: rng.Int32N(2), rating: rng.Int32N(2)}
	}
	var together []orderFacts
	for c := range int32(300) {
		for range rng.IntN(6) + 1 {
			together = append(together, fact(c))
		}
	}
	mixed := slices.Clone(together)
	rng.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
	for _, tc := range []struct {
		name  string
		facts []orderFacts
	}{{"each customer's orders together", together}, {"mixed", mixed}, {"one", together[:1]}, {"none", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := slices.Clone(tc.facts), slices.Clone(tc.facts)
			slices.SortFunc(want, func(a, b orderFacts) int {
				return cmp.Or(cmp.Compare(a.cust, b.cust), cmp.Compare(a.day, b.day), cmp.Compare(a.ts, b.ts), cmp.Compare(a.net, b.net),
					cmp.Compare(a.gross, b.gross), cmp.Compare(a.discount, b.discount), cmp.Compare(a.items, b.items), cmp.Compare(a.rating, b.rating))
			})
			sortFacts(got)
			if !slices.Equal(got, want) {
				t.Errorf("sortFacts gave another order than one sort of every fact")
			}
		})
	}
}
