package canon

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// BenchmarkBuilderEvents appends site events as extract does at a million
// customers: each names one of 1,000,000 customers (a parent's sealed set)
// and carries a new key into a window of 1,048,576 keys, in batches of
// 65,536 rows. At that size both lookups miss the cache: what a row costs
// is mostly how those misses wait on one another.
func BenchmarkBuilderEvents(b *testing.B) {
	const customers, rows, batch = 1000000, 4 << 20, 1 << 16
	sets := KeySets{Customers: NewKeys()}
	defer sets.Free()
	for i := range customers {
		sets[Customers].Add(fmt.Appendf(nil, "C%08d", i))
	}
	sets[Customers].Seal()
	t, err := Lookup(Events)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([][]byte, rows)
	for n := range ids {
		ids[n] = fmt.Appendf(nil, "E%08d-1", n)
	}
	r := rand.New(rand.NewPCG(1, 2))
	fields := make([][][]byte, batch)
	for i := range fields {
		fields[i] = row(t, "ts=2025-08-06 19:35:19", fmt.Sprintf("customer_id=C%08d", r.IntN(customers)),
			fmt.Sprintf("session_id=S%08d-1", i), "type=product_view", "product_id=P003069", "category=beauty/premium")
	}
	id := t.Index("event_id")
	b.ResetTimer()
	for range b.N {
		sets[Events] = NewWindow(1 << 20)
		bl, err := NewBuilder(memory.NewGoAllocator(), t, sets)
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < rows; n += batch {
			for i, f := range fields {
				f[id] = ids[n+i]
				if rule, detail := bl.Append(f); rule != "" {
					b.Fatal(rule, detail)
				}
			}
			bl.NewRecord().Release()
		}
		bl.Release()
		sets[Events].Free()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkWindowAdd adds 4,194,304 new keys to a window of 1,048,576: the
// lookups of BenchmarkBuilderEvents alone.
func BenchmarkWindowAdd(b *testing.B) {
	const rows = 4 << 20
	ids := make([][]byte, rows)
	for n := range ids {
		ids[n] = fmt.Appendf(nil, "E%08d-1", n)
	}
	b.ResetTimer()
	for range b.N {
		k := NewWindow(1 << 20)
		for _, id := range ids {
			k.Add(id)
		}
		k.Free()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkBuilderOrders appends orders as extract does at a million
// customers: 3,145,728 new keys of a versioned table, into a window of
// 1,048,576 that remembers them all (the lines' parent), each naming one
// of 1,000,000 customers, in batches of 65,536 rows; one in a hundred is
// an order read again with a newer version, in the same batch.
func BenchmarkBuilderOrders(b *testing.B) {
	const customers, rows, batch = 1000000, 3 << 20, 1 << 16
	sets := KeySets{Customers: NewKeys()}
	defer sets.Free()
	for i := range customers {
		sets[Customers].Add(fmt.Appendf(nil, "C%08d", i))
	}
	sets[Customers].Seal()
	t, err := Lookup(Orders)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([][]byte, rows)
	for n := range ids {
		ids[n] = fmt.Appendf(nil, "O%08d", n)
		if n%100 == 99 {
			ids[n] = ids[n-1]
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	fields := make([][][]byte, batch)
	for i := range fields {
		fields[i] = goodOrder(t, fmt.Sprintf("customer_id=C%08d", r.IntN(customers)),
			fmt.Sprintf("updated_at=2025-03-16 00:%02d:%02d", i%100/60, i%100%60))
	}
	id := t.Index("order_id")
	b.ResetTimer()
	for range b.N {
		sets[Orders] = NewWindow(1 << 20)
		sets[Orders].RememberAll()
		bl, err := NewBuilder(memory.NewGoAllocator(), t, sets)
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < rows; n += batch {
			for i, f := range fields {
				f[id] = ids[n+i]
				if rule, detail := bl.Append(f); rule != "" {
					b.Fatal(rule, detail)
				}
			}
			bl.NewRecord().Release()
		}
		bl.Release()
		sets[Orders].Free()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
