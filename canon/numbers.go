package canon

import "strconv"

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat is strconv.ParseFloat(s, 64) (the same number, the same
// error), quicker for what money columns hold: an optional minus, digits,
// and a point with digits, fifteen digits in all at most. Such a number is
// an integer below 2^53 divided by a power of ten, both held exactly, so one
// division rounds it as ParseFloat does (Clinger's fast path, which
// strconv takes too, after more work: 1.2 of the 10.7 s of CPU the order
// lines of the 1 M shop took to build went to ParseFloat).
func parseFloat(s []byte) (float64, error) {
	if f, ok := plainDecimal(s); ok {
		return f, nil
	}
	return strconv.ParseFloat(unsafeString(s), 64)
}

func plainDecimal(s []byte) (float64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 16 {
		return 0, false
	}
	var m uint64
	digits, frac, point := 0, 0, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if point {
				frac++
			}
		case c == '.' && !point && digits > 0:
			point = true
		default:
			return 0, false
		}
	}
	if digits > 15 || (point && frac == 0) {
		return 0, false
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// parseInt32 is strconv.ParseInt(s, 10, 32), quicker for an optional minus
// and up to nine digits (any of which fits).
func parseInt32(s []byte) (int64, error) {
	t := s
	neg := len(t) > 0 && t[0] == '-'
	if neg {
		t = t[1:]
	}
	if len(t) == 0 || len(t) > 9 {
		return strconv.ParseInt(unsafeString(s), 10, 32)
	}
	var n int64
	for _, c := range t {
		if c < '0' || c > '9' {
			return strconv.ParseInt(unsafeString(s), 10, 32)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}
