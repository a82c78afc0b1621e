// Package segment turns customer profiles into the labels marketing acts on:
// RFM scores and grid, lifecycle stages, VIP tiers, the early potential-VIP
// classifier, strategies, micro-segments and their product feeds. Like model,
// it is pure computation on slices and knows no warehouse.
package segment

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Profile is what segmentation knows of one customer as of a date: features
// and LTV predictions. A customer without orders is not a buyer.
type Profile struct {
	ID                             string
	Orders                         int     // orders placed before the date, not cancelled
	DaysSinceFirst, DaysSinceLast  float64 // days from the first and the last order to the date
	LastGapDays                    float64 // days between the last two order days; 0 with one
	InterorderMean                 float64 // mean days between order days; 0 with one
	Revenue, Revenue12m            float64 // all history, and the 365 days before the date
	AvgCheck, DiscountShare        float64
	PAlive, CLV                    float64
	EarlyVIP                       float64 // early potential-VIP probability; NaN when not scored
	TopCategory, TopBrand, Channel string
}

// Lifecycle stages.
const (
	NonBuyer    = "non_buyer"
	New         = "new"
	Active      = "active"
	AtRisk      = "at_risk"
	Lost        = "lost"
	Reactivated = "reactivated"
)

// LifecycleOptions are the thresholds of the lifecycle stages.
type LifecycleOptions struct {
	// NewDays: a buyer whose first order is at most this many days old is new.
	NewDays float64 `yaml:"new_days"`
	// ReactivatedDays: a buyer who ordered within this many days after a gap of
	// LostDays or more is reactivated.
	ReactivatedDays float64 `yaml:"reactivated_days"`
	// A buyer is lost below LostPAlive or after LostDays without an order; at
	// risk below AtRiskPAlive or after AtRiskDays.
	LostPAlive   float64 `yaml:"lost_p_alive"`
	LostDays     float64 `yaml:"lost_days"`
	AtRiskPAlive float64 `yaml:"at_risk_p_alive"`
	AtRiskDays   float64 `yaml:"at_risk_days"`
}

// DefaultLifecycle are the default thresholds.
var DefaultLifecycle = LifecycleOptions{NewDays: 30, ReactivatedDays: 90, LostPAlive: 0.15, LostDays: 365, AtRiskPAlive: 0.5, AtRiskDays: 180}

// Validate says what is wrong with the thresholds.
func (o LifecycleOptions) Validate() error {
	switch {
	case o.NewDays <= 0 || o.ReactivatedDays <= 0 || o.AtRiskDays <= 0 || o.LostDays <= o.AtRiskDays:
		return errors.New("lifecycle: new_days, reactivated_days and at_risk_days must be positive and lost_days above at_risk_days")
	case o.LostPAlive < 0 || o.AtRiskPAlive > 1 || o.LostPAlive > o.AtRiskPAlive:
		return errors.New("lifecycle: need 0 ≤ lost_p_alive ≤ at_risk_p_alive ≤ 1")
	}
	return nil
}

// Stage is the customer's lifecycle stage; the first rule that holds decides:
// non_buyer (no order), new (first order within new_days), reactivated (an
// order within reactivated_days after a gap of lost_days or more), lost
// (P(alive) below lost_p_alive or no order for lost_days), at_risk (P(alive)
// below at_risk_p_alive or no order for at_risk_days), active.
func (o LifecycleOptions) Stage(p Profile) string {
	switch {
	case p.Orders == 0:
		return NonBuyer
	case p.DaysSinceFirst <= o.NewDays:
		return New
	case p.LastGapDays >= o.LostDays && p.DaysSinceLast <= o.ReactivatedDays:
		return Reactivated
	case p.PAlive < o.LostPAlive || p.DaysSinceLast > o.LostDays:
		return Lost
	case p.PAlive < o.AtRiskPAlive || p.DaysSinceLast > o.AtRiskDays:
		return AtRisk
	}
	return Active
}

// VIP tiers, and "" for none.
const (
	VIP          = "vip"
	PotentialVIP = "potential_vip"
	VIPAtRisk    = "vip_at_risk"
	LostVIP      = "lost_vip"
)

// VIPHandling is what each tier gets in operations and marketing.
var VIPHandling = map[string]string{
	VIP:          "priority order processing; personal manager",
	PotentialVIP: "priority order processing; premium assortment",
	VIPAtRisk:    "personal contact and a retention offer",
	LostVIP:      "reactivation with a personal offer",
	"":           "",
}

