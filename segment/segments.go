package segment

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
)

// SegmentOptions bound the micro-segments.
type SegmentOptions struct {
	// MinSize and MaxSize bound the members of a micro-segment.
	MinSize int `yaml:"min_size"`
	MaxSize int `yaml:"max_size"`
	// Iterations of Lloyd's algorithm in each split.
	Iterations int `yaml:"iterations"`
}

// DefaultSegments are the default bounds.
var DefaultSegments = SegmentOptions{MinSize: 200, MaxSize: 500, Iterations: 12}

// Validate says what is wrong with the bounds.
func (o SegmentOptions) Validate() error {
	if o.MinSize < 1 || o.MaxSize < 2*o.MinSize || o.Iterations < 1 {
		return errors.New("segments: min_size at least 1, max_size at least twice min_size (so that every split can keep both halves above the minimum), iterations at least 1")
	}
	return nil
}

// ValueCuts are the cut points of the value tiers, the value band of a buyer
// for the macro groups: vip (any VIP tier), high (12-month CLV in the top 20%
// of buyers), mid (the next 40%), low. Buyers without a predicted CLV (the
// model's gate failed) are banded the same way among themselves by 12-month
// revenue. Bands go by rank with ties: buyers of equal value share a band,
// and a value of 0 (or less) is low value however many buyers have it. Where
// no buyer of a basis has a value above 0 there is no value dimension: its
// buyers get no value tier (NoValue), and the macro groups are lifecycle
// stages alone. Customers who never bought get none either.
type ValueCuts struct {
	High, Mid, RevHigh, RevMid float64
	// CLVSignal, RevSignal: some buyer of the basis has a value above 0.
	CLVSignal, RevSignal bool
}

// NoValue is the value tier of a customer with none: one who never bought,
// or a buyer where no buyer has any value to rank by.
const NoValue = ""

// NewValueCuts are the cut points of the customers' value tiers.
func NewValueCuts(ps []Profile) ValueCuts {
	var clv, rev []float64
	for _, p := range ps {
		switch {
		case p.Orders == 0:
		case math.IsNaN(p.CLV):
			rev = append(rev, p.Revenue12m)
		default:
			clv = append(clv, p.CLV)
		}
	}
	at := func(v []float64, q float64) float64 {
		if len(v) == 0 {
			return 0
		}
		return v[min(len(v)-1, int(q*float64(len(v))))]
	}
	slices.Sort(clv)
	slices.Sort(rev)
	positive := func(v []float64) bool { return len(v) > 0 && v[len(v)-1] > 0 }
	return ValueCuts{High: at(clv, 0.8), Mid: at(clv, 0.4), RevHigh: at(rev, 0.8), RevMid: at(rev, 0.4),
		CLVSignal: positive(clv), RevSignal: positive(rev)}
}

// Tier is the value tier of a customer of the VIP tier.
func (c ValueCuts) Tier(p Profile, vipTier string) string {
	v, h, m, signal := p.CLV, c.High, c.Mid, c.CLVSignal
	if math.IsNaN(v) {
		v, h, m, signal = p.Revenue12m, c.RevHigh, c.RevMid, c.RevSignal
	}
	switch {
	case vipTier != "":
		return "vip"
	case p.Orders == 0 || !signal:
		return NoValue
	case v <= 0:
		return "low value"
	case v >= h:
		return "high value"
	case v >= m:
		return "mid value"
	}
	return "low value"
}

// Segment is one micro-segment and its economics.
type Segment struct {
	ID, Macro, Label string
	Members          []int // indexes of the customers
	Revenue12m       float64
	RevenueShare     float64 // of all buyers' 12-month revenue
	MeanCLV          float64 // NaN when no member has a CLV
	ChurnRisk        float64 // 1 − mean P(alive) of the members that have one; NaN when none has
	RevenueAtRisk    float64 // Σ 12-month revenue × (1 − P(alive)) of the same
}

// behaviour columns of the segmentation space: numeric, then one-hots
var numericSpace = []struct {
	name      string
	high, low string
	value     func(Profile) float64
}{
	{"avg_check", "high check", "low check", func(p Profile) float64 { return math.Log1p(max(0, p.AvgCheck)) }},
	{"orders", "frequent", "one-off", func(p Profile) float64 { return math.Log(float64(max(1, p.Orders))) }},
	{"discount_share", "discount-driven", "full-price", func(p Profile) float64 { return p.DiscountShare }},
	{"clv", "high CLV", "low CLV", func(p Profile) float64 { return math.Log1p(max(0, p.CLV)) }},
	{"p_alive", "engaged", "fading", func(p Profile) float64 { return p.PAlive }},
}

