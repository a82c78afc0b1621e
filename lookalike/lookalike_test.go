package lookalike

import (
	"math/rand/v2"
	"testing"
)

// TestRank: rows drawn like the seed rank above the rest by either method,
// the seed itself is left out, and a seed of nobody or everybody is refused.
func TestRank(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 4))
	var x [][]float64
	var seed []bool
	alike := map[int]bool{}
	for i := range 2000 {
		like := i%20 == 0 // 5%: half of them the seed, half hidden among the rest
		mu := 0.0
		if like {
			mu = 2
		}
		x = append(x, []float64{mu + r.NormFloat64(), mu + r.NormFloat64(), r.NormFloat64()})
		seed = append(seed, like && i%40 == 0)
		if like && i%40 != 0 {
			alike[i] = true
		}
	}
	for _, method := range []string{Logistic, Centroid} {
		ranked, err := Rank([]string{"a", "b", "noise"}, x, seed, method)
		if err != nil {
			t.Fatal(err)
		}
		if len(ranked) != 2000-50 {
			t.Fatalf("%s ranked %d rows, want the 1950 outside the seed", method, len(ranked))
		}
		found := 0
		for _, s := range ranked[:50] {
			if seed[s.Index] {
				t.Fatalf("%s ranked a seed row", method)
			}
			if alike[s.Index] {
				found++
			}
		}
		t.Logf("%s: %d of the 50 hidden look-alikes in the top 50", method, found)
		// By chance the top 50 would hold 1.3 of them.
		if found < 10 {
			t.Errorf("%s: %d of the 50 hidden look-alikes in the top 50, want at least 10", method, found)
		}
	}
	if _, err := Rank([]string{"a"}, [][]float64{{1}, {2}}, []bool{false, false}, Logistic); err == nil {
		t.Error("an empty seed was accepted")
	}
	if _, err := Rank([]string{"a"}, [][]float64{{1}, {2}}, []bool{true, false}, "knn"); err == nil {
		t.Error("an unknown method was accepted")
	}
}
