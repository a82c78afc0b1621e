package segment

import (
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
	n := len(daysSinceLast)
	out := make([]RFM, n)
	if n == 0 {
		return out
	}
	score := func(v []float64, higherIsBetter bool, set func(i, s int)) {
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		for i, x := range v {
			var worse int
			if higherIsBetter {
				worse, _ = slices.BinarySearch(sorted, x) // values below x
			} else {
				k, found := slices.BinarySearch(sorted, x)
				if found && x == x { // past the values equal to x (not NaN's: none is equal to it)
					past, _ := slices.BinarySearchFunc(sorted[k:], x, func(e, t float64) int {
						if e > t {
							return 1
						}
						return -1
					})
					k += past
				}
				worse = n - k // values above x: older last orders
			}
			set(i, 1+5*worse/n)
		}
	}
	score(daysSinceLast, false, func(i, s int) { out[i].R = s })
	score(orders, true, func(i, s int) { out[i].F = s })
	score(revenue, true, func(i, s int) { out[i].M = s })
	return out
}
