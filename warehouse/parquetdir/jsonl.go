package parquetdir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// appendJSONL appends items to the table file, one JSON object a line.
func appendJSONL[T any](p *Dir, file string, items ...T) error {
	f, err := os.OpenFile(filepath.Join(p.dir, file), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			f.Close()
			return fmt.Errorf("embedded warehouse %s: %w", file, err)
		}
		w.Write(append(b, '\n'))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("embedded warehouse %s: %w", file, err)
	}
	return f.Close()
}

// readJSONL calls fn with every item of the table file, oldest first; a
// missing file is an empty table.
func readJSONL[T any](p *Dir, file string, fn func(T)) error {
	f, err := os.Open(filepath.Join(p.dir, file))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20) // a model's document can be large
	for sc.Scan() {
		var it T
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return fmt.Errorf("embedded warehouse %s: %w", file, err)
		}
		fn(it)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("embedded warehouse %s: %w", file, err)
	}
	return nil
}