// MicroSegments splits the buyers (customers with orders) into segments of
// MinSize to MaxSize members within their macro group (lifecycle × value tier)
// by recursive bisecting 2-means on standardised behaviour: average check,
// orders, discount share, CLV, P(alive) (each of unit variance), top category,
// top brand and preferred channel (one-hot, with weights affinityWeight,
// brandWeight and 1: what a segment buys is what its feed offers).
// Macro groups under MinSize join the nearest group first. Deterministic: the
// same profiles give the same segments. prev has the customers' segment ids
// of the previous night: a segment that keeps most of an old segment's
// members keeps its id.
func MicroSegments(ps []Profile, macro []string, prev Previous, o SegmentOptions) ([]Segment, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var buyers []int
	for i, p := range ps {
		if p.Orders > 0 {
			buyers = append(buyers, i)
		}
	}
	if len(buyers) == 0 {
		return nil, nil
	}
	space := newSpace(ps, buyers)
	// Macro groups, in key order; small ones join the nearest.
	groups := map[string][]int{}
	for _, i := range buyers {
		groups[macro[i]] = append(groups[macro[i]], i)
	}
	for {
		keys := sortedKeys(groups)
		small := ""
		for _, k := range keys {
			if len(groups[k]) < o.MinSize && len(keys) > 1 {
				small = k
				break
			}
		}
		if small == "" {
			break
		}
		c := space.centroid(groups[small])
		best, bestD := "", math.Inf(1)
		for _, k := range keys {
			if k != small {
				if d := dist2(c, space.centroid(groups[k])); d < bestD {
					best, bestD = k, d
				}
			}
		}
		groups[best] = append(groups[best], groups[small]...)
		slices.Sort(groups[best])
		delete(groups, small)
	}
	var segs []Segment
	for _, k := range sortedKeys(groups) {
		for _, leaf := range space.bisect(groups[k], o) {
			segs = append(segs, Segment{Macro: k, Members: leaf})
		}
	}
	total := 0.0
	for _, i := range buyers {
		total += ps[i].Revenue12m
	}
	for s := range segs {
		seg := &segs[s]
		var clv, alive, withCLV, withAlive float64
		for _, i := range seg.Members {
			p := ps[i]
			seg.Revenue12m += p.Revenue12m
			if !math.IsNaN(p.CLV) {
				clv += p.CLV
				withCLV++
			}
			if !math.IsNaN(p.PAlive) {
				alive += p.PAlive
				withAlive++
				seg.RevenueAtRisk += p.Revenue12m * (1 - p.PAlive)
			}
		}
		// Over the members with a prediction; NaN (NULL) when none has one.
		seg.MeanCLV, seg.ChurnRisk = clv/withCLV, 1-alive/withAlive
		if withAlive == 0 {
			seg.RevenueAtRisk = math.NaN()
		}
		if total > 0 {
			seg.RevenueShare = seg.Revenue12m / total
		}
		seg.Label = space.label(ps, seg)
	}
	assignIDs(ps, segs, prev)
	return segs, nil
}

