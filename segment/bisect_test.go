package segment

import (
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/micro_segments.golden from the current code")

// placed places the buyers of ps as MicroSegments does: their points and
// the rows of each macro group, in order.
func placed(ps []Profile, macro []string) (*Points, map[string][]int32) {
	st := NewSpaceStats()
	for _, p := range ps {
		st.Mean(p)
	}
	for _, p := range ps {
		st.Spread(p)
	}
	pts := st.Frame().Points(len(ps))
	groups := map[string][]int32{}
	for i, p := range ps {
		pts.Add(p)
		groups[macro[i]] = append(groups[macro[i]], int32(i))
	}
	return pts, groups
}

// tiedProfiles are n buyers in two macro groups whose behaviour takes two
// or three values per column: many buyers share a point, and many lie as
// far from one centre as from the other.
func tiedProfiles(n int, seed uint64) ([]Profile, []string) {
	r := rand.New(rand.NewPCG(seed, 5))
	ps := make([]Profile, n)
	macro := make([]string, n)
	for i := range ps {
		ps[i] = Profile{ID: fmt.Sprintf("T%07d", i), Orders: 1 + r.IntN(3), AvgCheck: float64(10 * (1 + r.IntN(2))), DiscountShare: float64(r.IntN(2)) / 2,
			PAlive: []float64{0.2, 0.8}[r.IntN(2)], CLV: float64(100 * r.IntN(2)), Revenue12m: float64(50 * r.IntN(3)), TopCategory: []string{"books", "home"}[r.IntN(2)],
			TopBrand: []string{"B0", "B1"}[r.IntN(2)], Channel: []string{"email", "sms"}[r.IntN(2)], EarlyVIP: math.NaN()}
		macro[i] = []string{"active · low value", "lost · low value"}[r.IntN(2)]
	}
	return ps, macro
}

// buyerKinds are the buyers the bisection's tests bisect: of random
// behaviour, and of few distinct points (tiedProfiles).
var buyerKinds = []struct {
	name     string
	profiles func(n int, seed uint64) ([]Profile, []string)
}{
	{"random", randomProfiles},
	{"tied", tiedProfiles},
}

// TestMicroSegmentsGolden: the segments of 60,000 buyers (each macro group
// large enough to split on two cores) are those recorded in testdata,
// member for member, for buyers of random behaviour and for buyers of few
// distinct points (ties everywhere). The bisection is rewritten for speed
// from time to time; what it makes must not change, or every published
// segment id changes with it.
func TestMicroSegmentsGolden(t *testing.T) {
	for _, tc := range buyerKinds {
		t.Run(tc.name, func(t *testing.T) {
			ps, macro := tc.profiles(60000, 3)
			segs, err := MicroSegments(ps, macro, Previous{}, DefaultSegments)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, s := range segs {
				h := fnv.New64a()
				for _, i := range s.Members {
					fmt.Fprintf(h, "%d,", i)
				}
				fmt.Fprintf(&b, "%s\t%s\t%d\t%016x\n", s.ID, s.Label, s.Size, h.Sum64())
			}
			path := filepath.Join("testdata", "micro_segments_"+tc.name+".golden")
			if *updateGolden {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("the segments differ from %s (%d segments now, %d lines there)", path, len(segs), strings.Count(string(want), "\n"))
			}
		})
	}
}

// BenchmarkBisect bisects 750,000 random buyers in four macro groups (the
// buyers of a 1,000,000-customer shop), each group to segments of 200–500,
// one group after another and every group at once (BisectGroups);
// "one pass" is the floor it is measured against in the same run: each
// buyer's distance to two centres, once (a split's Lloyd iteration makes
// such a pass and sums the centroids).
func BenchmarkBisect(b *testing.B) {
	ps, macro := randomProfiles(750000, 1)
	pts, groups := placed(ps, macro)
	b.Run("bisect", func(b *testing.B) {
		for b.Loop() {
			for _, rows := range groups {
				pts.Bisect(slices.Clone(rows), DefaultSegments)
			}
		}
	})
	b.Run("groups at once", func(b *testing.B) {
		for b.Loop() {
			all := make([][]int32, 0, len(groups))
			for _, rows := range groups {
				all = append(all, slices.Clone(rows))
			}
			pts.BisectGroups(all, DefaultSegments, func(int, [][]int32) {})
		}
	})
	b.Run("one pass", func(b *testing.B) {
		a, c := pts.point(0), pts.point(1)
		sum := 0.0
		for b.Loop() {
			for _, rows := range groups {
				for _, r := range rows {
					da, db := pts.dists(r, a, c)
					sum += da - db
				}
			}
		}
		b.ReportMetric(sum*0, "zero")
	})
}

// TestSplitGathered: a split on a gathered copy of its members' points
// makes the halves the split on the points where they lie makes, for a
// group's first split and one deep in it.
func TestSplitGathered(t *testing.T) {
	for _, tc := range buyerKinds {
		ps, macro := tc.profiles(20000, 7)
		pts, groups := placed(ps, macro)
		split := 0
		for _, g := range sortedKeys(groups) {
			rows := groups[g]
			// Every third row: a part whose rows lie apart, as deep in a bisection.
			var apart []int32
			for k := 0; k < len(rows); k += 3 {
				apart = append(apart, rows[k])
			}
			for _, members := range [][]int32{rows, apart} {
				if len(members) <= DefaultSegments.MaxSize { // never split
					continue
				}
				wantA, wantB := splitOn(pts, members, slices.Clone(members), DefaultSegments)
				q, local := pts.gather(members)
				gotA, gotB := splitOn(q, local, slices.Clone(members), DefaultSegments)
				if !slices.Equal(gotA, wantA) || !slices.Equal(gotB, wantB) {
					t.Errorf("%s, %s, %d members: gathered halves of %d and %d, %d and %d where they lie", tc.name, g, len(members), len(gotA), len(gotB), len(wantA), len(wantB))
				}
				split++
			}
		}
		if split < 2 {
			t.Errorf("%s: %d parts split; want a group's and one of its rows apart", tc.name, split)
		}
	}
}

// TestBisectGroups: the groups bisected at once make the leaves each makes
// bisected alone, for groups large and small (one of them never split).
func TestBisectGroups(t *testing.T) {
	for _, tc := range buyerKinds {
		ps, macro := tc.profiles(50000, 11)
		pts, groups := placed(ps, macro)
		var alone, together [][]int32
		for _, g := range sortedKeys(groups) {
			rows := groups[g]
			// The group, every fifth row of it, and a group of one segment.
			var fifth []int32
			for k := 0; k < len(rows); k += 5 {
				fifth = append(fifth, rows[k])
			}
			alone = append(alone, rows, fifth, rows[:DefaultSegments.MaxSize])
		}
		for _, rows := range alone {
			together = append(together, slices.Clone(rows))
		}
		got := make([][][]int32, len(together))
		pts.BisectGroups(together, DefaultSegments, func(k int, leaves [][]int32) { got[k] = leaves })
		if len(got) != len(alone) {
			t.Fatalf("%s: %d groups' leaves, want %d", tc.name, len(got), len(alone))
		}
		for k, rows := range alone {
			want := pts.Bisect(slices.Clone(rows), DefaultSegments)
			if len(got[k]) != len(want) {
				t.Errorf("%s, group %d of %d rows: %d leaves together, %d alone", tc.name, k, len(rows), len(got[k]), len(want))
				continue
			}
			if len(want) < 2 && len(rows) > DefaultSegments.MaxSize {
				t.Errorf("%s, group %d of %d rows: not split", tc.name, k, len(rows))
			}
			for j := range want {
				if !slices.Equal(got[k][j], want[j]) {
					t.Errorf("%s, group %d, leaf %d: %d members together, %d alone, or other members", tc.name, k, j, len(got[k][j]), len(want[j]))
				}
			}
		}
	}
}
