package canon

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseFloat checks parseFloat against strconv.ParseFloat, bit for bit
// and error for error: on the shapes extract meets and on random decimals
// of every length the quick path takes and a few beyond.
func TestParseFloat(t *testing.T) {
	cases := []string{"0", "-0", "0.0", "-0.00", "12.34", "-12.34", "0.1", "0.3", "1.005", "99999.99",
		"123456789012345", "1234567890123456", "12345678901234.5", "0.000000000000001", "007.50",
		"5.", ".5", "-.5", "-", "", "+1", "1e5", "1E-3", "NaN", "Inf", "-inf", "1_000", "1.2.3", "12a",
		"0x1p-2", " 1", "1 ", "--1", "9007199254740993", "179769313486231570000000000000000000000"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		digits := 1 + rng.IntN(17)
		m := rng.Uint64() % uint64(math.Pow10(min(digits, 19)))
		s := strconv.FormatUint(m, 10)
		if p := rng.IntN(len(s) + 1); p < len(s) {
			s = s[:p] + "." + s[p:]
			if p == 0 {
				s = "0" + s
			}
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	quick := 0
	for _, s := range cases {
		want, werr := strconv.ParseFloat(s, 64)
		got, gerr := parseFloat([]byte(s))
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseFloat(%q) = %v (%b), %v; ParseFloat: %v (%b), %v", s, got, math.Float64bits(got), gerr, want, math.Float64bits(want), werr)
		}
		if _, ok := plainDecimal([]byte(s)); ok {
			quick++
		}
	}
	if quick < len(cases)/2 {
		t.Errorf("only %d of %d numbers took the quick path", quick, len(cases))
	}
}

// TestParseInt32 checks parseInt32 against strconv.ParseInt(s, 10, 32).
func TestParseInt32(t *testing.T) {
	cases := []string{"0", "-0", "7", "-7", "123456789", "-123456789", "2147483647", "2147483648", "-2147483648",
		"-2147483649", "0012", "+3", "3.0", "", "-", "1e3", " 1", "1_0", "99999999999"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		cases = append(cases, strconv.FormatInt(rng.Int64N(1<<34)-1<<33, 10))
	}
	for _, s := range cases {
		want, werr := strconv.ParseInt(s, 10, 32)
		got, gerr := parseInt32([]byte(s))
		if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("parseInt32(%q) = %d, %v; ParseInt: %d, %v", s, got, gerr, want, werr)
		}
	}
}

// BenchmarkParseFloat parses money as order lines carry it.
func BenchmarkParseFloat(b *testing.B) {
	vals := [][]byte{[]byte("12.99"), []byte("1499.00"), []byte("-3.50"), []byte("0.99"), []byte("249.9")}
	for _, bc := range []struct {
		name  string
		parse func([]byte) (float64, error)
	}{
		{"strconv", func(s []byte) (float64, error) { return strconv.ParseFloat(unsafeString(s), 64) }},
		{"parseFloat", parseFloat},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sum := 0.0
			for i := range b.N {
				f, _ := bc.parse(vals[i%len(vals)])
				sum += f
			}
			if sum == 0.5 {
				b.Log(sum)
			}
		})
	}
}
