// Package lookalike ranks customers by how much they look like a seed
// audience (a segment's members, the VIPs, a list), for ad platforms'
// look-alike uploads.
package lookalike

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/tessera-cdp/tessera/segment"
)

// Methods are the ways to score similarity.
const (
	// Logistic: an L2-regularised logistic regression of seed against the
	// rest; its probability ranks. It weighs each input by how well it
	// tells the seed apart.
	Logistic = "logistic"
	// Centroid: the distance to the seed's mean on standardised inputs,
	// every input weighed alike.
	Centroid = "centroid"
)

// Scored is one customer not in the seed, with its score (higher: more
// alike).
type Scored struct {
	Index int // row of the input
	Score float64
}

// Rank scores every row not in the seed (seed[i] true) by its likeness to
// the seed rows and returns them, the most alike first (ties by row).
func Rank(names []string, x [][]float64, seed []bool, method string) ([]Scored, error) {
	var nSeed int
	for _, s := range seed {
		if s {
			nSeed++
		}
	}
	if nSeed == 0 || nSeed == len(x) {
		return nil, errors.New("look-alike: the seed must hold some of the customers and not all of them")
	}
	var score func(row []float64) float64
	switch method {
	case Logistic:
		// l2 as the early potential-VIP model's default: the seed is a
		// small share of the base, and its inputs are few.
		m, err := segment.FitLogistic(names, x, seed, 1e-3)
		if err != nil {
			return nil, fmt.Errorf("look-alike: %w", err)
		}
		score = m.Probability
	case Centroid:
		score = centroid(x, seed)
	default:
		return nil, fmt.Errorf("look-alike: method %q is not logistic or centroid", method)
	}
	out := make([]Scored, 0, len(x)-nSeed)
	for i, row := range x {
		if !seed[i] {
			out = append(out, Scored{i, score(row)})
		}
	}
	slices.SortFunc(out, func(a, b Scored) int { return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Index, b.Index)) })
	return out, nil
}

// centroid scores a row by minus its distance to the seed's mean, each
// input standardised over every row.
func centroid(x [][]float64, seed []bool) func([]float64) float64 {
	d := len(x[0])
	mean, sd, center := make([]float64, d), make([]float64, d), make([]float64, d)
	n := float64(len(x))
	var nSeed float64
	for i, row := range x {
		for j, v := range row {
			mean[j] += v / n
			if seed[i] {
				center[j] += v
			}
		}
		if seed[i] {
			nSeed++
		}
	}
	for _, row := range x {
		for j, v := range row {
			sd[j] += (v - mean[j]) * (v - mean[j]) / n
		}
	}
	for j := range sd {
		center[j] /= nSeed
		if sd[j] = math.Sqrt(sd[j]); sd[j] == 0 {
			sd[j] = 1
		}
	}
	return func(row []float64) float64 {
		dist := 0.0
		for j, v := range row {
			z := (v - center[j]) / sd[j]
			dist += z * z
		}
		return -math.Sqrt(dist)
	}
}
