package canon

import (
	"strconv"
	"testing"
)

// TestKeysLarge: a set grown past mapFrom (its table then lives outside the
// Go heap) keeps every key, finds no other, and is usable again after Free.
func TestKeysLarge(t *testing.T) {
	k := NewKeys()
	defer k.Free()
	const n = 2_000_000 // a table of 4 Mi slots, 32 MiB
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			if !k.Add([]byte("E" + strconv.Itoa(i))) {
				t.Fatalf("round %d: key %d reported as seen", round, i)
			}
		}
		if k.Len() != n || len(k.slots)*8 < mapFrom || k.maps.slots == nil {
			t.Fatalf("round %d: %d keys in %d slots (mapped: %v)", round, k.Len(), len(k.slots), k.maps.slots != nil)
		}
		for i := 0; i < n; i += 7 {
			if k.Add([]byte("E"+strconv.Itoa(i))) || !k.Has([]byte("E"+strconv.Itoa(i))) {
				t.Fatalf("round %d: key %d lost", round, i)
			}
			if k.Has([]byte("F" + strconv.Itoa(i))) {
				t.Fatalf("round %d: key F%d found, never added", round, i)
			}
		}
		k.Free()
		if k.Len() != 0 || k.Has([]byte("E1")) {
			t.Fatal("a freed set still holds keys")
		}
	}
}

// TestKeysVersionsLarge: versions survive the table's growth into a map.
func TestKeysVersionsLarge(t *testing.T) {
	k := NewKeys()
	defer k.Free()
	k.versioned()
	const n = 1_500_000
	for i := 0; i < n; i++ {
		k.put(k.sum([]byte(strconv.Itoa(i))), int64(i))
	}
	if k.maps.vers == nil {
		t.Fatal("the versions of a large table are not mapped")
	}
	for i := 0; i < n; i += 11 {
		j, ok := k.find(k.sum([]byte(strconv.Itoa(i))))
		if !ok || k.vers[j] != int64(i) {
			t.Fatalf("key %d: found %v, version %d", i, ok, k.vers[j])
		}
	}
}
