package canon

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// tally counts exactly how many of the rows it is told of repeat a key
// another row had, at any distance: what a window of keys (NewWindow) cannot
// tell once it has forgotten a key. It holds a few buffers, not the keys:
// each row's key hash is spilled to one of tallyBuckets files by its top
// bits, and each file is read back and sorted on its own when counted
// (8 bytes a row on disk; 36.6 M site events, 290 MB). Counting this way
// replaced a count by the warehouse over the whole raw table (uniqExact of
// the run's keys), which every pod of a sharded extract repeated.
type tally struct {
	dir   string
	files [tallyBuckets]*os.File
	bufs  [tallyBuckets][]byte
	rows  int64 // rows told of, less those dropped
	err   error // the first write's failure, reported by repeats
}

const (
	tallyBuckets = 64
	tallyBuffer  = 16 << 10 // bytes a bucket buffers before it writes
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
	b := h >> (64 - 6) // tallyBuckets = 1 << 6
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
	var hashes []uint64
	var raw []byte
	for _, f := range t.files {
		if f == nil {
			continue
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			return 0, fmt.Errorf("the duplicate count's spill: %w", err)
		}
		raw = slices.Grow(raw[:0], int(size))[:size]
		if _, err := io.ReadFull(f, raw); err != nil {
			return 0, fmt.Errorf("the duplicate count's spill: %w", err)
		}
		if _, err := f.Seek(0, io.SeekEnd); err != nil { // more rows may follow
			return 0, fmt.Errorf("the duplicate count's spill: %w", err)
		}
		hashes = hashes[:0]
		for i := 0; i+8 <= len(raw); i += 8 {
			hashes = append(hashes, binary.LittleEndian.Uint64(raw[i:]))
		}
		slices.Sort(hashes)
		distinct += int64(len(slices.Compact(hashes)))
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
