package canon

import (
	"hash/maphash"
	"math"
	"runtime"
	"unsafe"
)

// Keys is a set of natural keys held as 64-bit hashes (at 10^8 keys a
// collision has odds below 10^-3, and a set of strings would cost ten times the
// memory) in an open-addressing table, linear probing, at most three quarters
// full: a lookup costs one cache miss where a Go map costs two, and at tens of
// millions of keys (site events) these lookups were most of extract's time.
// (Half full took a third more memory, which set extract's peak, for probes
// that stay within a cache line either way.) Large tables live outside the Go
// heap (see mapWords); Free hands them back.
type Keys struct {
	seed  maphash.Seed
	slots []uint64 // 0: empty (a hash of 0 is stored as 1)
	// vers holds, slot by slot, the newest version read of each key of a
	// versioned table; nil for the others.
	vers []int64
	n    int
	maps *mappings
}

// mappings are the memory maps under slots and vers, nil when on the heap.
type mappings struct{ slots, vers []byte }

func (m *mappings) free() {
	unmapWords(m.slots)
	unmapWords(m.vers)
	*m = mappings{}
}

// mapFrom is the size in bytes from which a table is mapped: below it, the
// heap is as fast and a map's 2 MiB page would be mostly empty.
const mapFrom = 8 << 20

// words returns n zeroed words and, for a large table, the map they live in.
func words[T uint64 | int64](n int) ([]T, []byte) {
	if n*8 >= mapFrom {
		if m := mapWords(n * 8); m != nil {
			return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(m))), n), m
		}
	}
	return make([]T, n), nil
}

// NewKeys returns an empty key set.
func NewKeys() *Keys {
	k := &Keys{seed: maphash.MakeSeed(), slots: make([]uint64, 1024), maps: &mappings{}}
	// A set dropped without Free still hands its maps back, when collected.
	runtime.AddCleanup(k, (*mappings).free, k.maps)
	return k
}

// Free hands the set's memory back; the set is empty afterwards.
func (k *Keys) Free() {
	k.maps.free()
	k.slots, k.vers, k.n = make([]uint64, 1024), nil, 0
}

func (k *Keys) sum(key []byte) uint64 {
	if h := maphash.Bytes(k.seed, key); h != 0 {
		return h
	}
	return 1
}

// find is the slot holding h, or the empty slot where it would go.
func (k *Keys) find(h uint64) (int, bool) {
	mask := uint64(len(k.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch k.slots[i] {
		case h:
			return int(i), true
		case 0:
			return int(i), false
		}
	}
}

// put stores h (new) with its version, growing the table first if needed.
func (k *Keys) put(h uint64, version int64) {
	if 4*(k.n+1) > 3*len(k.slots) {
		old, oldVers, oldMaps := k.slots, k.vers, *k.maps
		k.slots, k.maps.slots = words[uint64](2 * len(old))
		if oldVers != nil {
			k.vers, k.maps.vers = words[int64](len(k.slots))
		}
		for j, s := range old {
			if s != 0 {
				i, _ := k.find(s)
				k.slots[i] = s
				if oldVers != nil {
					k.vers[i] = oldVers[j]
				}
			}
		}
		oldMaps.free()
	}
	i, _ := k.find(h)
	k.slots[i] = h
	if k.vers != nil {
		k.vers[i] = version
	}
	k.n++
}

// versioned makes the set keep a version per key.
func (k *Keys) versioned() {
	if k.vers == nil {
		k.vers, k.maps.vers = words[int64](len(k.slots))
		for i, s := range k.slots {
			if s != 0 {
				k.vers[i] = math.MaxInt64 // known without a version: never replaced
			}
		}
	}
}

// Add adds key and reports whether it was new.
func (k *Keys) Add(key []byte) bool {
	h := k.sum(key)
	if _, found := k.find(h); found {
		return false
	}
	k.put(h, math.MaxInt64)
	return true
}

// Has reports whether key is in the set.
func (k *Keys) Has(key []byte) bool { _, found := k.find(k.sum(key)); return found }

// Len is the number of keys.
func (k *Keys) Len() int { return k.n }

// KeySets holds the keys landed so far in a run, per entity, so that children are
// checked against their parents and a key read twice is caught.
type KeySets map[Entity]*Keys

// Free hands back the memory of every set.
func (s KeySets) Free() {
	for _, k := range s {
		k.Free()
	}
}