// VIPOptions define the tiers.
type VIPOptions struct {
	// RevenueShare: VIPs are the smallest set of top customers by 12-month
	// revenue that brings this share of it (default 0.5).
	RevenueShare float64 `yaml:"revenue_share"`
	// TopShare, if set, replaces RevenueShare: VIPs are this share of buyers,
	// the top by 12-month revenue.
	TopShare float64 `yaml:"top_share"`
	// PotentialProbability: a buyer whose early-VIP probability reaches it, or
	// whose 12-month CLV reaches the VIP revenue threshold, is a potential VIP.
	PotentialProbability float64 `yaml:"potential_probability"`
	// A VIP is at risk when P(alive) falls below AtRiskPAlive or the days since
	// the last order exceed RhythmFactor times the VIP's mean gap between orders.
	AtRiskPAlive float64 `yaml:"at_risk_p_alive"`
	RhythmFactor float64 `yaml:"rhythm_factor"`
}

// DefaultVIP are the default tier rules.
var DefaultVIP = VIPOptions{RevenueShare: 0.5, PotentialProbability: 0.5, AtRiskPAlive: 0.6, RhythmFactor: 2.5}

// Validate says what is wrong with the rules.
func (o VIPOptions) Validate() error {
	if o.RevenueShare <= 0 || o.RevenueShare >= 1 || o.TopShare < 0 || o.TopShare >= 1 || o.PotentialProbability <= 0 ||
		o.PotentialProbability > 1 || o.AtRiskPAlive < 0 || o.AtRiskPAlive > 1 || o.RhythmFactor <= 1 {
		return errors.New("vip: revenue_share in (0, 1), top_share in [0, 1), potential_probability in (0, 1], at_risk_p_alive in [0, 1], rhythm_factor above 1")
	}
	return nil
}

// VIPTiers gives each customer a tier and returns the 12-month revenue that
// makes a VIP. stages are the lifecycle stages of the same customers. VIP: in
// the top set by 12-month revenue; vip_at_risk: such a VIP whose P(alive) or
// rhythm dropped; lost_vip: not a VIP now, lost, with lifetime revenue above
// the threshold; potential_vip: none of those, not lost, with an early-VIP
// probability or 12-month CLV that reaches the bar.
func (o VIPOptions) VIPTiers(ps []Profile, stages []string) ([]string, float64) {
	threshold := o.Threshold(ps)
	tiers := make([]string, len(ps))
	for i, p := range ps {
		tiers[i] = o.Tier(p, stages[i], threshold)
	}
	return tiers, threshold
}

// Threshold is the 12-month revenue that makes a VIP among the customers
// (+Inf when none has any): the revenue of the last of the top set.
func (o VIPOptions) Threshold(ps []Profile) float64 {
	revenue := make([]float64, len(ps))
	for i, p := range ps {
		revenue[i] = p.Revenue12m
	}
	return o.ThresholdOf(revenue)
}

// ThresholdOf is Threshold from every customer's 12-month revenue. It sorts
// (and clobbers) the slice it is given. Only values make the top set: equal
// revenues sum the same in any order.
func (o VIPOptions) ThresholdOf(revenue12m []float64) float64 {
	top := revenue12m[:0]
	total := 0.0
	for _, v := range revenue12m {
		if v > 0 {
			top = append(top, v)
			total += v
		}
	}
	if len(top) == 0 {
		return math.Inf(1)
	}
	slices.SortFunc(top, func(a, b float64) int { return cmp.Compare(b, a) })
	k := 0
	if o.TopShare > 0 {
		k = max(1, int(math.Round(o.TopShare*float64(len(top)))))
	} else {
		for sum := 0.0; k < len(top) && sum < o.RevenueShare*total; k++ {
			sum += top[k]
		}
	}
	return top[k-1]
}

// Tier is a customer's VIP tier at the stage, given the VIP threshold.
func (o VIPOptions) Tier(p Profile, stage string, threshold float64) string {
	switch {
	case p.Revenue12m >= threshold:
		if p.PAlive < o.AtRiskPAlive || (p.InterorderMean > 0 && p.DaysSinceLast > o.RhythmFactor*p.InterorderMean) {
			return VIPAtRisk
		}
		return VIP
	case stage == Lost && p.Revenue >= threshold:
		return LostVIP
	case stage != Lost && stage != NonBuyer && (p.EarlyVIP >= o.PotentialProbability || p.CLV >= threshold):
		return PotentialVIP
	}
	return ""
}

// Strategies.
var Strategies = []string{"develop", "retain", "restore", "return", "observe"}

