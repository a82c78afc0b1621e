// Package synth generates a synthetic shop whose customers follow known processes,
// so that Tessera's models can be checked against the truth: purchases from a
// BG/NBD process, spend from Gamma-Gamma, a VIP minority that brings about half
// the revenue and shows it in its first week, site events that precede purchases,
// campaigns with per-customer channel and hour preferences, and, on request,
// realistic bad records listed one by one in the truth files.
package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"
)

// Config says what shop to generate.
type Config struct {
	Customers int
	Days      int       // length of the history
	End       time.Time // exclusive end of the history (midnight UTC)
	Seed      int64
	Format    string  // csv or parquet
	BadRows   float64 // fraction of bad records mixed into every entity
	VIPShare  float64 // share of customers in the VIP class
	Currency  string
	// Uplift, when set, gives some customers a known campaign effect.
	Uplift *Uplift
	// EventShare, between 0 and 1, is the share of site and campaign events
	// written (the others are drawn, not written): a shop of ten million
	// customers fits a disk with a tenth of them. 0 writes them all.
	EventShare float64
}

// Uplift gives the customers Treated names a known effect of a campaign sent
// at From, for Days: while they have not dropped out, extra purchases at
// (RateFactor − 1) times their own purchase rate, and the value of every
// order in the window times SpendFactor. Its draws come from streams of
// their own, so that every row the shop holds without it is the same with it
// but for the values of the treated customers' orders in the window: a test
// can publish segments, take their treated members and generate the shop
// again with the effect.
type Uplift struct {
	From        time.Time
	Days        int
	Treated     map[string]bool // customer ids
	RateFactor  float64
	SpendFactor float64
	// Spans, when it names a treated customer, is when that customer is
	// treated instead (a campaign that reaches it later, or stops).
	Spans map[string][2]time.Time
}

// window is when the uplift holds for a customer, in Unix seconds.
func (u *Uplift) window(id string) (from, to int64) {
	if s, ok := u.Spans[id]; ok {
		return s[0].Unix(), s[1].Unix()
	}
	return u.From.Unix(), u.From.AddDate(0, 0, u.Days).Unix()
}

// DefaultEnd is the default end of the generated history. It is fixed, not "today",
// so that a seed always gives the same shop.
var DefaultEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Defaults returns a 10,000-customer, two-year shop.
func Defaults() Config {
	return Config{Customers: 10000, Days: 730, End: DefaultEnd, Seed: 1, Format: "csv", VIPShare: 0.02, Currency: "EUR"}
}

// Validate checks a config.
func (c Config) Validate() error {
	switch {
	case c.Customers < 1:
		return fmt.Errorf("customers must be at least 1, got %d", c.Customers)
	case c.Days < 1:
		return fmt.Errorf("days must be at least 1, got %d", c.Days)
	case c.Format != "csv" && c.Format != "parquet":
		return fmt.Errorf("format must be csv or parquet, got %q", c.Format)
	case c.BadRows < 0 || c.BadRows > 0.5:
		return fmt.Errorf("bad-rows must be a fraction between 0 and 0.5, got %g", c.BadRows)
	case c.VIPShare < 0 || c.VIPShare > 0.5:
		return fmt.Errorf("vip-share must be between 0 and 0.5, got %g", c.VIPShare)
	case c.EventShare < 0 || c.EventShare > 1:
		return fmt.Errorf("event-share must be between 0 and 1, got %g", c.EventShare)
	case c.End.IsZero():
		return fmt.Errorf("end date is not set")
	case len(c.Currency) != 3:
		return fmt.Errorf("currency must be an ISO 4217 code, got %q", c.Currency)
	}
	return nil
}

// BGNBD are the population parameters of a BG/NBD purchase process, per day:
// purchase rates λ ~ Gamma(R, Alpha), dropout after each repeat purchase with
// probability p ~ Beta(A, B).
type BGNBD struct{ R, Alpha, A, B float64 }

// GammaGamma are the population parameters of spend: each order's net value is
// Gamma(P, ν) with the customer's ν ~ Gamma(Q, Gamma).
type GammaGamma struct{ P, Q, Gamma float64 }

