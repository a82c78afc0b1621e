package canon

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"slices"
)

// tally counts exactly how many of the rows it is told of repeat a key
// another row had, at any distance: what a window of keys (NewWindow) cannot
// tell once it has forgotten a key. It holds a few buffers, not the keys:
// each row's key hash is spilled to one of tallyBuckets files by its top
// bits, and each file is read back and its distinct hashes counted on their
// own, in a table that fits a core's cache (8 bytes a row on disk; 36.6 M
// site events, 290 MB). Counting this way replaced a count by the warehouse
// over the whole raw table (uniqExact of the run's keys), which every pod of
// a sharded extract repeated. The hashes are a Keys' (never 0).
type tally struct {
	dir   string
	files [tallyBuckets]*os.File
	bufs  [tallyBuckets][]byte
	rows  int64 // rows told of, less those dropped
	err   error // the first write's failure, reported by repeats
}

const (
	tallyBits    = 8
	tallyBuckets = 1 << tallyBits
	tallyBuffer  = 8 << 10 // bytes a bucket buffers before it writes
)

// newTally spills to a new directory under dir.
func newTally(dir string) (*tally, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("the duplicate count's spill directory: %w", err)
	}
	d, err := os.MkdirTemp(dir, "keys-")
	if err != nil {
		return nil, fmt.Errorf("the duplicate count's spill directory: %w", err)
	}
	return &tally{dir: d}, nil
}

// add tells of a row of key hash h.
func (t *tally) add(h uint64) {
	t.rows++
	b := h >> (64 - tallyBits)
	buf := t.bufs[b]
	if buf == nil {
		buf = make([]byte, 0, tallyBuffer)
	}
	buf = binary.LittleEndian.AppendUint64(buf, h)
	if len(buf) == cap(buf) {
		t.write(int(b), buf)
		buf = buf[:0]
	}
	t.bufs[b] = buf
}

// drop tells of a row told of that does not land after all (a newer
// version of its key, in the same batch, replaced it): its key is still
// there, in the row that replaced it.
func (t *tally) drop() { t.rows-- }

func (t *tally) write(b int, buf []byte) {
	if t.err != nil {
		return
	}
	if t.files[b] == nil {
		f, err := os.CreateTemp(t.dir, "bucket-")
		if err != nil {
			t.err = fmt.Errorf("the duplicate count's spill: %w", err)
			return
		}
		t.files[b] = f
	}
	if _, err := t.files[b].Write(buf); err != nil {
		t.err = fmt.Errorf("the duplicate count's spill: %w", err)
	}
}

// repeats counts the rows told of whose key an earlier row had: the rows
// less their distinct keys.
func (t *tally) repeats() (int64, error) {
	for b, buf := range t.bufs {
		if len(buf) > 0 {
			t.write(b, buf)
			t.bufs[b] = buf[:0]
		}
	}
	if t.err != nil {
		return 0, t.err
	}
	var distinct int64
	var set []uint64
	var raw []byte
	for _, f := range t.files {
		if f == nil {
			continue
		}
		info, err := f.Stat()
		if err != nil {
			return 0, fmt.Errorf("the duplicate count's spill: %w", err)
		}
		// Read at an offset: more rows may be written after, at the end.
		raw = slices.Grow(raw[:0], int(info.Size()))[:info.Size()]
		if _, err := f.ReadAt(raw, 0); err != nil {
			return 0, fmt.Errorf("the duplicate count's spill: %w", err)
		}
		// An open-addressing set of the bucket's hashes, at most half full,
		// placed by their low bits (the top ones are the bucket's).
		n := len(raw) / 8
		size := 1 << bits.Len(uint(2*n))
		set = slices.Grow(set[:0], size)[:size]
		clear(set)
		mask := uint64(size - 1)
		for i := 0; i+8 <= len(raw); i += 8 {
			h := binary.LittleEndian.Uint64(raw[i:])
			for j := h & mask; ; j = (j + 1) & mask {
				if set[j] == h {
					break
				}
				if set[j] == 0 {
					set[j] = h
					distinct++
					break
				}
			}
		}
	}
	return t.rows - distinct, nil
}

// free removes the spill.
func (t *tally) free() {
	for i, f := range t.files {
		if f != nil {
			f.Close()
			t.files[i] = nil
		}
	}
	os.RemoveAll(t.dir)
}
