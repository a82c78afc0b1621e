package segment

import "testing"

func TestDefaultOffers(t *testing.T) {
	if err := DefaultOffers.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   OfferInput
		want string
	}{
		{"a VIP at full price", OfferInput{Stage: Active, Tier: VIP, DiscountShare: 0.1, PriceLevel: 1.3}, "none"},
		{"a VIP who waits for discounts", OfferInput{Stage: Active, Tier: VIP, DiscountShare: 0.6, DiscountDepth: 0.2}, "15%"},
		{"mostly deep discounts", OfferInput{Stage: Active, DiscountShare: 0.7, DiscountDepth: 0.2, PriceLevel: 1}, "15%"},
		{"mostly shallow discounts", OfferInput{Stage: AtRisk, DiscountShare: 0.55, DiscountDepth: 0.05, PriceLevel: 1}, "10%"},
		{"now and then", OfferInput{Stage: Active, DiscountShare: 0.3, PriceLevel: 1}, "5%"},
		{"a bargain hunter", OfferInput{Stage: Active, DiscountShare: 0.12, PriceLevel: 0.7}, "5%"},
		{"never bought", OfferInput{Stage: NonBuyer}, "5%"},
		{"full price", OfferInput{Stage: Active, DiscountShare: 0.05, PriceLevel: 1.1}, "none"},
		{"a high-value bargain hunter", OfferInput{Stage: Active, ValueTier: "high value", DiscountShare: 0.12, PriceLevel: 0.7}, "none"},
		{"a low-value bargain hunter", OfferInput{Stage: Active, ValueTier: "low value", DiscountShare: 0.12, PriceLevel: 0.7}, "5%"},
	} {
		if _, _, got := DefaultOffers.Offer(tc.in); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestOfferValidate(t *testing.T) {
	for _, o := range []OfferOptions{
		{Ladder: []float64{0.1, 0.05}, Rules: []OfferRule{{}}},
		{Ladder: []float64{0.05}, Rules: []OfferRule{{Level: 2}}},
		{Ladder: []float64{0.05}, Rules: []OfferRule{{MinDiscountShare: ptr(0.5), Level: 1}}},
		{Ladder: []float64{0.05}, Rules: []OfferRule{{VIPTier: []string{"gold"}}, {}}},
		{Ladder: []float64{0.05}, Rules: []OfferRule{{ValueTier: []string{"premium"}}, {}}},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v validated", o)
		}
	}
}
