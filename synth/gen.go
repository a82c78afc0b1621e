package synth

import (
	"math"
	"strconv"

	"github.com/tessera-cdp/tessera/canon"
)

// The entities a chunk of customers produces, in file order. Products are
// generated once per shop.
var chunkEntities = []canon.Entity{canon.Customers, canon.Orders, canon.OrderLines, canon.Events, canon.CampaignEvents}

const (
	eCustomers = iota
	eOrders
	eLines
	eEvents
	eCampaigns
)

const chunkSize = 2000

var truthColumns = []string{"customer_id", "vip", "buyer", "churned", "created_at", "first_order_at", "dropout_at",
	"purchase_rate_per_day", "dropout_probability", "spend_rate", "mean_order_value", "discount_seeker",
	"preferred_categories", "preferred_brand", "preferred_hour", "preferred_channel", "orders", "revenue"}

// chunk is what one run of customers produces.
type chunk struct {
	t     [5]*rows
	truth *rows
}

// gen holds what every chunk shares.
type gen struct {
	cfg        Config
	p          Params
	cat        *catalog
	start, end int64 // seconds
	campaigns  []campaign
	csv        bool
}

type campaign struct {
	id      string
	channel string
	ts      int64
}

func newGen(cfg Config) *gen {
	g := &gen{cfg: cfg, p: DefaultParams(cfg.VIPShare), cat: newCatalog(cfg.Seed, cfg.Customers), csv: cfg.Format == "csv"}
	g.end = cfg.End.Unix()
	g.start = g.end - int64(cfg.Days)*86400
	// Campaign calendar: e-mail weekly at 10:00, push every ten days at 18:00,
	// SMS monthly at 12:00.
	for _, s := range []struct {
		channel string
		every   int
		hour    int64
	}{{"email", 7, 10}, {"push", 10, 18}, {"sms", 30, 12}} {
		for d := s.every / 2; d < cfg.Days; d += s.every {
			ts := g.start + int64(d)*86400 + s.hour*3600
			g.campaigns = append(g.campaigns, campaign{id: s.channel + "-" + string(appendTime(nil, ts)[:10]), channel: s.channel, ts: ts})
		}
	}
	return g
}

func (g *gen) chunk(idx int) *chunk {
	ch := &chunk{truth: newRows(len(truthColumns))}
	for i, e := range chunkEntities {
		t, _ := canon.Lookup(e)
		ch.t[i] = newRows(len(t.Columns))
	}
	r := newRNG(g.cfg.Seed, uint64(idx))
	from := idx * chunkSize
	to := min(from+chunkSize, g.cfg.Customers)
	for n := from; n < to; n++ {
		g.customer(ch, r, int64(n+1))
	}
	if g.cfg.BadRows > 0 {
		g.corrupt(ch, r, idx)
	}
	return ch
}

type purchase struct {
	at     int64
	net    float64
	status string
}

