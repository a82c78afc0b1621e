package canon

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTally spills 10 M key hashes, 1% of them repeats of earlier ones,
// and counts the repeats: what extract's count of the keys landed twice
// costs for 10 M rows (the site events of a million customers are 36.6 M).
func BenchmarkTally(b *testing.B) {
	const rows = 10_000_000
	rng := rand.New(rand.NewPCG(3, 4))
	hashes := make([]uint64, rows)
	want := int64(0)
	for i := range hashes {
		if i > 0 && rng.IntN(100) == 0 {
			hashes[i] = hashes[rng.IntN(i)]
			continue
		}
		hashes[i] = rng.Uint64() | 1
	}
	seen := make(map[uint64]bool, rows)
	for _, h := range hashes {
		if seen[h] {
			want++
		}
		seen[h] = true
	}
	seen = nil
	b.ResetTimer()
	for range b.N {
		t, err := newTally(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		for _, h := range hashes {
			t.add(h)
		}
		got, err := t.repeats()
		t.free()
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("%d repeats, want %d", got, want)
		}
	}
}
