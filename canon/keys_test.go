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

// TestWindow: a window set finds every key added within the window, keeps its
// tables at the window's size however many keys go through it, and says when
// it forgot keys.
func TestWindow(t *testing.T) {
	tests := []struct {
		name      string
		window    int
		keys      int
		versioned bool
	}{
		{"never full", 1000, 999, false},
		{"many windows", 1000, 25_000, false},
		{"versions", 4096, 50_000, true},
		{"mapped tables", 1 << 20, 3 << 20, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := NewWindow(tc.window)
			defer k.Free()
			if tc.versioned {
				k.versioned()
			}
			maxSlots := 0
			for i := 0; i < tc.keys; i++ {
				key := []byte("K" + strconv.Itoa(i))
				if tc.versioned {
					if _, seen := k.version(k.sum(key)); seen {
						t.Fatalf("key %d seen before it was added", i)
					}
					k.setVersion(k.sum(key), int64(i))
				} else if !k.Add(key) {
					t.Fatalf("key %d reported as seen", i)
				}
				maxSlots = max(maxSlots, len(k.slots), len(k.prev))
				// The last window keys are all there, with their versions.
				for _, back := range []int{0, 1, tc.window / 2, tc.window - 1} {
					j := i - back
					if j < 0 || i%97 != 0 {
						continue
					}
					v, seen := k.version(k.sum([]byte("K" + strconv.Itoa(j))))
					if !seen || (tc.versioned && v != int64(j)) {
						t.Fatalf("after key %d: key %d (%d back) found %v, version %d", i, j, back, seen, v)
					}
				}
			}
			if want := tc.keys > tc.window; (k.Rotations() > 0) != want {
				t.Errorf("%d rotations after %d keys in a window of %d", k.Rotations(), tc.keys, tc.window)
			}
			// At most three quarters full, and never larger than that needs.
			if limit := 2 * nextPow2(tc.window*4/3+1); maxSlots > limit {
				t.Errorf("a table grew to %d slots for a window of %d keys (limit %d)", maxSlots, tc.window, limit)
			}
			if tc.keys > 2*tc.window && k.Has([]byte("K0")) {
				t.Error("the first key is still there two windows later")
			}
			if k.Has([]byte("L1")) {
				t.Error("a key never added is found")
			}
		})
	}
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// TestSeal: sealing drops the versions and shrinks the table to seven tenths
// full; every key is still found, no other is, and keys can still be added.
func TestSeal(t *testing.T) {
	for _, n := range []int{0, 10, 3000, 1_200_000} {
		k := NewKeys()
		k.versioned()
		for i := 0; i < n; i++ {
			k.put(k.sum([]byte("O"+strconv.Itoa(i))), int64(i))
		}
		grown := len(k.slots)
		k.Seal()
		if k.vers != nil || k.maps.vers != nil {
			t.Fatalf("%d keys: versions kept after Seal", n)
		}
		if len(k.slots) > min(grown, max(1024, n*10/7+1)) {
			t.Errorf("%d keys: %d slots after Seal, %d before", n, len(k.slots), grown)
		}
		for i := 0; i < n; i++ {
			if !k.Has([]byte("O" + strconv.Itoa(i))) {
				t.Fatalf("%d keys: key %d lost by Seal", n, i)
			}
		}
		for i := 0; i < n+2000; i += 3 {
			if k.Has([]byte("P" + strconv.Itoa(i))) {
				t.Fatalf("%d keys: key P%d found, never added", n, i)
			}
		}
		for i := n; i < n+5000; i++ { // past the sealed table's room
			if !k.Add([]byte("O" + strconv.Itoa(i))) {
				t.Fatalf("%d keys: key %d added after Seal reported as seen", n, i)
			}
		}
		if k.Add([]byte("O0")) && n > 0 {
			t.Fatalf("%d keys: key 0 added again after Seal", n)
		}
		k.Free()
	}
}

// TestSealWindow: a window set that remembers all its keys forgets the old
// ones while it is read (its tables stay the window's size), and once sealed
// holds every key, and no other, in a table sized for them.
func TestSealWindow(t *testing.T) {
	for _, tc := range []struct{ window, keys, repeats int }{
		{1024, 500, 0},
		{1024, 30_000, 40},
		{1 << 16, 3 << 20, 0}, // chunks past the first
	} {
		k := NewWindow(tc.window)
		k.RememberAll()
		k.versioned()
		for i := 0; i < tc.keys; i++ {
			k.setVersion(k.sum([]byte("O"+strconv.Itoa(i))), int64(i))
		}
		for i := 0; i < tc.repeats; i++ { // far behind: taken again
			k.setVersion(k.sum([]byte("O"+strconv.Itoa(i))), int64(tc.keys+i))
		}
		if limit := 2 * nextPow2(tc.window*4/3+1); len(k.slots) > limit || len(k.prev) > limit {
			t.Fatalf("%+v: window tables of %d and %d slots", tc, len(k.slots), len(k.prev))
		}
		k.Seal()
		if k.Len() != tc.keys || k.vers != nil || k.prev != nil || k.all != nil || k.maps.all != nil {
			t.Fatalf("%+v: sealed set holds %d keys (versions %v, window %v, chunks %d)", tc, k.Len(), k.vers != nil, k.prev != nil, len(k.all))
		}
		if len(k.slots) > max(1024, (tc.keys+tc.repeats)*10/7+1) {
			t.Errorf("%+v: %d slots for %d keys", tc, len(k.slots), tc.keys)
		}
		for i := 0; i < tc.keys; i++ {
			if !k.Has([]byte("O" + strconv.Itoa(i))) {
				t.Fatalf("%+v: key %d lost", tc, i)
			}
		}
		for i := 0; i < tc.keys; i += 5 {
			if k.Has([]byte("P" + strconv.Itoa(i))) {
				t.Fatalf("%+v: key P%d found, never added", tc, i)
			}
		}
		if !k.Add([]byte("new")) || k.Add([]byte("O1")) {
			t.Fatalf("%+v: adding after Seal", tc)
		}
		k.Free()
	}
}
