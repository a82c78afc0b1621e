package canon

import (
	"errors"
	"hash/maphash"
	"math"
	"math/bits"
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
//
// A set made by NewWindow remembers only the most recent keys, so that its
// memory does not grow with the number of keys: see NewWindow.
type Keys struct {
	seed  maphash.Seed
	slots []uint64 // 0: empty (a hash of 0 is stored as 1)
	// vers holds, slot by slot, the newest version read of each key of a
	// versioned table; nil for the others.
	vers []int64
	n    int
	maps *mappings

	// window > 0: the table takes at most window keys; the full table then
	// becomes prev (the one before is dropped) and a fresh one takes the next.
	window    int
	prev      []uint64
	prevVers  []int64
	rotations int
	// all holds every hash a window set took, in chunks, when it is to
	// remember all of them once sealed (RememberAll).
	all      [][]uint64
	remember bool
	// rejected holds the keys of rows read but rejected, so that a child
	// naming one is told apart from an orphan (parent_rejected).
	rejected *Keys
	// tally counts the rows landed that repeat a key at any distance (see
	// TallyLanded); nil: not counted.
	tally *tally
}

// mappings are the memory maps under the tables, nil when on the heap.
type mappings struct {
	slots, vers, prevSlots, prevVers []byte
	all                              [][]byte
}

func (m *mappings) free() {
	unmapWords(m.slots)
	unmapWords(m.vers)
	unmapWords(m.prevSlots)
	unmapWords(m.prevVers)
	for _, c := range m.all {
		unmapWords(c)
	}
	*m = mappings{}
}

// allChunk is the number of hashes in a chunk of Keys.all (8 MiB, mapped).
const allChunk = 1 << 20

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

// NewKeys returns an empty key set that keeps every key added.
func NewKeys() *Keys {
	k := &Keys{seed: maphash.MakeSeed(), slots: make([]uint64, 1024), maps: &mappings{}}
	// A set dropped without Free still hands its maps back, when collected.
	runtime.AddCleanup(k, (*mappings).free, k.maps)
	return k
}

// NewWindow returns a key set that remembers at least the last window keys
// added (and at most twice as many): a key added again within that many keys
// is found, one added again later may not be. Its memory is bounded by the
// window, not by the number of keys: about 32 bytes a key of the window, twice
// that with versions.
func NewWindow(window int) *Keys {
	k := NewKeys()
	k.window = max(window, 1)
	return k
}

// RememberAll makes a window set keep every key it takes, 8 bytes each, for
// Seal to turn into a set of them all: a parent, whose duplicates are caught
// within the window (its versions held only there) while its children need
// every key. Call it before adding keys.
func (k *Keys) RememberAll() { k.remember = true }

// Rotations counts how often a window set forgot its older keys; 0 means it
// still holds every key added.
func (k *Keys) Rotations() int { return k.rotations }

// TallyLanded makes the set count the rows landed with its keys (as a
// Builder appends them) that repeat the key of another, however far back,
// for LandedTwice: a window set lands a key read again after it forgot it.
// The count spills 8 bytes a row into a new directory under dir.
func (k *Keys) TallyLanded(dir string) error {
	k.freeTally()
	t, err := newTally(dir)
	k.tally = t
	return err
}

// LandedTwice counts the rows landed with the set's keys, since
// TallyLanded, beyond one a key (a newer version of a key lands as another
// row too).
func (k *Keys) LandedTwice() (int64, error) {
	if k.tally == nil {
		return 0, errors.New("the rows landed were not counted (TallyLanded)")
	}
	return k.tally.repeats()
}

func (k *Keys) freeTally() {
	if k.tally != nil {
		k.tally.free()
		k.tally = nil
	}
}

// Free hands the set's memory back; the set is empty afterwards.
func (k *Keys) Free() {
	k.freeTally()
	k.maps.free()
	k.slots, k.vers, k.n = make([]uint64, 1024), nil, 0
	k.prev, k.prevVers, k.rotations, k.all = nil, nil, 0, nil
	if k.rejected != nil {
		k.rejected.Free()
		k.rejected = nil
	}
}

func (k *Keys) sum(key []byte) uint64 { return nonZero(maphash.Bytes(k.seed, key)) }

// probe is the slot of slots holding h, or the empty slot where it would go.
// A table's size need not be a power of two: the home slot is h scaled to it.
func probe(slots []uint64, h uint64) (int, bool) { return probeFrom(slots, h, home(slots, h)) }

// home is the slot where h's probe starts.
func home(slots []uint64, h uint64) uint64 {
	i, _ := bits.Mul64(h, uint64(len(slots)))
	return i
}

// probeFrom is probe from slot i.
func probeFrom(slots []uint64, h, i uint64) (int, bool) {
	n := uint64(len(slots))
	for {
		switch slots[i] {
		case h:
			return int(i), true
		case 0:
			return int(i), false
		}
		if i++; i == n {
			i = 0
		}
	}
}

// find is the slot of the current table holding h, or the empty slot where it would go.
func (k *Keys) find(h uint64) (int, bool) { return probe(k.slots, h) }

// lookup is a lookup of a key's hash: its home slots in the current and the
// previous table. One begun (begin) has their cache lines asked for: at
// millions of keys each is a cache miss; asked for before anything waits on
// them, they wait together, and with whatever else the caller looks up
// meanwhile (a row's parent). The tables must not change before it ends
// (versionOf).
type lookup struct{ h, i, j uint64 }

// begin begins the lookup of h. A lookup ended at once is begun too: its
// two tables' misses still wait together.
func (k *Keys) begin(h uint64) lookup {
	l := lookup{h: h, i: home(k.slots, h)}
	prefetch(&k.slots[l.i])
	if k.prev != nil {
		l.j = home(k.prev, h)
		prefetch(&k.prev[l.j])
	}
	return l
}

// version reports whether h is in the set and the newest version read of it
// (math.MaxInt64 when it came without one).
func (k *Keys) version(h uint64) (int64, bool) { return k.versionOf(k.begin(h)) }

// versionOf ends the lookup l as version does.
func (k *Keys) versionOf(l lookup) (int64, bool) {
	if i, ok := probeFrom(k.slots, l.h, l.i); ok {
		if k.vers == nil {
			return math.MaxInt64, true
		}
		return k.vers[i], true
	}
	if k.prev == nil {
		return 0, false
	}
	if i, ok := probeFrom(k.prev, l.h, l.j); ok {
		if k.prevVers == nil {
			return math.MaxInt64, true
		}
		return k.prevVers[i], true
	}
	return 0, false
}

// setVersion records version as the newest of h, adding h if the current
// table does not hold it.
func (k *Keys) setVersion(h uint64, version int64) {
	if i, ok := k.find(h); ok {
		if k.vers != nil {
			k.vers[i] = version
		}
		return
	}
	k.put(h, version)
}

// put stores h (new to the current table) with its version, growing the
// table, or starting a fresh one for a window, first if needed.
func (k *Keys) put(h uint64, version int64) {
	if k.window > 0 && k.n >= k.window {
		k.rotate()
	}
	if 4*(k.n+1) > 3*len(k.slots) {
		k.resize(2 * len(k.slots))
	}
	i, _ := k.find(h)
	k.slots[i] = h
	if k.vers != nil {
		k.vers[i] = version
	}
	k.n++
	if k.remember {
		if n := len(k.all); n == 0 || len(k.all[n-1]) == allChunk {
			c, m := words[uint64](allChunk)
			k.all, k.maps.all = append(k.all, c[:0]), append(k.maps.all, m)
		}
		n := len(k.all) - 1
		k.all[n] = append(k.all[n], h)
	}
}

// resize moves the current table's keys into one of size slots.
func (k *Keys) resize(size int) {
	old, oldVers := k.slots, k.vers
	oldSlots, oldVersMap := k.maps.slots, k.maps.vers
	k.slots, k.maps.slots = words[uint64](size)
	if oldVers != nil {
		k.vers, k.maps.vers = words[int64](size)
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
	unmapWords(oldSlots)
	unmapWords(oldVersMap)
}

// rotate makes the full current table the previous one, dropping the one
// before, and starts a fresh one as large (a window's tables stop growing).
func (k *Keys) rotate() {
	unmapWords(k.maps.prevSlots)
	unmapWords(k.maps.prevVers)
	size := len(k.slots)
	k.prev, k.prevVers = k.slots, k.vers
	k.maps.prevSlots, k.maps.prevVers = k.maps.slots, k.maps.vers
	k.slots, k.maps.slots = words[uint64](size)
	if k.vers != nil {
		k.vers, k.maps.vers = words[int64](size)
	}
	k.n = 0
	k.rotations++
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

// Seal readies a parent's set for its children, which only look keys up,
// once its own rows are read. A set of every key drops its versions and moves
// into a table sized for its keys (seven tenths full): growth by doubling
// leaves one between three eighths and three quarters full, and the versions
// double it (3.3 million orders: 128 MB before, 38 MB after). A window set
// that remembers all its keys becomes a set of them all, its window handed
// back. Keys can still be added.
func (k *Keys) Seal() {
	k.freeTally() // no row lands with the keys any more
	if k.window > 0 && k.remember {
		k.sealAll()
		return
	}
	if k.window > 0 {
		return
	}
	unmapWords(k.maps.vers)
	k.vers, k.maps.vers = nil, nil
	if size := max(1024, k.n*10/7+1); size < len(k.slots) {
		k.resize(size)
	}
}

// sealAll makes a set of every key a window set took: it is then a plain set,
// sized for them. The window's tables and the chunks are handed back.
func (k *Keys) sealAll() {
	n := 0
	for _, c := range k.all {
		n += len(c)
	}
	slots, m := words[uint64](max(1024, n*10/7+1))
	kept := 0
	for _, c := range k.all {
		for _, h := range c {
			if i, seen := probe(slots, h); !seen {
				slots[i] = h
				kept++
			}
		}
	}
	k.maps.free()
	*k = Keys{seed: k.seed, slots: slots, n: kept, maps: k.maps, rejected: k.rejected}
	k.maps.slots = m
}

// Add adds key and reports whether it was new.
func (k *Keys) Add(key []byte) bool {
	_, added := k.add(key)
	return added
}

// add is Add that also gives the key's hash.
func (k *Keys) add(key []byte) (uint64, bool) { return k.addBegun(k.begin(k.sum(key))) }

// addBegun ends the lookup l by adding its hash, when new.
func (k *Keys) addBegun(l lookup) (uint64, bool) {
	if _, seen := k.versionOf(l); seen {
		return l.h, false
	}
	k.put(l.h, math.MaxInt64)
	return l.h, true
}

// Has reports whether key is in the set.
func (k *Keys) Has(key []byte) bool { _, seen := k.version(k.sum(key)); return seen }

// hasBegun ends the lookup l as Has does.
func (k *Keys) hasBegun(l lookup) bool { _, seen := k.versionOf(l); return seen }

// Reject notes the key of a row that was read but rejected: a child naming
// it is parent_rejected, not an orphan. A key also landed stays landed.
func (k *Keys) Reject(key []byte) {
	if k.rejected == nil {
		k.rejected = NewKeys()
	}
	k.rejected.Add(key)
}

// WasRejected reports whether a row with key was read and rejected.
func (k *Keys) WasRejected(key []byte) bool { return k.rejected != nil && k.rejected.Has(key) }

// Len is the number of keys (of a window: in its current table).
func (k *Keys) Len() int { return k.n }

// Index maps 64-bit hashes of keys (hashed by the caller) to values, in the
// table Keys uses: a lookup costs about one cache miss, and a large index
// lives outside the Go heap, so it is neither scanned by the garbage collector
// nor doubled by its goal (identities of a million customers held in Go maps
// took 160 MB of live heap, 400 MB of resident memory). Free hands it back.
type Index struct{ k *Keys }

// NewIndex returns an empty index.
func NewIndex() *Index {
	k := NewKeys()
	k.versioned()
	return &Index{k}
}

// Get returns the value of h.
func (x *Index) Get(h uint64) (int64, bool) { return x.k.version(nonZero(h)) }

// Put sets the value of h.
func (x *Index) Put(h uint64, v int64) { x.k.setVersion(nonZero(h), v) }

// Prefetch asks the CPU for the cache lines a Get or Put of h reads, for a
// caller going through a batch of hashes to ask a few ahead: at millions of
// hashes each lookup is two cache misses (slot and value), which then wait
// together with the lookups between (owners: about 0.3 µs a lookup alone).
// It changes nothing: a Put between may move what it asked for.
func (x *Index) Prefetch(h uint64) {
	// begin asks for the slot; the value beside it is the second miss.
	if l := x.k.begin(nonZero(h)); x.k.vers != nil {
		prefetch((*uint64)(unsafe.Pointer(&x.k.vers[l.i])))
	}
}

// Len is the number of hashes held.
func (x *Index) Len() int { return x.k.n }

// Free hands the index's memory back; it is empty afterwards.
func (x *Index) Free() {
	x.k.Free()
	x.k.versioned()
}

// nonZero keeps 0, the table's mark of an empty slot, out of it.
func nonZero(h uint64) uint64 { return max(h, 1) }

// KeySets holds the keys landed so far in a run, per entity, so that children are
// checked against their parents and a key read twice is caught.
type KeySets map[Entity]*Keys

// Free hands back the memory of every set.
func (s KeySets) Free() {
	for _, k := range s {
		k.Free()
	}
}
