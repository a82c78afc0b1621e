package segment

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestRFMSegmentsTable: the code-to-segment table covers the 125 codes once
// each, uses the 11 named segments, and matches its golden file (the table the
// README and analysts read).
func TestRFMSegmentsTable(t *testing.T) {
	table := RFMSegments()
	codes := map[string]bool{}
	names := map[string]bool{}
	for _, row := range table {
		codes[row[0]] = true
		names[row[1]] = true
	}
	if len(table) != 125 || len(codes) != 125 {
		t.Errorf("%d rows, %d distinct codes; want 125", len(table), len(codes))
	}
	want := []string{"Champions", "Loyal", "Potential Loyalist", "New Customers", "Promising", "Need Attention", "About To Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost"}
	for _, n := range want {
		if !names[n] {
			t.Errorf("segment %q is never used", n)
		}
	}
	if len(names) != len(want) {
		t.Errorf("%d segment names, want %d", len(names), len(want))
	}
	f, err := os.Open("testdata/rfm_segments.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	golden, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range table {
		if i+1 >= len(golden) || golden[i+1][0] != row[0] || golden[i+1][1] != row[1] {
			t.Fatalf("row %d: %v, golden file says otherwise", i, row)
		}
	}
	cells := map[string]bool{}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			for m := 1; m <= 5; m++ {
				cells[RFM{r, f, m}.Cell()] = true
			}
		}
	}
	if len(cells) != 45 {
		t.Errorf("%d trigger cells, want 45", len(cells))
	}
}

