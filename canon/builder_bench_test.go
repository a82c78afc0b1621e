package canon

import (
	"fmt"
	"hash/maphash"
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
	const rows = 4 << 20
	t, sets := benchTable(b, Events)
	defer sets.Free()
	ids := make([][]byte, rows)
	for n := range ids {
		ids[n] = fmt.Appendf(nil, "E%08d-1", n)
	}
	r := rand.New(rand.NewPCG(1, 2))
	fields := make([][][]byte, benchBatch)
	for i := range fields {
		fields[i] = row(t, "ts=2025-08-06 19:35:19", fmt.Sprintf("customer_id=C%08d", r.IntN(benchCustomers)),
			fmt.Sprintf("session_id=S%08d-1", i), "type=product_view", "product_id=P003069", "category=beauty/premium")
	}
	buildBatches(b, t, sets, func() *Keys { return NewWindow(1 << 20) }, fields, ids, "event_id")
}

// BenchmarkBuilderOrders appends orders as extract does at a million
// customers: 3,145,728 new keys of a versioned table, into a window of
// 1,048,576 that remembers them all (the lines' parent), each naming one
// of 1,000,000 customers, in batches of 65,536 rows; one in a hundred is
// an order read again with a newer version, in the same batch.
func BenchmarkBuilderOrders(b *testing.B) {
	const rows = 3 << 20
	t, sets := benchTable(b, Orders)
	defer sets.Free()
	ids := make([][]byte, rows)
	for n := range ids {
		ids[n] = fmt.Appendf(nil, "O%08d", n)
		if n%100 == 99 {
			ids[n] = ids[n-1]
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	fields := make([][][]byte, benchBatch)
	for i := range fields {
		fields[i] = goodOrder(t, fmt.Sprintf("customer_id=C%08d", r.IntN(benchCustomers)),
			fmt.Sprintf("updated_at=2025-03-16 00:%02d:%02d", i%100/60, i%100%60))
	}
	window := func() *Keys {
		k := NewWindow(1 << 20)
		k.RememberAll()
		return k
	}
	buildBatches(b, t, sets, window, fields, ids, "order_id")
}

// The builder benchmarks' sizes: a million customers, batches of 65,536.
const benchCustomers, benchBatch = 1000000, 1 << 16

// benchTable is table e and the sealed set of benchCustomers customers,
// C00000000 on, that its rows name.
func benchTable(b *testing.B, e Entity) (*Table, KeySets) {
	sets := KeySets{Customers: NewKeys()}
	for i := range benchCustomers {
		sets[Customers].Add(fmt.Appendf(nil, "C%08d", i))
	}
	sets[Customers].Seal()
	t, err := Lookup(e)
	if err != nil {
		b.Fatal(err)
	}
	return t, sets
}

// buildBatches appends, b.N times into a fresh key set (keys), a row for
// each of ids (in column key), batch after batch of fields, and reports
// the time a row.
func buildBatches(b *testing.B, t *Table, sets KeySets, keys func() *Keys, fields [][][]byte, ids [][]byte, key string) {
	id := t.Index(key)
	b.ResetTimer()
	for range b.N {
		sets[t.Entity] = keys()
		bl, err := NewBuilder(memory.NewGoAllocator(), t, sets)
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < len(ids); n += len(fields) {
			for i, f := range fields {
				f[id] = ids[n+i]
				if rule, detail := bl.Append(f); rule != "" {
					b.Fatal(rule, detail)
				}
			}
			bl.NewRecord().Release()
		}
		bl.Release()
		sets[t.Entity].Free()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/row")
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

// BenchmarkIndexPrefetch puts 2,879,149 orders' hashes into an Index (as
// many orders as the 1 M shop has), then gets 9,369,776 (its order lines,
// each naming an order), asking for the cache lines of the lookup ahead
// entries on (0: none), as extract's owners do.
func BenchmarkIndexPrefetch(b *testing.B) {
	const orders, lines = 2_879_149, 9_369_776
	hs := make([]uint64, orders)
	for n := range hs {
		hs[n] = maphash.Bytes(benchSeed, fmt.Appendf(nil, "O%09d", n))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	gets := make([]uint64, lines)
	for n := range gets {
		// A line's order is one landed a little before it.
		gets[n] = hs[max(0, min(orders-1, n*orders/lines-rng.IntN(1000)))]
	}
	for _, ahead := range []int{0, 4, 8, 16} {
		b.Run(fmt.Sprintf("ahead=%d", ahead), func(b *testing.B) {
			for range b.N {
				x := NewIndex()
				for i, h := range hs {
					if ahead > 0 && i+ahead < len(hs) {
						x.Prefetch(hs[i+ahead])
					}
					x.Put(h, int64(i))
				}
				for i, h := range gets {
					if ahead > 0 && i+ahead < len(gets) {
						x.Prefetch(gets[i+ahead])
					}
					if _, ok := x.Get(h); !ok {
						b.Fatal("a hash put is not found")
					}
				}
				x.Free()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(orders+lines)), "ns/op")
		})
	}
}

var benchSeed = maphash.MakeSeed()