func sortedKeys(m map[string][]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// space holds the buyers' standardised behaviour: the numeric columns dense,
// row-major, and the three one-hots (top category, top brand, channel) as the
// index of their one column, so that a distance costs the numeric columns and
// three look-ups however many categories and brands there are.
type space struct {
	dim                 int       // numeric columns, then one column per category, brand and channel
	row                 []int     // customer index → row
	x                   []float64 // numeric columns, row-major
	hot                 [][3]int32
	cats, brands, chans []string
}

// Weights of the one-hot columns against the unit-variance behaviour columns.
const (
	affinityWeight = 3.0
	brandWeight    = 2.0
)

var hotWeights = [3]float64{affinityWeight, brandWeight, 1}

func newSpace(ps []Profile, buyers []int) *space {
	catSet, brandSet, chanSet := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, i := range buyers {
		catSet[ps[i].TopCategory] = true
		brandSet[ps[i].TopBrand] = true
		chanSet[ps[i].Channel] = true
	}
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	s := &space{cats: keys(catSet), brands: keys(brandSet), chans: keys(chanSet), row: make([]int, len(ps))}
	nn := len(numericSpace)
	s.dim = nn + len(s.cats) + len(s.brands) + len(s.chans)
	s.x = make([]float64, len(buyers)*nn)
	s.hot = make([][3]int32, len(buyers))
	// A value not predicted (NaN: the model's gate failed) sits at the mean
	// of those predicted, so that the dimension does not place it.
	mean, sd, known := make([]float64, nn), make([]float64, nn), make([]float64, nn)
	for r, i := range buyers {
		s.row[i] = r
		for j, f := range numericSpace {
			v := f.value(ps[i])
			s.x[r*nn+j] = v
			if !math.IsNaN(v) {
				mean[j] += v
				known[j]++
			}
		}
	}
	for j := range mean {
		mean[j] /= max(1, known[j])
	}
	for r := range buyers {
		for j := range numericSpace {
			if math.IsNaN(s.x[r*nn+j]) {
				s.x[r*nn+j] = mean[j]
			}
			d := s.x[r*nn+j] - mean[j]
			sd[j] += d * d / float64(len(buyers))
		}
	}
	catIdx, brandIdx, chanIdx := map[string]int{}, map[string]int{}, map[string]int{}
	for k, c := range s.cats {
		catIdx[c] = k
	}
	for k, c := range s.brands {
		brandIdx[c] = k
	}
	for k, c := range s.chans {
		chanIdx[c] = k
	}
	for r, i := range buyers {
		v := s.x[r*nn : (r+1)*nn]
		for j := range numericSpace {
			if sd[j] > 0 {
				v[j] = (v[j] - mean[j]) / math.Sqrt(sd[j])
			} else {
				v[j] = 0
			}
		}
		s.hot[r] = [3]int32{int32(nn + catIdx[ps[i].TopCategory]), int32(nn + len(s.cats) + brandIdx[ps[i].TopBrand]),
			int32(nn + len(s.cats) + len(s.brands) + chanIdx[ps[i].Channel])}
	}
	return s
}

// center is a point of the space, dense, with the squared norm of its one-hot part.
type center struct {
	c     []float64
	hotSq float64
}

func (s *space) newCenter(c []float64) center {
	ct := center{c: c}
	for _, v := range c[len(numericSpace):] {
		ct.hotSq += v * v
	}
	return ct
}

// point is customer i as a dense vector.
func (s *space) point(i int) center {
	nn := len(numericSpace)
	r := s.row[i]
	c := make([]float64, s.dim)
	copy(c, s.x[r*nn:(r+1)*nn])
	for g, j := range s.hot[r] {
		c[j] = hotWeights[g]
	}
	return s.newCenter(c)
}

// dist is the squared distance of customer i to a center:
// Σ numeric (x−c)² + Σ one-hot c² + Σ over i's three columns (w² − 2wc).
func (s *space) dist(i int, ct center) float64 {
	nn := len(numericSpace)
	r := s.row[i]
	d := ct.hotSq
	for j, v := range s.x[r*nn : (r+1)*nn] {
		t := v - ct.c[j]
		d += t * t
	}
	for g, j := range s.hot[r] {
		w := hotWeights[g]
		d += w*w - 2*w*ct.c[j]
	}
	return d
}

func (s *space) centroid(members []int) []float64 {
	nn := len(numericSpace)
	c := make([]float64, s.dim)
	for _, i := range members {
		r := s.row[i]
		for j, v := range s.x[r*nn : (r+1)*nn] {
			c[j] += v
		}
		for g, j := range s.hot[r] {
			c[j] += hotWeights[g]
		}
	}
	for j := range c {
		c[j] /= float64(len(members))
	}
	return c
}

func dist2(a, b []float64) float64 {
	d := 0.0
	for j := range a {
		t := a[j] - b[j]
		d += t * t
	}
	return d
}

// bisect splits members until every part has at most MaxSize members; every
// split keeps both halves at MinSize or more (a part above MaxSize has at least
// twice MinSize members), so every leaf is within the bounds. Large parts split
// their halves on two cores; the leaves come out in the same order.
func (s *space) bisect(members []int, o SegmentOptions) [][]int {
	if len(members) <= o.MaxSize {
		return [][]int{members}
	}
	a, b := s.split(members, o)
	if len(members) < 20000 {
		return append(s.bisect(a, o), s.bisect(b, o)...)
	}
	var left [][]int
	done := make(chan struct{})
	go func() {
		left = s.bisect(a, o)
		close(done)
	}()
	right := s.bisect(b, o)
	<-done
	return append(left, right...)
}

// split is a deterministic 2-means: it starts from the member farthest from
// the centroid and the member farthest from that one, runs Lloyd's iterations,
// then moves the members closest to the boundary into a half below MinSize.
func (s *space) split(members []int, o SegmentOptions) ([]int, []int) {
	far := func(from center) center {
		best, bestD := members[0], -1.0
		for _, i := range members {
			if d := s.dist(i, from); d > bestD {
				best, bestD = i, d
			}
		}
		return s.point(best)
	}
	ca := far(s.newCenter(s.centroid(members)))
	cb := far(ca)
	side := make([]bool, len(members)) // true: b
	for it := 0; it < o.Iterations; it++ {
		changed := false
		for k, i := range members {
			toB := s.dist(i, cb) < s.dist(i, ca)
			changed = changed || toB != side[k]
			side[k] = toB
		}
		as, bs := halves(members, side)
		if len(as) == 0 || len(bs) == 0 {
			break
		}
		ca, cb = s.newCenter(s.centroid(as)), s.newCenter(s.centroid(bs))
		if !changed && it > 0 {
			break
		}
	}
	// Rebalance: a half under MinSize takes the other half's members that are
	// nearest to it relative to their own centre.
	nb := 0
	for _, v := range side {
		if v {
			nb++
		}
	}
	rebalance := func(toB bool, need int) {
		type cand struct {
			k    int
			cost float64
		}
		var cs []cand
		for k, i := range members {
			if side[k] != toB {
				cost := s.dist(i, cb) - s.dist(i, ca)
				if !toB {
					cost = -cost
				}
				cs = append(cs, cand{k, cost})
			}
		}
		slices.SortStableFunc(cs, func(x, y cand) int { return cmp.Compare(x.cost, y.cost) })
		for _, c := range cs[:need] {
			side[c.k] = toB
		}
	}
	if nb < o.MinSize {
		rebalance(true, o.MinSize-nb)
	} else if len(members)-nb < o.MinSize {
		rebalance(false, o.MinSize-(len(members)-nb))
	}
	return halves(members, side)
}

// halves splits members by side (true: the second half), keeping their order.
func halves(members []int, side []bool) (as, bs []int) {
	for k, i := range members {
		if side[k] {
			bs = append(bs, i)
		} else {
			as = append(as, i)
		}
	}
	return as, bs
}

// label names a segment: its macro group, its most distinctive behaviour (the
// standardised mean furthest from 0, if at least half a standard deviation),
// its dominant top category and channel when most members share them.
func (s *space) label(ps []Profile, seg *Segment) string {
	parts := []string{seg.Macro}
	c := s.centroid(seg.Members)
	best, bestZ := -1, 0.5
	for j := range numericSpace {
		if math.Abs(c[j]) >= bestZ {
			best, bestZ = j, math.Abs(c[j])
		}
	}
	nn := len(numericSpace)
	dominant := func(off int, names []string, weight, share float64) string {
		k := -1
		for j := range names {
			if c[off+j] >= share*weight && (k < 0 || c[off+j] > c[off+k]) {
				k = j
			}
		}
		if k < 0 || names[k] == "" {
			return ""
		}
		return names[k]
	}
	if cat := dominant(nn, s.cats, affinityWeight, 0.4); cat != "" {
		parts = append(parts, cat)
	}
	if best >= 0 {
		if c[best] > 0 {
			parts = append(parts, numericSpace[best].high)
		} else {
			parts = append(parts, numericSpace[best].low)
		}
	}
	if ch := dominant(nn+len(s.cats)+len(s.brands), s.chans, 1, 0.6); ch != "" {
		parts = append(parts, ch)
	}
	return strings.Join(parts, " · ")
}

// Previous is the night before's micro-segments: Of[i] is the segment id of
// customer i of the profiles then ("" for none), Size the members of each.
type Previous struct {
	Of   []string
	Size map[string]int
}

// assignIDs keeps last night's id for a segment that holds more than half of
// its members and of that old segment's members here, the largest overlaps
// first; other segments get an id from a hash of their members.
func assignIDs(ps []Profile, segs []Segment, prev Previous) {
	type pair struct {
		seg     int
		id      string
		overlap int
	}
	var pairs []pair
	for s, seg := range segs {
		count := map[string]int{}
		for _, i := range seg.Members {
			if i < len(prev.Of) && prev.Of[i] != "" {
				count[prev.Of[i]]++
			}
		}
		for id, n := range count {
			if 2*n > len(seg.Members) && 2*n > prev.Size[id] {
				pairs = append(pairs, pair{s, id, n})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if a.overlap != b.overlap {
			return b.overlap - a.overlap
		}
		return cmp.Or(strings.Compare(a.id, b.id), a.seg-b.seg)
	})
	used := map[string]bool{}
	for _, p := range pairs {
		if segs[p.seg].ID == "" && !used[p.id] {
			segs[p.seg].ID = p.id
			used[p.id] = true
		}
	}
	for s := range segs {
		if segs[s].ID != "" {
			continue
		}
		ids := make([]string, len(segs[s].Members))
		for k, i := range segs[s].Members {
			ids[k] = ps[i].ID
		}
		slices.Sort(ids)
		h := fnv.New64a()
		for _, id := range ids {
			h.Write([]byte(id))
			h.Write([]byte{0})
		}
		id := fmt.Sprintf("seg-%012x", h.Sum64()>>16)
		for used[id] {
			id += "x"
		}
		segs[s].ID = id
		used[id] = true
	}
}
