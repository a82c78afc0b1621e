package segment

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// OfferOptions are the personal offer's ladder and the rules that pick a
// step of it for a customer.
type OfferOptions struct {
	// Ladder: the discount levels, as fractions, ascending (0.05, 0.10,
	// 0.15). A rule's level k is the k-th of them; level 0 is no offer.
	Ladder []float64 `yaml:"ladder"`
	// Rules: the first whose conditions all hold decides; the last has none.
	Rules []OfferRule `yaml:"rules"`
}

// OfferRule is one row of the offer table. Bounds are inclusive below and
// exclusive above; an empty list or a missing bound holds for everyone.
type OfferRule struct {
	// Lifecycle and VIPTier: the stages and tiers the rule holds for (empty:
	// any).
	Lifecycle []string `yaml:"lifecycle"`
	VIPTier   []string `yaml:"vip_tier"`
	ValueTier []string `yaml:"value_tier"` // vip, high value, mid value, low value (ValueTiers)
	// Bounds on the share of orders with a discount (MinDiscountShare,
	// MaxDiscountShare).
	MinDiscountShare *float64 `yaml:"min_discount_share"`
	MaxDiscountShare *float64 `yaml:"max_discount_share"`
	MinDiscountDepth *float64 `yaml:"min_discount_depth"` // mean discount of the discounted orders, as a fraction
	MaxPriceLevel    *float64 `yaml:"max_price_level"`    // prices paid against the category's (1: its mean)
	MinClickRate     *float64 `yaml:"min_click_rate"`     // e-mail clicks per e-mail delivered
	// Level: the step of the ladder offered (0: none).
	Level int `yaml:"level"`
}

// OfferInput is what the offer rules look at.
type OfferInput struct {
	Stage, Tier, ValueTier                              string
	DiscountShare, DiscountDepth, PriceLevel, ClickRate float64
}

// DefaultOffers: no offer to full-price VIPs and high-value buyers (a
// discount would teach them to wait for one); the deepest step to those who buy mostly with deep
// discounts; the middle to those who buy mostly with any; the first to
// occasional discount buyers, to bargain hunters who pay below their
// category's prices and to customers who never bought (a first-order
// incentive); none to everyone else.
var DefaultOffers = OfferOptions{
	Ladder: []float64{0.05, 0.10, 0.15},
	Rules: []OfferRule{
		{VIPTier: []string{VIP, VIPAtRisk, PotentialVIP}, MaxDiscountShare: ptr(0.25), Level: 0},
		{ValueTier: []string{"high value"}, MaxDiscountShare: ptr(0.25), Level: 0},
		{MinDiscountShare: ptr(0.5), MinDiscountDepth: ptr(0.15), Level: 3},
		{MinDiscountShare: ptr(0.5), Level: 2},
		{MinDiscountShare: ptr(0.25), Level: 1},
		{MinDiscountShare: ptr(0.1), MaxPriceLevel: ptr(0.85), Level: 1},
		{Lifecycle: []string{NonBuyer}, Level: 1},
		{Level: 0},
	},
}

func (r OfferRule) matches(in OfferInput) bool {
	ge := func(v float64, lo *float64) bool { return lo == nil || v >= *lo }
	lt := func(v float64, hi *float64) bool { return hi == nil || v < *hi }
	return (len(r.Lifecycle) == 0 || slices.Contains(r.Lifecycle, in.Stage)) &&
		(len(r.VIPTier) == 0 || slices.Contains(r.VIPTier, in.Tier)) &&
		(len(r.ValueTier) == 0 || slices.Contains(r.ValueTier, in.ValueTier)) &&
		ge(in.DiscountShare, r.MinDiscountShare) && lt(in.DiscountShare, r.MaxDiscountShare) &&
		ge(in.DiscountDepth, r.MinDiscountDepth) && lt(in.PriceLevel, r.MaxPriceLevel) && ge(in.ClickRate, r.MinClickRate)
}

// Offer is a customer's recommended discount: its level on the ladder (0:
// none), the discount as a fraction, and its label ("none", "10%").
func (o OfferOptions) Offer(in OfferInput) (level int, discount float64, label string) {
	for _, r := range o.Rules {
		if r.matches(in) {
			level = r.Level
			break
		}
	}
	if level == 0 {
		return 0, 0, "none"
	}
	discount = o.Ladder[level-1]
	return level, discount, strconv.FormatFloat(discount*100, 'f', -1, 64) + "%"
}

// Validate says what is wrong with the offer table.
func (o OfferOptions) Validate() error {
	if len(o.Ladder) == 0 {
		return errors.New("offers.ladder: at least one discount level")
	}
	for i, d := range o.Ladder {
		if !(d > 0 && d < 1) || (i > 0 && d <= o.Ladder[i-1]) {
			return fmt.Errorf("offers.ladder: discounts between 0 and 1, ascending; got %v", o.Ladder)
		}
	}
	if len(o.Rules) == 0 {
		return errors.New("offers.rules: at least one rule")
	}
	for i, r := range o.Rules {
		if r.Level < 0 || r.Level > len(o.Ladder) {
			return fmt.Errorf("offers.rules[%d]: level %d is not 0 (none) to %d (the ladder's steps)", i, r.Level, len(o.Ladder))
		}
		for _, s := range r.Lifecycle {
			if !slices.Contains([]string{NonBuyer, New, Active, AtRisk, Lost, Reactivated}, s) {
				return fmt.Errorf("offers.rules[%d]: unknown lifecycle stage %q", i, s)
			}
		}
		for _, t := range r.VIPTier {
			if _, ok := VIPHandling[t]; !ok {
				return fmt.Errorf("offers.rules[%d]: unknown VIP tier %q", i, t)
			}
		}
		for _, t := range r.ValueTier {
			if !slices.Contains([]string{"vip", "high value", "mid value", "low value"}, t) {
				return fmt.Errorf("offers.rules[%d]: unknown value tier %q (vip, high value, mid value, low value)", i, t)
			}
		}
	}
	last := o.Rules[len(o.Rules)-1]
	if len(last.Lifecycle)+len(last.VIPTier)+len(last.ValueTier) > 0 || last.MinDiscountShare != nil || last.MaxDiscountShare != nil ||
		last.MinDiscountDepth != nil || last.MaxPriceLevel != nil || last.MinClickRate != nil {
		return errors.New("offers.rules: the last rule must have no conditions, so that every customer gets an offer or none")
	}
	return nil
}
