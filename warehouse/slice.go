package warehouse

import (
	"fmt"
	"math/bits"

	"github.com/go-faster/city"
)

// Slice is one shard's share of the customers: those whose id hashes into
// the Index-th of Of equal ranges of the 64-bit hash. The hash is
// ClickHouse's cityHash64, so that the warehouse filters the rows; and a
// range, not a remainder, so that a table whose sorting key leads with the
// hash (the site and campaign events) reads only the slice's own granules.
// The zero value, and any Of ≤ 1, is every customer. This file is the one
// definition of the hash and the ranges, in Go (ShardOf) and in SQL
// (HashSQL, Filter).
type Slice struct{ Index, Of int }

// Whole says whether the slice is every customer.
func (s Slice) Whole() bool { return s.Of <= 1 }

// Owns says whether the customer is in the slice.
func (s Slice) Owns(customerID string) bool { return s.Whole() || ShardOf(customerID, s.Of) == s.Index }

// Filter is the SQL condition that keeps the slice's rows of a table whose
// customer is in column col; "" for the whole.
func (s Slice) Filter(col string) string { return s.FilterHashed(HashSQL(col)) }

// FilterHashed is Filter of a column (or an expression) that holds the
// customer's hash itself.
func (s Slice) FilterHashed(hash string) string {
	if s.Whole() {
		return ""
	}
	var conds []string
	if s.Index > 0 {
		conds = append(conds, fmt.Sprintf("%s >= %d", hash, rangeStart(s.Index, s.Of)))
	}
	if s.Index < s.Of-1 {
		conds = append(conds, fmt.Sprintf("%s < %d", hash, rangeStart(s.Index+1, s.Of)))
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + conds[0] + " AND " + conds[1] + ")"
}

// ShardOf is the shard of a customer id among n: the range of cityHash64
// (as ClickHouse computes it, HashSQL) it falls in, ⌊hash · n / 2⁶⁴⌋.
func ShardOf(customerID string, n int) int { return ShardOfHash(city.CH64([]byte(customerID)), n) }

// ShardOfHash is ShardOf of a customer id's cityHash64, for a reader that
// needs the hash too.
func ShardOfHash(hash uint64, n int) int {
	hi, _ := bits.Mul64(hash, uint64(n))
	return int(hi)
}

// rangeStart is the first hash of shard i of n, ⌈i · 2⁶⁴ / n⌉ (0 < i < n).
func rangeStart(i, n int) uint64 {
	q, r := bits.Div64(uint64(i), 0, uint64(n))
	if r != 0 {
		q++
	}
	return q
}

// HashSQL is the SQL of ShardOf's hash of a column (or of a tuple of
// columns, joined by commas): the key Distributed tables spread rows by.
func HashSQL(cols string) string { return "cityHash64(" + cols + ")" }