// customer draws one customer, its orders, events and campaign history.
func (g *gen) customer(ch *chunk, r rng, num int64) {
	p := &g.p
	span := float64(g.end - g.start)
	created := g.start + int64(r.Float64()*span)
	vip := r.chance(p.VIPShare)
	buyer := vip || r.chance(p.BuyerShare)
	pop, spend := p.Regular, p.RegularSpend
	if vip {
		pop, spend = p.VIP, p.VIPSpend
	}
	lambda := r.gamma(pop.R, pop.Alpha)
	drop := r.beta(pop.A, pop.B)
	nu := r.gamma(spend.Q, spend.Gamma)
	seeker := r.chance(p.DiscountSeekerShare)
	if vip {
		seeker = r.chance(0.03)
	}
	weights := regularCatWeights
	if vip {
		weights = vipCatWeights
	}
	cat1 := r.pick(weights)
	cat2 := r.pick(weights)
	for cat2 == cat1 {
		cat2 = r.pick(weights)
	}
	brand := cat1*6 + r.IntN(6)
	hour := hourModes[r.pick(hourWeights)]
	prefChannel := []string{"email", "sms", "push"}[r.pick(cumulative(5, 2, 3))]
	country := r.pick(countryWeights)
	c := &cust{g: g, r: r, ch: ch, num: num, created: created, cat1: cat1, cat2: cat2, brand: brand, hour: hour,
		vip: vip, seeker: seeker, channel: orderChan[r.pick(orderChanW)]}

	var times []int64
	dropped := int64(0)
	if buyer {
		times, dropped = g.purchaseTimes(r, created, vip, lambda, drop)
	}
	optEmail, optSMS, optPush := r.chance(0.6), r.chance(0.3), r.chance(0.4)
	switch prefChannel { // people opt in where they like to be reached
	case "email":
		optEmail = true
	case "sms":
		optSMS = true
	case "push":
		optPush = true
	}

	cr := ch.t[eCustomers]
	email := "customer" + strconv.FormatInt(num, 10) + "@mail.example"
	cr.id('C', num).str(email).str(emailHash(email)).time(created).str(countries[country]).
		str(cities[country][r.IntN(len(cities[country]))]).str(acquisition[r.pick(acquisitionW)]).
		bool(optEmail).bool(optSMS).bool(optPush).time(min(created+int64(r.exp(1.0/(30*86400))), g.end-1))
	cr.done()

	if r.chance(0.3) { // an anonymous visit before registering
		c.session(max(created-int64(r.Float64()*3*86400), g.start), true, 2+r.IntN(4))
	}
	treated := g.cfg.Uplift != nil && g.cfg.Uplift.Treated[customerID(num)]
	if treated {
		c.spendFrom, c.spendTo = g.cfg.Uplift.window(customerID(num))
		c.spendFactor = g.cfg.Uplift.SpendFactor
	}
	var buys []purchase
	for k, t := range times {
		buys = append(buys, c.order(k+1, t, spend.P, nu))
	}
	// Browsing without buying, more for frequent buyers, less after dropping out.
	rate := 0.004 + 0.3*lambda
	if !buyer {
		rate = 0.01
	}
	for t := float64(created) + r.exp(rate/86400); t < float64(g.end); {
		if dropped > 0 && int64(t) > dropped {
			rate = 0.0015
		}
		c.session(int64(t), false, 1+r.poisson(2))
		t += r.exp(rate / 86400)
	}
	c.campaigns(optEmail, optSMS, optPush, prefChannel, dropped, buys)
	if treated && len(times) > 0 {
		buys = append(buys, c.upliftOrders(len(times), dropped, lambda, spend.P, nu)...)
	}

	c.truth(buys, dropped, [3]float64{lambda, drop, nu}, spend.P/nu, prefChannel)
}

// customerID is the id of customer num, as its row writes it.
func customerID(num int64) string { return string(appendPadded([]byte{'C'}, num, 8)) }

// upliftOrders draws a treated customer's extra purchases in the uplift's
// window, from a stream of the customer's own: while it has not dropped out,
// at (RateFactor − 1) times its purchase rate. They are numbered after its
// n regular purchases.
func (c *cust) upliftOrders(n int, dropped int64, lambda, shape, nu float64) []purchase {
	u := c.g.cfg.Uplift
	from, to := u.window(customerID(c.num))
	from = max(from, c.created)
	to = min(to, c.g.end)
	if dropped > 0 {
		to = min(to, dropped)
	}
	rate := lambda * (u.RateFactor - 1) / 86400
	if rate <= 0 || from >= to {
		return nil
	}
	main := c.r
	c.r = newRNG(c.g.cfg.Seed, 1<<42+uint64(c.num))
	defer func() { c.r = main }()
	var out []purchase
	for t := float64(from) + c.r.exp(rate); t < float64(to); t += c.r.exp(rate) {
		out = append(out, c.order(n+len(out)+1, int64(t), shape, nu))
	}
	return out
}

// purchaseTimes draws a buyer's purchases: a BG/NBD process in continuous
// time; the customer may drop out after each repeat purchase (dropped is
// when, 0 if not).
func (g *gen) purchaseTimes(r rng, created int64, vip bool, lambda, drop float64) (times []int64, dropped int64) {
	delay := g.p.FirstOrderDelayDays
	if vip {
		delay = 1
	}
	t := float64(created) + r.exp(1/(delay*86400))
	for t < float64(g.end) {
		times = append(times, int64(t))
		if len(times) > 1 && r.chance(drop) {
			return times, int64(t)
		}
		t += r.exp(lambda / 86400)
	}
	return times, 0
}

