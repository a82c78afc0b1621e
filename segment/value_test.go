package segment

import (
	"math"
	"testing"
)

// TestValueTiers: value tiers by rank with ties; a value of 0 is never high
// or mid value; where no buyer has a value there is no value dimension; a
// customer who never bought has no value tier, and gets the first-order
// incentive of the default offers.
func TestValueTiers(t *testing.T) {
	buyer := func(clv, rev float64) Profile { return Profile{Orders: 1, CLV: clv, Revenue12m: rev} }
	nan := math.NaN()
	repeat := func(p Profile, n int) []Profile {
		out := make([]Profile, n)
		for i := range out {
			out[i] = p
		}
		return out
	}
	for _, c := range []struct {
		name   string
		buyers []Profile
		who    Profile
		want   string
	}{
		{"top of a CLV spread", []Profile{buyer(1, 0), buyer(2, 0), buyer(3, 0), buyer(4, 0), buyer(5, 0)}, buyer(5, 0), "high value"},
		{"bottom of a CLV spread", []Profile{buyer(1, 0), buyer(2, 0), buyer(3, 0), buyer(4, 0), buyer(5, 0)}, buyer(1, 0), "low value"},
		// 91% of buyers at 0 revenue, the model gated (no CLV): the 80th
		// percentile is 0, and 0 is still low value.
		{"zero revenue, most buyers at zero", append(repeat(buyer(nan, 0), 91), repeat(buyer(nan, 50), 9)...), buyer(nan, 0), "low value"},
		{"the few with revenue", append(repeat(buyer(nan, 0), 91), repeat(buyer(nan, 50), 9)...), buyer(nan, 50), "high value"},
		// Ties share a band: 30 equal values at the cut are all high.
		{"ties at the cut", append(repeat(buyer(nan, 10), 70), repeat(buyer(nan, 20), 30)...), buyer(nan, 20), "high value"},
		{"no buyer has revenue", repeat(buyer(nan, 0), 50), buyer(nan, 0), NoValue},
		{"never bought", []Profile{buyer(1, 0), buyer(2, 0)}, Profile{CLV: nan}, NoValue},
		{"never bought, a CLV of 0", []Profile{buyer(1, 0), buyer(2, 0)}, Profile{CLV: 0}, NoValue},
	} {
		cuts := NewValueCuts(c.buyers)
		if got := cuts.Tier(c.who, ""); got != c.want {
			t.Errorf("%s: %q, want %q (cuts %+v)", c.name, got, c.want, cuts)
		}
	}
	cuts := NewValueCuts([]Profile{buyer(1, 0), buyer(2, 0)})
	nonBuyer := Profile{CLV: 0}
	_, discount, label := DefaultOffers.Offer(OfferInput{Stage: NonBuyer, ValueTier: cuts.Tier(nonBuyer, "")})
	if discount != 0.05 {
		t.Errorf("a customer who never bought is offered %s (%v), want the first-order 5%%", label, discount)
	}
}
