package synth

import (
	"math"
	"math/rand/v2"
)

// rng wraps a PCG source with the few distributions the shop needs. Hand-written
// so that sampling allocates nothing (gonum's distuv builds a rand.Rand per draw).
type rng struct{ *rand.Rand }

func newRNG(seed int64, stream uint64) rng {
	return rng{rand.New(rand.NewPCG(uint64(seed), stream*0x9E3779B97F4A7C15+1))}
}

// gamma draws from Gamma(shape, rate) by Marsaglia and Tsang's method.
func (r rng) gamma(shape, rate float64) float64 {
	if shape < 1 {
		// Boost: Gamma(a) = Gamma(a+1) · U^(1/a).
		return r.gamma(shape+1, rate) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v / rate
		}
	}
}

// beta draws from Beta(a, b).
func (r rng) beta(a, b float64) float64 {
	x := r.gamma(a, 1)
	y := r.gamma(b, 1)
	return x / (x + y)
}

// poisson draws from Poisson(mean) for the small means used here.
func (r rng) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	l := math.Exp(-mean)
	k, p := 0, r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

// exp draws an exponential waiting time with the given rate.
func (r rng) exp(rate float64) float64 { return r.ExpFloat64() / rate }

func (r rng) chance(p float64) bool { return r.Float64() < p }

// pick returns an index drawn with the given cumulative weights.
func (r rng) pick(cum []float64) int {
	u := r.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

func cumulative(w ...float64) []float64 {
	out := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		out[i] = s
	}
	return out
}
