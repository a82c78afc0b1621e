package segment

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	return ValueCutsOf(clv, rev)
}

// ValueCutsOf are the cut points of the value tiers from the 12-month CLVs of
// the buyers that have one and the 12-month revenues of those that do not.
// It sorts the slices it is given.
func ValueCutsOf(clv, rev []float64) ValueCuts {
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
	Size             int
	Members          []int // indexes of the customers (MicroSegments; a planner in passes keeps its own)
	Revenue12m       float64
	RevenueShare     float64 // of all buyers' 12-month revenue
	MeanCLV          float64 // NaN when no member has a CLV
	ChurnRisk        float64 // 1 − mean P(alive) of the members that have one; NaN when none has
	RevenueAtRisk    float64 // Σ 12-month revenue × (1 − P(alive)) of the same
}

// behaviour columns of the segmentation space: numeric, then one-hots
var numericSpace = [...]struct {
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
//
// It holds every buyer at once. A planner that cannot reads the buyers in
// passes and makes the same segments from the same steps: SpaceStats,
// JoinSmall, Points.Bisect, Segment.Tally, Points.Label, KeptID, HashedID
// and NameSegments.
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
	st := NewSpaceStats()
	for _, i := range buyers {
		st.Mean(ps[i])
	}
	for _, i := range buyers {
		st.Spread(ps[i])
	}
	f := st.Frame()
	pts := f.Points(len(buyers))
	sizes := map[string]int{}
	total := 0.0
	for _, i := range buyers {
		pts.Add(ps[i])
		sizes[macro[i]]++
		total += ps[i].Revenue12m
	}
	into, err := JoinSmall(sizes, o.MinSize, func(into map[string]string) (map[string][]float64, error) {
		c := f.Centroids()
		for r, i := range buyers {
			c.AddRow(into[macro[i]], pts, r)
		}
		return c.Means(), nil
	})
	if err != nil {
		return nil, err
	}
	groups := map[string][]int32{}
	for r, i := range buyers {
		g := into[macro[i]]
		groups[g] = append(groups[g], int32(r))
	}
	var segs []Segment
	keys := sortedKeys(groups)
	rows := make([][]int32, len(keys))
	for b, k := range keys {
		rows[b] = groups[k]
	}
	made := make([][][]int32, len(keys))
	pts.BisectGroups(rows, o, func(b int, leaves [][]int32) { made[b] = leaves })
	for b, leaves := range made {
		k := keys[b]
		for _, leaf := range leaves {
			seg := Segment{Macro: k, Size: len(leaf), Members: make([]int, len(leaf))}
			overlap := map[string]int{}
			for j, r := range leaf {
				i := buyers[r]
				seg.Members[j] = i
				if i < len(prev.Of) && prev.Of[i] != "" {
					overlap[prev.Of[i]]++
				}
			}
			seg.Tally(func(yield func(Member) bool) {
				for _, i := range seg.Members {
					if !yield(Member{ps[i].Revenue12m, ps[i].CLV, ps[i].PAlive}) {
						return
					}
				}
			}, total)
			seg.Label = pts.Label(k, leaf)
			seg.ID = KeptID(seg.Size, overlap, prev.Size)
			segs = append(segs, seg)
		}
	}
	hashed := make([]string, len(segs))
	for s, seg := range segs {
		if seg.ID == "" {
			ids := make([]string, len(seg.Members))
			for k, i := range seg.Members {
				ids[k] = ps[i].ID
			}
			slices.Sort(ids)
			hashed[s] = HashedID(slices.Values(ids))
		}
	}
	NameSegments(segs, hashed)
	return segs, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Weights of the one-hot columns against the unit-variance behaviour columns.
const (
	affinityWeight = 3.0
	brandWeight    = 2.0
)

var hotWeights = [3]float64{affinityWeight, brandWeight, 1}

// SpaceStats gathers, over the buyers in order, what places a buyer in the
// segmentation space: the mean and variance of each behaviour column and the
// categories, brands and channels there are. Mean takes every buyer, then
// Spread takes the same buyers in the same order.
type SpaceStats struct {
	sum, known, mean, variance []float64
	n                          int
	meant                      bool
	cats, brands, chans        map[string]bool
}

// NewSpaceStats is ready for the buyers' Mean.
func NewSpaceStats() *SpaceStats {
	nn := len(numericSpace)
	return &SpaceStats{sum: make([]float64, nn), known: make([]float64, nn), mean: make([]float64, nn), variance: make([]float64, nn),
		cats: map[string]bool{}, brands: map[string]bool{}, chans: map[string]bool{}}
}

// Mean takes a buyer's behaviour into the means.
func (st *SpaceStats) Mean(p Profile) {
	for j, f := range numericSpace {
		// A value not predicted (NaN: the model's gate failed) sits at the
		// mean of those predicted, so that the dimension does not place it.
		if v := f.value(p); !math.IsNaN(v) {
			st.sum[j] += v
			st.known[j]++
		}
	}
	st.n++
	st.cats[p.TopCategory], st.brands[p.TopBrand], st.chans[p.Channel] = true, true, true
}

func (st *SpaceStats) means() {
	if !st.meant {
		for j := range st.mean {
			st.mean[j] = st.sum[j] / max(1, st.known[j])
		}
		st.meant = true
	}
}

// Spread takes a buyer's behaviour into the variances, once every buyer is
// in the means.
func (st *SpaceStats) Spread(p Profile) {
	st.means()
	for j, f := range numericSpace {
		v := f.value(p)
		if math.IsNaN(v) {
			v = st.mean[j]
		}
		d := v - st.mean[j]
		st.variance[j] += d * d / float64(st.n)
	}
}

// Frame is the space the buyers gathered make: how a buyer is placed in it.
func (st *SpaceStats) Frame() *Frame {
	keys := func(m map[string]bool) ([]string, map[string]int) {
		out := sortedKeys(m)
		idx := make(map[string]int, len(out))
		for k, v := range out {
			idx[v] = k
		}
		return out, idx
	}
	f := &Frame{mean: st.mean, variance: st.variance}
	f.cats, f.catIdx = keys(st.cats)
	f.brands, f.brandIdx = keys(st.brands)
	f.chans, f.chanIdx = keys(st.chans)
	f.dim = len(numericSpace) + len(f.cats) + len(f.brands) + len(f.chans)
	return f
}

// Frame places buyers in the segmentation space: the numeric columns
// standardised, and the three one-hots (top category, top brand, channel) as
// the index of their one column, so that a distance costs the numeric columns
// and three look-ups however many categories and brands there are.
type Frame struct {
	dim                       int // numeric columns, then one column per category, brand and channel
	mean, variance            []float64
	cats, brands, chans       []string
	catIdx, brandIdx, chanIdx map[string]int
}

// place is a buyer's standardised numeric columns (into x; raw: only NaN
// replaced by the mean) and one-hot columns.
func (f *Frame) place(p Profile, x []float64, raw bool) [3]int32 {
	for j, c := range numericSpace {
		v := c.value(p)
		if math.IsNaN(v) {
			v = f.mean[j]
		}
		x[j] = v
		if !raw {
			x[j] = f.standard(j, v)
		}
	}
	nn := len(numericSpace)
	return [3]int32{int32(nn + f.catIdx[p.TopCategory]), int32(nn + len(f.cats) + f.brandIdx[p.TopBrand]),
		int32(nn + len(f.cats) + len(f.brands) + f.chanIdx[p.Channel])}
}

// standard is value v of numeric column j standardised.
func (f *Frame) standard(j int, v float64) float64 {
	if f.variance[j] > 0 {
		return (v - f.mean[j]) / math.Sqrt(f.variance[j])
	}
	return 0
}

// Points are buyers placed in a frame, numbered in the order added.
type Points struct {
	f   *Frame
	raw bool      // not yet standardised: RawPoints
	x   []float64 // numeric columns, row-major
	hot [][3]int32
}

// Points is an empty set of points, with room for n.
func (f *Frame) Points(n int) *Points {
	return &Points{f: f, x: make([]float64, 0, n*len(numericSpace)), hot: make([][3]int32, 0, n)}
}

// RawPoints is an empty set of points, with room for n, placed while Spread
// takes the same buyers: Standardize then makes them what Points would
// have. Mean has taken every buyer.
func (st *SpaceStats) RawPoints(n int) *Points {
	st.means()
	pts := st.Frame().Points(n)
	pts.raw = true
	return pts
}

// Standardize makes raw points points of f, the frame of the stats that
// placed them once Spread has taken every buyer.
func (pts *Points) Standardize(f *Frame) {
	pts.f = f
	if !pts.raw {
		return
	}
	nn := len(numericSpace)
	for k, v := range pts.x {
		pts.x[k] = f.standard(k%nn, v)
	}
	pts.raw = false
}

// Add places a buyer: the next row.
func (pts *Points) Add(p Profile) {
	nn := len(numericSpace)
	pts.x = append(pts.x, make([]float64, nn)...)
	pts.hot = append(pts.hot, pts.f.place(p, pts.x[len(pts.x)-nn:], pts.raw))
}

// Centroids sums buyers' points by group.
type Centroids struct {
	f   *Frame
	sum map[string][]float64
	n   map[string]int
}

// Centroids is ready to sum.
func (f *Frame) Centroids() *Centroids {
	return &Centroids{f: f, sum: map[string][]float64{}, n: map[string]int{}}
}

// Add adds a buyer of a group.
func (c *Centroids) Add(group string, p Profile) {
	var x [8]float64 // numeric columns: fewer than 8
	hot := c.f.place(p, x[:len(numericSpace)], false)
	c.add(group, x[:len(numericSpace)], hot)
}

// AddRow adds row r of pts (standardised) to a group.
func (c *Centroids) AddRow(group string, pts *Points, r int) {
	nn := len(numericSpace)
	c.add(group, pts.x[r*nn:(r+1)*nn], pts.hot[r])
}

func (c *Centroids) add(group string, x []float64, hot [3]int32) {
	s := c.sum[group]
	if s == nil {
		s = make([]float64, c.f.dim)
		c.sum[group] = s
	}
	for j, v := range x {
		s[j] += v
	}
	for g, j := range hot {
		s[j] += hotWeights[g]
	}
	c.n[group]++
}

// Means are the centroids of the groups.
func (c *Centroids) Means() map[string][]float64 {
	for g, s := range c.sum {
		for j := range s {
			s[j] /= float64(c.n[g])
		}
	}
	return c.sum
}

// JoinSmall joins each macro group of fewer than minSize buyers (sizes) to the
// nearest group by centroid, the first small group in name order first, until
// none is small or one is left: into maps each group to the group it is now
// part of. centroids gives the centroid of each group as joined so far.
func JoinSmall(sizes map[string]int, minSize int, centroids func(into map[string]string) (map[string][]float64, error)) (map[string]string, error) {
	into, size := map[string]string{}, map[string]int{}
	for k, n := range sizes {
		into[k], size[k] = k, n
	}
	for {
		keys := sortedKeys(size)
		small := ""
		for _, k := range keys {
			if size[k] < minSize && len(keys) > 1 {
				small = k
				break
			}
		}
		if small == "" {
			return into, nil
		}
		cs, err := centroids(into)
		if err != nil {
			return nil, err
		}
		best, bestD := "", math.Inf(1)
		for _, k := range keys {
			if k != small {
				if d := dist2(cs[small], cs[k]); d < bestD {
					best, bestD = k, d
				}
			}
		}
		size[best] += size[small]
		delete(size, small)
		for k, g := range into {
			if g == small {
				into[k] = best
			}
		}
	}
}

// center is a point of the space, dense, with the squared norm of its one-hot part.
type center struct {
	c     []float64
	hotSq float64
}

func newCenter(c []float64) center {
	ct := center{c: c}
	for _, v := range c[len(numericSpace):] {
		ct.hotSq += v * v
	}
	return ct
}

// point is row r as a dense vector.
func (pts *Points) point(r int32) center {
	nn := len(numericSpace)
	c := make([]float64, pts.f.dim)
	copy(c, pts.x[int(r)*nn:(int(r)+1)*nn])
	for g, j := range pts.hot[r] {
		c[j] = hotWeights[g]
	}
	return newCenter(c)
}

// numericDims is the count of numeric columns, a constant: a row's numeric
// part is an array, which the distance loops read without bounds checks.
const numericDims = len(numericSpace)

// dist is the squared distance of row r to a center:
// Σ numeric (x−c)² + Σ one-hot c² + Σ over r's three columns (w² − 2wc).
func (pts *Points) dist(r int32, ct center) float64 {
	x, c := (*[numericDims]float64)(pts.x[int(r)*numericDims:]), (*[numericDims]float64)(ct.c)
	d := ct.hotSq
	for j := range numericDims {
		t := x[j] - c[j]
		d += t * t
	}
	for g, j := range pts.hot[r] {
		w := hotWeights[g]
		d += w*w - 2*w*ct.c[j]
	}
	return d
}

// dists is dist of row r to a and to b, each summed as dist sums it (the
// same values), in one pass: Lloyd's iterations ask both for every member.
func (pts *Points) dists(r int32, a, b center) (float64, float64) {
	x := (*[numericDims]float64)(pts.x[int(r)*numericDims:])
	ac, bc := (*[numericDims]float64)(a.c), (*[numericDims]float64)(b.c)
	da, db := a.hotSq, b.hotSq
	for j := range numericDims {
		t := x[j] - ac[j]
		da += t * t
		u := x[j] - bc[j]
		db += u * u
	}
	for g, j := range pts.hot[r] {
		w := hotWeights[g]
		da += w*w - 2*w*a.c[j]
		db += w*w - 2*w*b.c[j]
	}
	return da, db
}

// centroid is the mean of the rows.
func (pts *Points) centroid(rows []int32) []float64 { return mean(pts.sum(rows), len(rows)) }

// sum is the sums of the rows' columns.
func (pts *Points) sum(rows []int32) []float64 {
	c := make([]float64, pts.f.dim)
	for _, r := range rows {
		pts.addTo(c, r)
	}
	return c
}

// boundMargin widens split's distance bounds, relative and absolute: far
// above the rounding of a distance computed (about 1e-15 of it) and of a
// bound kept in a float32 (6e-8), so that a member is passed over only when
// its distances, computed, would keep it on its side.
const boundMargin = 1e-5

// above is a bound above distance d, below one below it (boundMargin).
func above(d float64) float64 { return d*(1+boundMargin) + boundMargin }
func below(d float64) float64 { return d*(1-boundMargin) - boundMargin }

// mean is sums divided by n, in a new slice.
func mean(sums []float64, n int) []float64 {
	out := make([]float64, len(sums))
	for j, v := range sums {
		out[j] = v / float64(n)
	}
	return out
}

// move takes row r out of the sums from and adds it to the sums to.
func (pts *Points) move(from, to []float64, r int32) {
	x, f, t := (*[numericDims]float64)(pts.x[int(r)*numericDims:]), (*[numericDims]float64)(from), (*[numericDims]float64)(to)
	for j := range numericDims {
		f[j] -= x[j]
		t[j] += x[j]
	}
	for g, j := range pts.hot[r] {
		from[j] -= hotWeights[g]
		to[j] += hotWeights[g]
	}
}

// addTo adds row r to the sums c.
func (pts *Points) addTo(c []float64, r int32) {
	x, s := (*[numericDims]float64)(pts.x[int(r)*numericDims:]), (*[numericDims]float64)(c)
	for j := range numericDims {
		s[j] += x[j]
	}
	for g, j := range pts.hot[r] {
		c[j] += hotWeights[g]
	}
}

func dist2(a, b []float64) float64 {
	d := 0.0
	for j := range a {
		t := a[j] - b[j]
		d += t * t
	}
	return d
}

// Bisect splits rows (of one macro group, in order) until every part has at
// most MaxSize members; every split keeps both halves at MinSize or more (a
// part above MaxSize has at least twice MinSize members), so every leaf is
// within the bounds. It reorders rows in place: the leaves are parts of it,
// each in order. Large parts split their halves on two cores; the leaves come
// out in the same order.
func (pts *Points) Bisect(rows []int32, o SegmentOptions) [][]int32 {
	// At most GOMAXPROCS splits run at once (a split is all CPU), so at most
	// that many copies of their points live (gather), however many halves
	// wait their turn.
	running := make(chan struct{}, runtime.GOMAXPROCS(0))
	return pts.bisect(rows, o, running)
}

// BisectGroups bisects each of groups (the rows of disjoint macro groups)
// as Bisect does, every group at once, and hands group k's leaves, the ones
// Bisect makes of it alone, to done(k, leaves) on the goroutine that made
// them: done runs for several groups at once. A small group's splits run
// one after another, and a large group's first split on one core: a group
// at a time leaves the other cores idle through them. Splits still run
// GOMAXPROCS at most.
func (pts *Points) BisectGroups(groups [][]int32, o SegmentOptions, done func(k int, leaves [][]int32)) {
	running := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for k, rows := range groups {
		wg.Go(func() { done(k, pts.bisect(rows, o, running)) })
	}
	wg.Wait()
}

func (pts *Points) bisect(rows []int32, o SegmentOptions, running chan struct{}) [][]int32 {
	if len(rows) <= o.MaxSize {
		return [][]int32{rows}
	}
	running <- struct{}{}
	a, b := pts.split(rows, o)
	<-running
	if len(rows) < 20000 {
		return append(pts.bisect(a, o, running), pts.bisect(b, o, running)...)
	}
	var left [][]int32
	done := make(chan struct{})
	go func() {
		left = pts.bisect(a, o, running)
		close(done)
	}()
	right := pts.bisect(b, o, running)
	<-done
	return append(left, right...)
}

// gatherUpTo is the size of a part up to which split copies its members'
// points together first (20 MB at most). Larger parts are the first
// splits of large macro groups: a copy of theirs would add to the plan's
// peak (a batch of up to 2 million buyers' points, 150 MB, at ten million
// customers). Each split running holds one (Bisect runs GOMAXPROCS at most).
const gatherUpTo = 1 << 18

// gather copies the points of rows, in order, into points of their own:
// row k of the copy is rows[k]. It returns the copy and its rows, 0 to
// len(rows)-1.
func (pts *Points) gather(rows []int32) (*Points, []int32) {
	q := &Points{f: pts.f, raw: pts.raw, x: make([]float64, len(rows)*numericDims), hot: make([][3]int32, len(rows))}
	local := make([]int32, len(rows))
	for k, r := range rows {
		*(*[numericDims]float64)(q.x[k*numericDims:]) = *(*[numericDims]float64)(pts.x[int(r)*numericDims:])
		q.hot[k] = pts.hot[r]
		local[k] = int32(k)
	}
	return q, local
}

// split is a deterministic 2-means: it starts from the member farthest from
// the centroid and the member farthest from that one, runs Lloyd's iterations,
// then moves the members closest to the boundary into a half below MinSize.
func (pts *Points) split(members []int32, o SegmentOptions) ([]int32, []int32) {
	// The members' points copied side by side, in order: a split reads them
	// a dozen times or more, and deep in the bisection a part's rows lie far
	// apart in pts (a cache miss each). Same values, same order: the same
	// sums and distances.
	if len(members) <= gatherUpTo {
		q, rows := pts.gather(members)
		return splitOn(q, rows, members, o)
	}
	return splitOn(pts, members, members, o)
}

// splitOn splits members, whose points are rows of q (members themselves,
// or a gathered copy's rows).
func splitOn(q *Points, rows, members []int32, o SegmentOptions) ([]int32, []int32) {
	far := func(from center) center {
		best, bestD := rows[0], -1.0
		for _, r := range rows {
			if d := q.dist(r, from); d > bestD {
				best, bestD = r, d
			}
		}
		return q.point(best)
	}
	// The sums of each side's members, kept as members change sides: an
	// iteration adds and takes away the members that moved, not every one.
	sumA, sumB := q.sum(rows), make([]float64, q.f.dim)
	ca := far(newCenter(mean(sumA, len(members))))
	cb := far(ca)
	side := make([]bool, len(members)) // true: b
	// Bounds on each member's distance to its own centre (up) and to the
	// other (low), widened by how far the centres move: a member whose own
	// centre stays nearer by a margin far above rounding keeps its side
	// without its distances computed, as computing them would have decided.
	up, low := make([]float32, len(members)), make([]float32, len(members))
	var moveA, moveB float64
	nb := 0
	for it := 0; it < o.Iterations; it++ {
		changed := false
		for k, r := range rows {
			own, other := moveA, moveB
			if side[k] {
				own, other = moveB, moveA
			}
			if it > 0 {
				u, l := float64(up[k])+own, float64(low[k])-other
				up[k], low[k] = float32(u), float32(l)
				if u < l {
					continue
				}
			}
			da, db := q.dists(r, ca, cb)
			toB := db < da
			dOwn, dOther := da, db
			if toB {
				dOwn, dOther = db, da
			}
			up[k], low[k] = float32(above(math.Sqrt(max(dOwn, 0)))), float32(below(math.Sqrt(max(dOther, 0))))
			if toB == side[k] {
				continue
			}
			changed = true
			side[k] = toB
			if toB {
				nb++
				q.move(sumA, sumB, r)
			} else {
				nb--
				q.move(sumB, sumA, r)
			}
		}
		if nb == 0 || nb == len(members) || !changed {
			break
		}
		na, nbc := newCenter(mean(sumA, len(members)-nb)), newCenter(mean(sumB, nb))
		moveA, moveB = above(math.Sqrt(dist2(ca.c, na.c))), above(math.Sqrt(dist2(cb.c, nbc.c)))
		ca, cb = na, nbc
	}
	// Rebalance: a half under MinSize takes the other half's members that are
	// nearest to it relative to their own centre.
	rebalance := func(toB bool, need int) {
		type cand struct {
			k    int
			cost float64
		}
		var cs []cand
		for k, r := range rows {
			if side[k] != toB {
				cost := q.dist(r, cb) - q.dist(r, ca)
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
	// The halves in place, each keeping its order.
	var bs []int32
	na := 0
	for k, r := range members {
		if side[k] {
			bs = append(bs, r)
		} else {
			members[na] = r
			na++
		}
	}
	copy(members[na:], bs)
	return members[:na:na], members[na:]
}

// Label names a segment of rows of a macro group: the group, its most
// distinctive behaviour (the standardised mean furthest from 0, if at least
// half a standard deviation), its dominant top category and channel when most
// members share them.
func (pts *Points) Label(macro string, rows []int32) string {
	f := pts.f
	parts := []string{macro}
	c := pts.centroid(rows)
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
	if cat := dominant(nn, f.cats, affinityWeight, 0.4); cat != "" {
		parts = append(parts, cat)
	}
	if best >= 0 {
		if c[best] > 0 {
			parts = append(parts, numericSpace[best].high)
		} else {
			parts = append(parts, numericSpace[best].low)
		}
	}
	if ch := dominant(nn+len(f.cats)+len(f.brands), f.chans, 1, 0.6); ch != "" {
		parts = append(parts, ch)
	}
	return strings.Join(parts, " · ")
}

// Member is what a segment's economics take of each of its members.
type Member struct{ Revenue12m, CLV, PAlive float64 }

// Tally sets the segment's economics from its members, in order; total is
// every buyer's 12-month revenue.
func (seg *Segment) Tally(members iter.Seq[Member], total float64) {
	var clv, alive, withCLV, withAlive float64
	for m := range members {
		seg.Revenue12m += m.Revenue12m
		if !math.IsNaN(m.CLV) {
			clv += m.CLV
			withCLV++
		}
		if !math.IsNaN(m.PAlive) {
			alive += m.PAlive
			withAlive++
			seg.RevenueAtRisk += m.Revenue12m * (1 - m.PAlive)
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
}

// Previous is the night before's micro-segments: Of[i] is the segment id of
// customer i of the profiles then ("" for none), Size the members of each.
type Previous struct {
	Of   []string
	Size map[string]int
}

// KeptID is the id of the night before's segment that a segment of size
// members keeps: one that holds more than half of its members and of that old
// segment's members (at most one can), or "". overlap counts the members of
// each old segment among the segment's.
func KeptID(size int, overlap map[string]int, prevSize map[string]int) string {
	for id, n := range overlap {
		if 2*n > size && 2*n > prevSize[id] {
			return id
		}
	}
	return ""
}

// HashedID is the id of a segment that keeps no old one: a hash of its
// members' ids, given in sorted order.
func HashedID(ids iter.Seq[string]) string {
	h := fnv.New64a()
	for id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("seg-%012x", h.Sum64()>>16)
}

// NameSegments gives each segment without a kept id its hashed id (hashed,
// by segment), in order, marked until unused.
func NameSegments(segs []Segment, hashed []string) {
	used := map[string]bool{}
	for _, s := range segs {
		if s.ID != "" {
			used[s.ID] = true
		}
	}
	for s := range segs {
		if segs[s].ID != "" {
			continue
		}
		id := hashed[s]
		for used[id] {
			id += "x"
		}
		segs[s].ID = id
		used[id] = true
	}
}