// truth writes the customer's line of truth_customers.csv: its traits,
// latent parameters (lambda, drop, nu), mean spend and what it bought.
func (c *cust) truth(buys []purchase, dropped int64, latent [3]float64, meanSpend float64, prefChannel string) {
	revenue := 0.0
	for _, b := range buys {
		revenue += b.net
	}
	tr := c.ch.truth
	tr.id('C', c.num).bool(c.vip).bool(len(buys) > 0).bool(dropped > 0).time(c.created)
	if len(buys) > 0 {
		tr.time(buys[0].at)
	} else {
		tr.str("")
	}
	if dropped > 0 {
		tr.time(dropped)
	} else {
		tr.str("")
	}
	for _, v := range latent {
		tr.buf = strconv.AppendFloat(tr.buf, v, 'g', 8, 64)
		tr.end()
	}
	tr.money(meanSpend).bool(c.seeker).str(topCategories[c.cat1] + "|" + topCategories[c.cat2]).str(c.g.cat.brands[c.brand]).
		int(int64(c.hour)).str(prefChannel).int(int64(len(buys))).money(revenue)
	tr.done()
}

// cust carries one customer's traits while its rows are drawn.
type cust struct {
	g                *gen
	r                rng
	ch               *chunk
	num              int64
	created          int64
	cat1, cat2       int
	brand            int
	hour             float64
	vip, seeker      bool
	channel          string
	sessions, events int
	// Orders placed in [spendFrom, spendTo) are worth spendFactor times as
	// much (a treated customer under an uplift); 0: no uplift.
	spendFrom, spendTo int64
	spendFactor        float64
}

// at moves a purchase or visit time to the customer's preferred hour that day,
// never before registration.
func (c *cust) at(t int64) int64 {
	day := t / 86400 * 86400
	h := c.hour + 1.5*c.r.NormFloat64()
	h = math.Mod(h+24, 24)
	s := day + int64(h*3600)
	if s < c.created {
		s = c.created + 600
	}
	return min(s, c.g.end-1)
}

func (c *cust) product() *product {
	cat := c.g.cat
	r := c.r
	if !r.chance(0.7) {
		return &cat.products[r.IntN(len(cat.products))]
	}
	top := c.cat1
	if r.chance(0.4) {
		top = c.cat2
	}
	list := cat.byTop[top]
	p := &cat.products[list[r.IntN(len(list))]]
	for try := 0; try < 3 && p.brand != c.brand && r.chance(0.5); try++ {
		p = &cat.products[list[r.IntN(len(list))]]
	}
	return p
}

// order writes purchase k and its lines and site events, plus sometimes a
// cancelled order just before it.
func (c *cust) order(k int, t int64, shape, nu float64) purchase {
	g, r := c.g, c.r
	at := c.at(t)
	if r.chance(g.p.CancelShare) && at-3600 > c.created {
		c.writeOrder(strconv.Itoa(k)+"c", at-int64(60+r.IntN(3000)), 0, "cancelled", 1+r.IntN(2), r.gamma(shape, nu))
	}
	status := "completed"
	switch u := r.Float64(); {
	case u < g.p.ReturnShare:
		status = "returned"
	case u < g.p.ReturnShare+g.p.PartialReturnShare:
		status = "partially_returned"
	}
	lines := 1 + r.poisson(2.2)
	if c.vip {
		lines = 1 + r.poisson(3)
	}
	value := r.gamma(shape, nu)
	if c.spendFactor > 0 && at >= c.spendFrom && at < c.spendTo {
		value *= c.spendFactor
	}
	net := c.writeOrder(strconv.Itoa(k), at, k, status, lines, value)
	return purchase{at: at, net: net, status: status}
}

