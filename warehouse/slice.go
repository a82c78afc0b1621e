package warehouse

import (
	"fmt"

	"github.com/go-faster/city"
)

// Slice is one shard's share of the customers: those whose id hashes to Index
// modulo Of. The hash is ClickHouse's cityHash64, so that the warehouse
// filters the rows and a shard reads only its own customers. The zero value,
// and any Of ≤ 1, is every customer. This file is the one definition of the
// hash, in Go (ShardOf) and in SQL (HashSQL, Filter).
type Slice struct{ Index, Of int }

// Whole says whether the slice is every customer.
func (s Slice) Whole() bool { return s.Of <= 1 }

// Owns says whether the customer is in the slice.
func (s Slice) Owns(customerID string) bool { return s.Whole() || ShardOf(customerID, s.Of) == s.Index }

// Filter is the SQL condition that keeps the slice's rows of a table whose
// customer is in column col; "" for the whole.
func (s Slice) Filter(col string) string {
	if s.Whole() {
		return ""
	}
	return fmt.Sprintf("%s %% %d = %d", HashSQL(col), s.Of, s.Index)
}

// ShardOf is the shard of a customer id among n: cityHash64 (as ClickHouse
// computes it, HashSQL) modulo n.
func ShardOf(customerID string, n int) int {
	return int(city.CH64([]byte(customerID)) % uint64(n))
}

// HashSQL is the SQL of ShardOf's hash of a column (or of a tuple of
// columns, joined by commas): the key Distributed tables spread rows by.
func HashSQL(cols string) string { return "cityHash64(" + cols + ")" }
