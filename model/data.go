// Package model holds Tessera's customer-lifetime models: the buy-till-you-die
// purchase models (BG/NBD, MBG/NBD, Pareto/NBD), Gamma-Gamma spend, what is
// predicted from them (P(alive), expected purchases, next order, CLV), their
// holdout evaluation and choice, the artefact they are stored as, and the one
// list of model kinds. It is pure computation on slices: it knows neither
// Arrow nor ClickHouse. Segmentation built on these lives in package segment.
package model

import (
	"fmt"
	"math"
	"slices"
)

// Data is the repeat-purchase summary of a set of customers in one time unit:
// X repeat purchases, Tx the time of the last one after the first purchase (0
// without repeats), T the time from the first purchase to the end of the period,
// and Weight how many customers share the row (identical rows are collapsed).
// Rows are sorted by X, so that terms depending only on X and the parameters are
// computed once per distinct X.
type Data struct {
	X, Tx, T, Weight []float64
	// distinct X values and where their rows end
	xs   []float64
	ends []int
}

// NewData collapses identical (x, tx, T) rows and validates them.
func NewData(x, tx, t []float64) (Data, error) {
	if len(x) != len(tx) || len(x) != len(t) {
		return Data{}, fmt.Errorf("model: %d frequencies, %d recencies, %d ages", len(x), len(tx), len(t))
	}
	type row struct {
		x, tx, t float64
		w        float64
	}
	// Collapse identical rows with a hash first: far fewer rows to sort.
	index := make(map[[3]float64]int, len(x)/4)
	var rows []row
	for i := range x {
		r := row{x[i], tx[i], t[i], 1}
		switch {
		case !(r.x >= 0) || r.x != math.Trunc(r.x) || math.IsInf(r.x, 0):
			return Data{}, fmt.Errorf("model: row %d: frequency %v is not a whole number ≥ 0", i, r.x)
		case !(r.t >= 0) || math.IsInf(r.t, 0):
			return Data{}, fmt.Errorf("model: row %d: age T %v must be ≥ 0", i, r.t)
		case !(r.tx >= 0) || r.tx > r.t:
			return Data{}, fmt.Errorf("model: row %d: recency %v must be within [0, T=%v]", i, r.tx, r.t)
		case r.x == 0 && r.tx != 0:
			return Data{}, fmt.Errorf("model: row %d: recency %v without repeat purchases", i, r.tx)
		}
		key := [3]float64{r.x, r.tx, r.t}
		if j, ok := index[key]; ok {
			rows[j].w++
			continue
		}
		index[key] = len(rows)
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b row) int {
		switch {
		case a.x != b.x:
			return cmpF(a.x, b.x)
		case a.tx != b.tx:
			return cmpF(a.tx, b.tx)
		}
		return cmpF(a.t, b.t)
	})
	var d Data
	for _, r := range rows {
		d.X, d.Tx, d.T, d.Weight = append(d.X, r.x), append(d.Tx, r.tx), append(d.T, r.t), append(d.Weight, r.w)
	}
	d.group()
	return d, nil
}

// sample keeps every k-th distinct row, for a quick first fit.
func (d Data) sample(k int) Data {
	var s Data
	for i := 0; i < len(d.X); i += k {
		s.X, s.Tx, s.T, s.Weight = append(s.X, d.X[i]), append(s.Tx, d.Tx[i]), append(s.T, d.T[i]), append(s.Weight, d.Weight[i])
	}
	s.group()
	return s
}

// group finds the runs of equal X in rows sorted by X.
func (d *Data) group() {
	d.xs, d.ends = nil, nil
	for i, x := range d.X {
		if i == 0 || x != d.X[i-1] {
			if i > 0 {
				d.ends = append(d.ends, i)
			}
			d.xs = append(d.xs, x)
		}
	}
	if len(d.X) > 0 {
		d.ends = append(d.ends, len(d.X))
	}
}

// hasRepeats reports whether any customer bought more than once.
func (d Data) hasRepeats() bool { return len(d.xs) > 0 && d.xs[len(d.xs)-1] > 0 }

// Customers is the number of customers (the sum of the weights).
func (d Data) Customers() float64 {
	n := 0.0
	for _, w := range d.Weight {
		n += w
	}
	return n
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// logAddExp is log(e^a + e^b) without overflow.
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}