func (c *cust) writeOrder(suffix string, at int64, k int, status string, nlines int, value float64) float64 {
	g, r := c.g, c.r
	depth, promo := 0.0, ""
	pPromo := 0.1
	switch {
	case c.seeker:
		pPromo = 0.6
	case c.vip:
		pPromo = 0.03
	}
	if r.chance(pPromo) {
		i := r.IntN(len(promoCodes))
		depth, promo = promoDepths[i], promoCodes[i]
	}
	gross := value / (1 - depth)
	prods := make([]*product, nlines)
	qty := make([]int, nlines)
	w := 0.0
	for i := range prods {
		prods[i] = c.product()
		qty[i] = 1
		if r.chance(0.15) {
			qty[i] += 1 + r.poisson(0.5)
		}
		w += prods[i].price * float64(qty[i])
	}
	var orderID []byte
	orderID = append(orderID, 'O')
	orderID = appendPadded(orderID, c.num, 8)
	orderID = append(orderID, '-')
	orderID = append(orderID, suffix...)

	lr := c.ch.t[eLines]
	sumGross, sumDisc, items := 0.0, 0.0, 0
	for i, p := range prods {
		unit := math.Max(0.01, round2(gross*p.price/w))
		disc := round2(unit * float64(qty[i]) * depth)
		returned := 0
		if status == "returned" || (status == "partially_returned" && i == 0) {
			returned = qty[i]
		}
		lr.byts(orderID).int(int64(i + 1)).str(p.id).int(int64(qty[i])).money(unit).money(disc).int(int64(returned)).str("") // no shipping
		lr.done()
		sumGross += unit * float64(qty[i])
		sumDisc += disc
		items += qty[i]
	}
	if status == "partially_returned" && items == 1 {
		status = "returned" // one unit cannot be returned in part
	}
	rating := ""
	if status != "cancelled" && r.chance(0.35) {
		wts := cumulative(3, 5, 12, 30, 50)
		if status != "completed" {
			wts = cumulative(40, 30, 20, 7, 3)
		}
		rating = strconv.Itoa(1 + r.pick(wts))
	}
	updated := at + int64(r.exp(1.0/86400))
	if status == "returned" || status == "partially_returned" {
		updated += int64(7+r.IntN(14)) * 86400
	}
	net := round2(sumGross - sumDisc)
	or := c.ch.t[eOrders]
	or.byts(orderID).id('C', c.num).time(at).str(status).str(g.cfg.Currency).money(round2(sumGross)).
		money(round2(sumDisc)).money(net).int(int64(items)).str(c.channel).str(promo).str(rating).
		time(min(updated, g.end-1)).str("") // no shipping
	or.done()
	if k > 0 {
		c.buySession(at, prods)
	}
	return net
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

var (
	browseTypes = []string{"page_view", "category_view", "product_view", "search", "add_to_cart", "favorite", "remove_from_cart"}
	browseW     = cumulative(2, 3, 5, 1.5, 0.7, 0.5, 0.2)
)

// buySession writes the visit that ends in an order at time at.
func (c *cust) buySession(at int64, prods []*product) {
	r := c.r
	sid := c.newSession()
	t := max(at-int64(300+r.IntN(2100)), c.created)
	step := func() int64 { t = min(t+int64(10+r.IntN(110)), at-1); return t }
	c.event(sid, step(), false, "category_view", prods[0])
	for _, p := range prods {
		c.event(sid, step(), false, "product_view", p)
	}
	for i := r.IntN(3); i > 0; i-- {
		c.event(sid, step(), false, "product_view", c.product())
	}
	for _, p := range prods {
		c.event(sid, step(), false, "add_to_cart", p)
	}
	if r.chance(0.2) {
		c.event(sid, step(), false, "remove_from_cart", c.product())
	}
	if r.chance(0.1) {
		c.event(sid, step(), false, "favorite", prods[0])
	}
	c.event(sid, max(at-60, t), false, "checkout_start", nil)
}

// session writes a visit without an order.
func (c *cust) session(start int64, anonymous bool, n int) {
	r := c.r
	sid := c.newSession()
	t := start
	if !anonymous {
		t = c.at(start)
	}
	for i := 0; i < n && t < c.g.end; i++ {
		typ := browseTypes[r.pick(browseW)]
		var p *product
		if typ != "page_view" && typ != "search" {
			p = c.product()
		}
		c.event(sid, t, anonymous, typ, p)
		t += int64(20 + r.IntN(160))
	}
}

// kept says whether the customer's n-th event is written under EventShare:
// by a hash of the two, not a draw, so that the random streams, and so every
// other row, are the same whatever the share.
func (c *cust) kept(n int) bool {
	share := c.g.cfg.EventShare
	if share <= 0 || share >= 1 {
		return true
	}
	h := uint64(c.num)*0x9E3779B97F4A7C15 ^ uint64(n)*0xBF58476D1CE4E5B9
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	return float64(h>>11)/(1<<53) < share
}

func (c *cust) newSession() []byte {
	c.sessions++
	sid := append([]byte{'S'}, appendPadded(nil, c.num, 8)...)
	sid = append(sid, '-')
	return strconv.AppendInt(sid, int64(c.sessions), 10)
}

func (c *cust) event(sid []byte, ts int64, anonymous bool, typ string, p *product) {
	c.events++
	if !c.kept(c.events) {
		return
	}
	er := c.ch.t[eEvents]
	er.buf = append(er.buf, 'E')
	er.buf = appendPadded(er.buf, c.num, 8)
	er.buf = append(er.buf, '-')
	er.buf = strconv.AppendInt(er.buf, int64(c.events), 10)
	er.end()
	er.time(ts)
	if anonymous {
		er.str("")
		er.buf = append(er.buf, 'A')
		er.buf = appendPadded(er.buf, c.num, 8)
		er.end()
	} else {
		er.id('C', c.num).str("")
	}
	er.byts(sid).str(typ)
	if p != nil {
		er.str(p.id).str(c.g.cat.category(p, int(c.num)))
	} else {
		er.str("").str("")
	}
	er.done()
}

// campaigns writes the messages the customer got and what they did with them.
func (c *cust) campaigns(optEmail, optSMS, optPush bool, pref string, dropped int64, buys []purchase) {
	g, r := c.g, c.r
	var unsub [3]bool // email, sms, push
	cr := c.ch.t[eCampaigns]
	written := 0
	write := func(cp *campaign, typ string, ts int64) {
		if written++; !c.kept(1<<40 + written) {
			return
		}
		cr.str(cp.id).id('C', c.num).str(cp.channel).str(typ).time(ts)
		cr.done()
	}
	for i := range g.campaigns {
		cp := &g.campaigns[i]
		ci, opted, engage := 0, optEmail, 0.22
		switch cp.channel {
		case "sms":
			ci, opted, engage = 1, optSMS, 0
		case "push":
			ci, opted, engage = 2, optPush, 0.12
		}
		if cp.ts < c.created || unsub[ci] || !opted || !r.chance(0.1) {
			continue
		}
		write(cp, "sent", cp.ts)
		if !r.chance(0.95) {
			continue
		}
		write(cp, "delivered", cp.ts+60)
		if r.chance(0.004) {
			write(cp, "unsubscribe", cp.ts+120+int64(r.IntN(86400)))
			unsub[ci] = true
			continue
		}
		if cp.channel == pref {
			engage *= 2
		}
		if c.vip {
			engage *= 1.3
		}
		if dropped > 0 && dropped < cp.ts {
			engage *= 0.3
		}
		clickAt := int64(0)
		if cp.channel == "sms" {
			if r.chance(0.03) {
				clickAt = cp.ts + int64(60+r.IntN(3600))
			}
		} else if r.chance(engage) {
			open := cp.ts/86400*86400 + int64(c.hour*3600) + int64(r.IntN(1800))
			if open <= cp.ts {
				open += 86400
			}
			if open >= g.end {
				continue
			}
			write(cp, "open", open)
			if pClick := 0.2; r.chance(pClick) || (c.seeker && r.chance(0.125)) {
				clickAt = open + int64(5+r.IntN(120))
			}
		}
		if clickAt == 0 || clickAt >= g.end {
			continue
		}
		write(cp, "click", clickAt)
		for _, b := range buys {
			if b.at > clickAt && b.at-clickAt < 72*3600 {
				write(cp, "conversion", b.at)
				break
			}
		}
	}
}