func TestRFMScores(t *testing.T) {
	for _, c := range []struct {
		name                  string
		days, orders, revenue []float64
		want                  []RFM
	}{
		{"quintiles", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
			[]RFM{{5, 1, 5}, {5, 1, 5}, {4, 2, 4}, {4, 2, 4}, {3, 3, 3}, {3, 3, 3}, {2, 4, 2}, {2, 4, 2}, {1, 5, 1}, {1, 5, 1}}},
		{"ties score alike", []float64{3, 3, 3, 9}, []float64{1, 1, 1, 4}, []float64{5, 5, 5, 5},
			[]RFM{{2, 1, 1}, {2, 1, 1}, {2, 1, 1}, {1, 4, 1}}},
		{"one customer", []float64{10}, []float64{2}, []float64{100}, []RFM{{1, 1, 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := RFMScores(c.days, c.orders, c.revenue); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestRFMScoresTies: on values with many ties (days are whole, most buyers
// order once), each score is its definition counted one customer at a time,
// for bases of every size up to one quintile's edges and a large one (the
// scores come from four cut points a dimension: RFMCuts).
func TestRFMScoresTies(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 11, 2000} {
		days, orders, revenue := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range n {
			days[i], orders[i], revenue[i] = float64(rnd.IntN(40)), float64(1+rnd.IntN(3)), float64(rnd.IntN(500))
		}
		days[0], revenue[n-1] = math.Inf(1), math.Inf(1)
		score := func(v []float64, i int, worse func(a, b float64) bool) int {
			k := 0
			for _, x := range v {
				if worse(x, v[i]) {
					k++
				}
			}
			return 1 + 5*k/n
		}
		less, more := func(a, b float64) bool { return a < b }, func(a, b float64) bool { return a > b }
		got := RFMScores(days, orders, revenue)
		for i := range n {
			if want := (RFM{score(days, i, more), score(orders, i, less), score(revenue, i, less)}); got[i] != want {
				t.Fatalf("%d customers, customer %d (%v days, %v orders, %v revenue): %v, want %v", n, i, days[i], orders[i], revenue[i], got[i], want)
			}
		}
	}
}

func TestLifecycleStage(t *testing.T) {
	o := DefaultLifecycle
	for _, c := range []struct {
		p    Profile
		want string
	}{
		{Profile{}, NonBuyer},
		{Profile{Orders: 1, DaysSinceFirst: 10, DaysSinceLast: 10, PAlive: 1}, New},
		{Profile{Orders: 3, DaysSinceFirst: 800, DaysSinceLast: 20, LastGapDays: 400, PAlive: 0.9}, Reactivated},
		{Profile{Orders: 3, DaysSinceFirst: 800, DaysSinceLast: 20, LastGapDays: 40, PAlive: 0.1}, Lost},
		{Profile{Orders: 1, DaysSinceFirst: 400, DaysSinceLast: 400, PAlive: 1}, Lost},
		{Profile{Orders: 3, DaysSinceFirst: 300, DaysSinceLast: 200, PAlive: 0.9}, AtRisk},
		{Profile{Orders: 3, DaysSinceFirst: 300, DaysSinceLast: 20, PAlive: 0.3}, AtRisk},
		{Profile{Orders: 3, DaysSinceFirst: 300, DaysSinceLast: 20, PAlive: 0.9}, Active},
	} {
		if got := o.Stage(c.p); got != c.want {
			t.Errorf("%+v: %s, want %s", c.p, got, c.want)
		}
	}
	if err := (LifecycleOptions{NewDays: 30, ReactivatedDays: 90, LostPAlive: 0.6, LostDays: 365, AtRiskPAlive: 0.5, AtRiskDays: 180}).Validate(); err == nil {
		t.Error("lost_p_alive above at_risk_p_alive: want an error")
	}
}

func TestVIPTiers(t *testing.T) {
	// Revenue 12m: 400 + 300 of 1,000 in all: it takes the two top buyers to bring half.
	ps := []Profile{
		{Orders: 9, Revenue: 900, Revenue12m: 400, PAlive: 0.9, InterorderMean: 20, DaysSinceLast: 10, EarlyVIP: math.NaN()},
		{Orders: 9, Revenue: 900, Revenue12m: 300, PAlive: 0.3, InterorderMean: 20, DaysSinceLast: 10, EarlyVIP: math.NaN()}, // P(alive) dropped
		{Orders: 2, Revenue: 150, Revenue12m: 150, PAlive: 0.9, EarlyVIP: 0.8},                                               // early signal
		{Orders: 2, Revenue: 150, Revenue12m: 150, PAlive: 0.9, CLV: 400, EarlyVIP: math.NaN()},                              // CLV reaches the bar
		{Orders: 6, Revenue: 2000, Revenue12m: 0, PAlive: 0.05, EarlyVIP: math.NaN()},                                        // was big, gone
		{Orders: 1, Revenue: 50, Revenue12m: 0, PAlive: 1, EarlyVIP: math.NaN()},
		{EarlyVIP: math.NaN()}, // not a buyer
	}
	stages := []string{Active, Active, Active, Active, Lost, Lost, NonBuyer}
	tiers, threshold := DefaultVIP.VIPTiers(ps, stages)
	want := []string{VIP, VIPAtRisk, PotentialVIP, PotentialVIP, LostVIP, "", ""}
	if !slices.Equal(tiers, want) || threshold != 300 {
		t.Errorf("tiers %q (threshold %v), want %q (300)", tiers, threshold, want)
	}
	top := DefaultVIP
	top.TopShare = 0.25 // of the 4 buyers with 12-month revenue: 1
	if tiers, _ := top.VIPTiers(ps, stages); tiers[0] != VIP || tiers[1] == VIP || tiers[1] == VIPAtRisk {
		t.Errorf("top share 25%%: %q", tiers)
	}
}

func TestStrategies(t *testing.T) {
	if err := ValidateStrategies(DefaultStrategies); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stage, tier string
		p           Profile
		want        string
	}{
		{Active, VIP, Profile{}, "retain"},
		{Lost, LostVIP, Profile{}, "return"},
		{New, "", Profile{}, "develop"},
		{AtRisk, "", Profile{}, "restore"},
		{Lost, "", Profile{PAlive: 0.1}, "return"},
		{Lost, "", Profile{PAlive: 0.01}, "observe"},
	} {
		if got, _ := Strategy(DefaultStrategies, c.p, c.stage, c.tier); got != c.want {
			t.Errorf("%s/%s: %s, want %s", c.stage, c.tier, got, c.want)
		}
	}
	bad := [][]StrategyRule{
		nil,
		{{Strategy: "upsell"}},
		{{Lifecycle: []string{"sleeping"}, Strategy: "develop"}, {Strategy: "observe"}},
		{{Strategy: "develop", Lifecycle: []string{New}}},
	}
	for _, rules := range bad {
		if err := ValidateStrategies(rules); err == nil {
			t.Errorf("%+v: want an error", rules)
		}
	}
}

// randomProfiles are n buyers in four macro groups, with behaviour drawn at
// random.
func randomProfiles(n int, seed uint64) ([]Profile, []string) {
	r := rand.New(rand.NewPCG(seed, 7))
	cats := []string{"books", "home", "toys", "beauty"}
	ps := make([]Profile, n)
	macro := make([]string, n)
	for i := range ps {
		ps[i] = Profile{ID: fmt.Sprintf("C%07d", i), Orders: 1 + r.IntN(20), AvgCheck: 10 + 200*r.Float64(), DiscountShare: r.Float64(),
			PAlive: r.Float64(), CLV: 500 * r.Float64(), Revenue12m: 1000 * r.Float64(), TopCategory: cats[r.IntN(4)],
			TopBrand: fmt.Sprintf("B%d", r.IntN(6)), Channel: []string{"email", "sms", "push"}[r.IntN(3)], EarlyVIP: math.NaN()}
		macro[i] = []string{"active · high value", "active · low value", "lost · low value", "new · tiny"}[min(3, r.IntN(40)/10)]
		if macro[i] == "new · tiny" && r.IntN(10) > 0 {
			macro[i] = "active · low value"
		}
	}
	return ps, macro
}

// TestMicroSegments: every buyer in exactly one segment within the bounds
// (small macro groups joined to a neighbour), the same input gives the same
// segments, and a night later a segment that keeps most members keeps its id.
func TestMicroSegments(t *testing.T) {
	ps, macro := randomProfiles(20000, 1)
	ps = append(ps, Profile{ID: "nobody", EarlyVIP: math.NaN()}) // not a buyer: in no segment
	macro = append(macro, "non buyer · low value")
	o := DefaultSegments
	segs, err := MicroSegments(ps, macro, Previous{}, o)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, len(ps))
	for _, s := range segs {
		if len(s.Members) < o.MinSize || len(s.Members) > o.MaxSize {
			t.Errorf("segment %s (%s) has %d members", s.ID, s.Label, len(s.Members))
		}
		if !strings.HasPrefix(s.Label, s.Macro) || s.ID == "" {
			t.Errorf("segment %q labelled %q", s.ID, s.Label)
		}
		for _, i := range s.Members {
			seen[i]++
		}
	}
	for i, n := range seen {
		if (ps[i].Orders > 0 && n != 1) || (ps[i].Orders == 0 && n != 0) {
			t.Fatalf("customer %s is in %d segments", ps[i].ID, n)
		}
	}
	again, _ := MicroSegments(ps, macro, Previous{}, o)
	if fmt.Sprint(again) != fmt.Sprint(segs) {
		t.Error("the same profiles gave other segments")
	}
	// Next night: a few customers change behaviour; ids carry over.
	prev := Previous{Of: make([]string, len(ps)), Size: map[string]int{}}
	for _, s := range segs {
		for _, i := range s.Members {
			prev.Of[i] = s.ID
			prev.Size[s.ID]++
		}
	}
	next := slices.Clone(ps)
	for i := 0; i < len(next); i += 97 {
		next[i].PAlive = 1 - next[i].PAlive
	}
	later, _ := MicroSegments(next, macro, prev, o)
	old := map[string]bool{}
	for _, s := range segs {
		old[s.ID] = true
	}
	kept := 0
	for _, s := range later {
		if old[s.ID] {
			kept++
		}
	}
	t.Logf("%d segments; next night %d of %d keep their id", len(segs), kept, len(later))
	if kept < len(later)*8/10 {
		t.Errorf("only %d of %d segments kept their id after small changes", kept, len(later))
	}
	if _, err := MicroSegments(ps, macro, Previous{}, SegmentOptions{MinSize: 300, MaxSize: 500, Iterations: 5}); err == nil {
		t.Error("max_size below twice min_size: want an error")
	}
}

func TestRankFeed(t *testing.T) {
	// Of 8 buyers, 3 bought each of products 0-3; of the segment's 4
	// members, 3 bought product 0, 3 product 1, 1 product 2.
	base := []int{3, 3, 3, 3}
	o := FeedOptions{SegmentSize: 3, CustomerSize: 2, MinSupport: 2}
	// The same feed from products numbered in four bytes and in two.
	for name, feed := range map[string][]FeedItem{
		"int32":  RankFeed([]int32{1, 0, 2, 1, 0, 1, 0}, 4, base, 8, o, make([]int32, len(base))),
		"uint16": RankFeed([]uint16{1, 0, 2, 1, 0, 1, 0}, 4, base, 8, o, make([]int32, len(base))),
	} {
		// products 0 and 1: 3 of 4 members vs 3 of 8 buyers: lift 2 (ties to the lower number); product 2: 1 member (< support)
		if len(feed) != 2 || feed[0].Product != 0 || feed[1].Product != 1 || feed[0].Lift != 2 || feed[0].Buyers != 3 {
			t.Errorf("%s: feed %+v", name, feed)
		}
	}
}

// TestLogisticRecovery: on data drawn from a known logistic model, the fit
// finds the weights and ranks well; AUC counts ties as half.
func TestLogisticRecovery(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 20000
	x := make([][]float64, n)
	y := make([]bool, n)
	for i := range x {
		a, b := r.NormFloat64(), r.NormFloat64()
		x[i] = []float64{a, b}
		y[i] = r.Float64() < 1/(1+math.Exp(-(-1+2*a-b)))
	}
	m, err := FitLogistic([]string{"a", "b"}, x, y, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Standardised inputs: weights are per standard deviation (about 1 here).
	if math.Abs(m.Weights[0]*1/m.Scale[0]-2) > 0.15 || math.Abs(m.Weights[1]/m.Scale[1]+1) > 0.15 {
		t.Errorf("weights %v (scales %v), want about 2 and -1 per unit", m.Weights, m.Scale)
	}
	if a := AUC([]float64{0.1, 0.4, 0.4, 0.8}, []bool{false, false, true, true}); math.Abs(a-0.875) > 1e-12 {
		t.Errorf("AUC %v, want 0.875", a)
	}
	scores := make([]float64, n)
	for i := range x {
		scores[i] = m.Probability(x[i])
	}
	c := Classify(scores, y, 0.5)
	if c.AUC < 0.8 || c.Precision <= c.BaseRate || c.PrecisionTop1 < c.PrecisionTop5 {
		t.Errorf("metrics %+v", c)
	}
}

// rankFeedSorted is RankFeed as it was, counting a sorted list: the
// reference the counting one must agree with.
func rankFeedSorted(bought []int32, members int, baseCount []int, buyers int, o FeedOptions) []FeedItem {
	bought = slices.Clone(bought)
	slices.Sort(bought)
	var items []FeedItem
	for i := 0; i < len(bought); {
		p, j := bought[i], i+1
		for j < len(bought) && bought[j] == p {
			j++
		}
		if n := j - i; n >= o.MinSupport {
			lift := (float64(n) / float64(members)) / (float64(baseCount[p]) / float64(buyers))
			items = append(items, FeedItem{Product: p, Buyers: n, Lift: lift})
		}
		i = j
	}
	slices.SortFunc(items, func(x, y FeedItem) int {
		return cmp.Or(cmp.Compare(y.Lift, x.Lift), y.Buyers-x.Buyers, cmp.Compare(x.Product, y.Product))
	})
	return items[:min(len(items), o.SegmentSize)]
}

// buyersOf is how many buyers of the base bought each of products: 1 to
// most, at random.
func buyersOf(rng *rand.Rand, products, most int) []int {
	base := make([]int, products)
	for p := range base {
		base[p] = 1 + rng.IntN(most)
	}
	return base
}

// TestRankFeedCounts: segments of random purchases, in two bytes and four,
// ranked by counting into the shared scratch, get the feeds sorted lists
// gave, and leave the scratch zero; counted in four parts (a segment's
// members on four pods) and added up, they rank the same.
func TestRankFeedCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const products = 3000
	base := buyersOf(rng, products, 500)
	o := FeedOptions{SegmentSize: 30, CustomerSize: 10, MinSupport: 3}
	counts := make([]int32, products)
	for s := range 200 {
		members := 20 + rng.IntN(500)
		var bought []int32
		for range members * (1 + rng.IntN(12)) {
			// Skewed: a few products bought by many.
			bought = append(bought, int32(min(products-1, int(rng.ExpFloat64()*float64(1+s%300)))))
		}
		want := rankFeedSorted(bought, members, base, 40000, o)
		narrow := make([]uint16, len(bought))
		for i, p := range bought {
			narrow[i] = uint16(p)
		}
		for name, got := range map[string][]FeedItem{
			"int32":  RankFeed(slices.Clone(bought), members, base, 40000, o, counts),
			"uint16": RankFeed(narrow, members, base, 40000, o, counts),
		} {
			if !slices.Equal(got, want) {
				t.Fatalf("segment %d (%s): feed %v, want %v", s, name, got, want)
			}
		}
		if slices.ContainsFunc(counts, func(c int32) bool { return c != 0 }) {
			t.Fatalf("segment %d: the scratch is not left zero", s)
		}
		// The members split over four pods: each counts its own, the
		// counts added up rank as the whole.
		parts := make([][]int32, 4)
		for _, p := range bought {
			k := rng.IntN(len(parts))
			parts[k] = append(parts[k], p)
		}
		sum := map[int32]int{}
		for _, part := range parts {
			for _, it := range CountBought(part, counts) {
				sum[it.Product] += it.Buyers
			}
		}
		var merged []FeedItem
		for p, n := range sum {
			merged = append(merged, FeedItem{Product: p, Buyers: n})
		}
		if got := RankCounts(merged, members, base, 40000, o); !slices.Equal(got, want) {
			t.Fatalf("segment %d, counted in four parts: feed %v, want %v", s, got, want)
		}
	}
}

// BenchmarkRankFeed ranks a segment's purchases as the 1 M shop's plan
// does (2,400 segments of about 313 members and 3,000 purchases, 5,000
// products): counted, and sorted as before.
func BenchmarkRankFeed(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	const products = 5000
	base := buyersOf(rng, products, 2000)
	bought := make([]int32, 3000)
	for i := range bought {
		bought[i] = int32(min(products-1, int(rng.ExpFloat64()*400)))
	}
	narrow := make([]uint16, len(bought))
	o := DefaultFeeds
	b.Run("counted", func(b *testing.B) {
		counts := make([]int32, products)
		for range b.N {
			for i, p := range bought {
				narrow[i] = uint16(p)
			}
			RankFeed(narrow, 313, base, 750000, o, counts)
		}
	})
	b.Run("sorted", func(b *testing.B) {
		for range b.N {
			for i, p := range bought {
				narrow[i] = uint16(p)
			}
			rankFeedSorted(bought, 313, base, 750000, o)
		}
	})
}