// Params are the known truths the shop is drawn from.
type Params struct {
	Regular      BGNBD      `json:"regular_purchases"`
	VIP          BGNBD      `json:"vip_purchases"`
	RegularSpend GammaGamma `json:"regular_spend"`
	VIPSpend     GammaGamma `json:"vip_spend"`
	BuyerShare   float64    `json:"buyer_share"`
	VIPShare     float64    `json:"vip_share"`
	// First purchase comes this many days (exponential mean) after registration.
	FirstOrderDelayDays float64 `json:"first_order_delay_days"`
	DiscountSeekerShare float64 `json:"discount_seeker_share"`
	CancelShare         float64 `json:"cancel_share"`
	ReturnShare         float64 `json:"return_share"`
	PartialReturnShare  float64 `json:"partial_return_share"`
}

// DefaultParams are tuned so that about 2% of customers (the VIP class) bring
// about half of the revenue over a two-year history.
func DefaultParams(vipShare float64) Params {
	return Params{
		Regular:             BGNBD{R: 0.75, Alpha: 60, A: 0.8, B: 2.5},
		VIP:                 BGNBD{R: 6, Alpha: 80, A: 1, B: 30},
		RegularSpend:        GammaGamma{P: 6, Q: 4, Gamma: 30},
		VIPSpend:            GammaGamma{P: 8, Q: 6, Gamma: 250},
		BuyerShare:          0.75,
		VIPShare:            vipShare,
		FirstOrderDelayDays: 3,
		DiscountSeekerShare: 0.25,
		CancelShare:         0.03,
		ReturnShare:         0.03,
		PartialReturnShare:  0.04,
	}
}

var (
	topCategories = []string{"electronics", "jewelry", "home", "fashion", "beauty", "sports", "toys", "books"}
	subCategories = []string{"essentials", "premium", "accessories", "gifts"}
	medianPrice   = []float64{150, 220, 40, 50, 25, 60, 30, 15}
	// VIPs lean to the first two (premium) categories.
	regularCatWeights = cumulative(1, 0.6, 1.6, 1.6, 1.3, 1, 1, 1)
	vipCatWeights     = cumulative(4, 3.5, 1, 1, 0.5, 0.5, 0.2, 0.2)
	countries         = []string{"DE", "FR", "NL", "PL", "ES", "IT", "AT", "BE"}
	cities            = [][]string{{"Berlin", "Hamburg", "München", "Köln"}, {"Paris", "Lyon", "Marseille"}, {"Amsterdam", "Rotterdam"}, {"Warszawa", "Kraków", "Łódź"}, {"Madrid", "Barcelona", "Sevilla"}, {"Roma", "Milano"}, {"Wien", "Graz"}, {"Bruxelles", "Antwerpen"}}
	countryWeights    = cumulative(30, 18, 10, 10, 12, 10, 5, 5)
	acquisition       = []string{"organic", "paid_search", "social", "referral", "email", "marketplace"}
	acquisitionW      = cumulative(35, 25, 15, 10, 5, 10)
	// Preferred hours cluster around the morning, lunch, evening and late evening.
	hourModes   = []float64{9, 13, 20, 23}
	hourWeights = cumulative(2, 2, 4, 1.5)
	orderChan   = []string{"web", "app", "store", "marketplace"}
	orderChanW  = cumulative(60, 25, 10, 5)
	promoCodes  = []string{"WELCOME10", "SAVE15", "FLASH20", "VIP5", "SALE30"}
	promoDepths = []float64{0.10, 0.15, 0.20, 0.05, 0.30}
)

type product struct {
	id    string
	top   int
	brand int
	price float64
}

// catalog is the product list, generated once per shop.
type catalog struct {
	products []product
	byTop    [][]int // product indexes per top category
	brands   []string
}

func newCatalog(seed int64, customers int) *catalog {
	r := newRNG(seed, 1<<40)
	n := min(max(customers/40, 240), 5000)
	c := &catalog{byTop: make([][]int, len(topCategories))}
	for b := 0; b < 48; b++ {
		c.brands = append(c.brands, fmt.Sprintf("Brand %02d", b+1))
	}
	for i := 0; i < n; i++ {
		top := i % len(topCategories)
		brand := top*6 + r.IntN(6) // six brands per top category
		price := math.Round(medianPrice[top]*math.Exp(0.6*r.NormFloat64())*100) / 100
		c.products = append(c.products, product{id: fmt.Sprintf("P%06d", i+1), top: top, brand: brand, price: max(price, 0.99)})
		c.byTop[top] = append(c.byTop[top], i)
	}
	return c
}

func (c *catalog) category(p *product, i int) string {
	return topCategories[p.top] + "/" + subCategories[i%len(subCategories)]
}

func emailHash(email string) string {
	h := sha256.Sum256([]byte(email))
	return hex.EncodeToString(h[:])
}
