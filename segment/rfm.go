package segment

import (
	"cmp"
	"fmt"
	"slices"
)

// RFM are a customer's recency, frequency and monetary scores, each 1 to 5 by
// quintiles of the base (5 is the most recent, most frequent, biggest spender).
type RFM struct{ R, F, M int }

// Code is the 3-digit code, R first: "545".
func (s RFM) Code() string { return fmt.Sprintf("%d%d%d", s.R, s.F, s.M) }

// Segment is the named RFM segment of the code (see RFMGrid).
func (s RFM) Segment() string { return RFMGrid[5-s.R][(s.F+s.M+1)/2-1] }

// Cell is the trigger-campaign cell of the 45-cell grid: R 1–5 by F and M in
// three bands each (scores 1–2 low, 3–4 mid, 5 high), as "R5 F2 M3".
func (s RFM) Cell() string {
	band := func(v int) int { return (v + 1) / 2 }
	return fmt.Sprintf("R%d F%d M%d", s.R, band(s.F), band(s.M))
}

// RFMGrid names the segment of each recency score (rows, R 5 down to 1) and
// FM score (columns, 1 to 5), where FM is the mean of F and M rounded up. Every
// one of the 125 codes falls in exactly one cell; RFMSegments lists them.
var RFMGrid = [5][5]string{
	{"New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"}, // R5
	{"Promising", "Potential Loyalist", "Loyal", "Loyal", "Champions"},                      // R4
	{"About To Sleep", "Need Attention", "Need Attention", "Loyal", "Loyal"},                // R3
	{"Hibernating", "About To Sleep", "At Risk", "At Risk", "Can't Lose Them"},              // R2
	{"Lost", "Hibernating", "At Risk", "Can't Lose Them", "Can't Lose Them"},                // R1
}

// RFMSegments is the code-to-segment table of all 125 codes, in code order.
func RFMSegments() [][2]string {
	var out [][2]string
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			for m := 1; m <= 5; m++ {
				s := RFM{r, f, m}
				out = append(out, [2]string{s.Code(), s.Segment()})
			}
		}
	}
	return out
}

// RFMScores scores every customer from days since the last order, orders and
// revenue. A score is 1 + ⌊5 × (customers with a strictly worse value) / n⌋, so
// that equal values always get equal scores (many one-order customers share F).
func RFMScores(daysSinceLast, orders, revenue []float64) []RFM {
	cuts := NewRFMCuts(slices.Clone(daysSinceLast), slices.Clone(orders), slices.Clone(revenue))
	out := make([]RFM, len(daysSinceLast))
	for i := range out {
		out[i] = cuts.Score(daysSinceLast[i], orders[i], revenue[i])
	}
	return out
}

// RFMCuts are the four values of each dimension where a score changes: the
// scores of the customers they were made from, for one customer at a time,
// without the others' values.
type RFMCuts struct {
	n int
	// R: a recency above none of R[j-1] (fewer days) makes a score above j;
	// F and M: a value above F[j-1] (M[j-1]) does.
	R, F, M [4]float64
}

// NewRFMCuts makes the cut points from every customer's days since the last
// order, orders and revenue. It sorts the slices it is given.
//
// A customer with w strictly worse values scores above j when w ≥ ⌈j·n/5⌉:
// for higher-is-better values that is a value above the ⌈j·n/5⌉-th smallest,
// for recency one below the (n−⌈j·n/5⌉+1)-th smallest (NaN first, as sorted).
func NewRFMCuts(daysSinceLast, orders, revenue []float64) RFMCuts {
	c := RFMCuts{n: len(daysSinceLast)}
	if c.n == 0 {
		return c
	}
	for _, v := range [][]float64{daysSinceLast, orders, revenue} {
		slices.Sort(v)
	}
	for j := 1; j <= 4; j++ {
		m := (j*c.n + 4) / 5
		c.R[j-1] = daysSinceLast[c.n-m]
		c.F[j-1], c.M[j-1] = orders[m-1], revenue[m-1]
	}
	return c
}

// Score is the RFM of one of the customers the cuts were made from.
func (c RFMCuts) Score(daysSinceLast, orders, revenue float64) RFM {
	s := RFM{1, 1, 1}
	for j := range 4 {
		// A recency of NaN has every value as worse (as sorted, none is equal to it).
		if daysSinceLast != daysSinceLast || cmp.Less(daysSinceLast, c.R[j]) {
			s.R++
		}
		if cmp.Less(c.F[j], orders) {
			s.F++
		}
		if cmp.Less(c.M[j], revenue) {
			s.M++
		}
	}
	return s
}