// StrategyRule assigns a strategy and action to the customers it matches:
// every condition set must hold (an empty list or a missing bound is no
// condition).
type StrategyRule struct {
	// Lifecycle and VIPTier: the stages and tiers the rule holds for (empty:
	// any).
	Lifecycle []string `yaml:"lifecycle"`
	VIPTier   []string `yaml:"vip_tier"`
	// Bounds on 12-month CLV and P(alive) (MinCLV, MaxCLV, MinPAlive,
	// MaxPAlive): inclusive below, exclusive above; a missing bound holds for
	// everyone.
	MinCLV    *float64 `yaml:"min_clv"`
	MaxCLV    *float64 `yaml:"max_clv"`
	MinPAlive *float64 `yaml:"min_p_alive"`
	MaxPAlive *float64 `yaml:"max_p_alive"`
	// Strategy (retain, develop, reactivate, ...) and Action (what marketing
	// does) of the customers the rule holds for.
	Strategy string `yaml:"strategy"`
	Action   string `yaml:"action"`
}

func (r StrategyRule) matches(p Profile, stage, tier string) bool {
	in := func(v float64, lo, hi *float64) bool { return (lo == nil || v >= *lo) && (hi == nil || v < *hi) }
	return (len(r.Lifecycle) == 0 || slices.Contains(r.Lifecycle, stage)) &&
		(len(r.VIPTier) == 0 || slices.Contains(r.VIPTier, tier)) &&
		in(p.CLV, r.MinCLV, r.MaxCLV) && in(p.PAlive, r.MinPAlive, r.MaxPAlive)
}

// DefaultStrategies is the default rule table; the first rule that matches
// decides, and the last matches everyone.
var DefaultStrategies = []StrategyRule{
	{VIPTier: []string{VIP}, Strategy: "retain", Action: "VIP service: early access and personal offers"},
	{VIPTier: []string{VIPAtRisk}, Strategy: "retain", Action: "personal contact before the VIP lapses"},
	{VIPTier: []string{LostVIP}, Strategy: "return", Action: "personal win-back offer"},
	{VIPTier: []string{PotentialVIP}, Strategy: "develop", Action: "premium assortment and loyalty programme invitation"},
	{Lifecycle: []string{New}, Strategy: "develop", Action: "welcome series with a second-order incentive"},
	{Lifecycle: []string{Reactivated}, Strategy: "retain", Action: "thank-you message and loyalty programme"},
	{Lifecycle: []string{Active}, Strategy: "develop", Action: "cross-sell from the segment's product feed"},
	{Lifecycle: []string{AtRisk}, Strategy: "restore", Action: "reminder with an offer in the top category"},
	{Lifecycle: []string{Lost}, MinPAlive: ptr(0.05), Strategy: "return", Action: "win-back campaign with a discount"},
	{Lifecycle: []string{NonBuyer}, Strategy: "develop", Action: "first-order incentive"},
	{Strategy: "observe", Action: "no campaign; keep in reporting"},
}

func ptr(v float64) *float64 { return &v }

// ValidateStrategies says what is wrong with a rule table.
func ValidateStrategies(rules []StrategyRule) error {
	if len(rules) == 0 {
		return errors.New("strategy.rules: at least one rule")
	}
	for i, r := range rules {
		if !slices.Contains(Strategies, r.Strategy) {
			return fmt.Errorf("strategy.rules[%d]: strategy %q is none of %v", i, r.Strategy, Strategies)
		}
		for _, s := range r.Lifecycle {
			if !slices.Contains([]string{NonBuyer, New, Active, AtRisk, Lost, Reactivated}, s) {
				return fmt.Errorf("strategy.rules[%d]: unknown lifecycle stage %q", i, s)
			}
		}
		for _, t := range r.VIPTier {
			if _, ok := VIPHandling[t]; !ok {
				return fmt.Errorf("strategy.rules[%d]: unknown VIP tier %q", i, t)
			}
		}
	}
	last := rules[len(rules)-1]
	if len(last.Lifecycle)+len(last.VIPTier) > 0 || last.MinCLV != nil || last.MaxCLV != nil || last.MinPAlive != nil || last.MaxPAlive != nil {
		return errors.New("strategy.rules: the last rule must have no conditions, so that every customer gets a strategy")
	}
	return nil
}

// Strategy is the first matching rule's strategy and action.
func Strategy(rules []StrategyRule, p Profile, stage, tier string) (string, string) {
	for _, r := range rules {
		if r.matches(p, stage, tier) {
			return r.Strategy, r.Action
		}
	}
	return "observe", ""
}
