package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// fixedStringBytes: a text column whose values are at most this long is read
// as a FixedString (see textLengths): padding each value costs at most this
// many bytes a row, which the block's compression mostly takes back.
const fixedStringBytes = 32

// asFixedString is expr selected as a FixedString as long as its longest
// value, if that is at most fixedStringBytes.
func asFixedString(expr string, longest uint64) (string, bool) {
	if longest > fixedStringBytes {
		return "", false
	}
	return fmt.Sprintf("toFixedString(%s, %d)", expr, max(longest, 1)), true
}

// textLengths are the longest values, in bytes, of the text columns of e's
// raw table, as text_lengths records them. A column it has no record of
// (rows landed before migration 0036) is measured over the raw table,
// without FINAL (no version of a row is longer than the longest), and
// recorded, once.
//
// Why: clickhouse-go decodes a String column a value at a time and
// allocates a Go string for each value scanned, a FixedString column in one
// copy, scanned into a slice of its block. Reading strings was half of
// features' CPU at a million customers.
func (w *DB) textLengths(ctx context.Context, e canon.Entity, cols []string) (map[string]uint64, error) {
	got := map[string]uint64{}
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT column, max(longest) FROM %s.text_lengths WHERE entity = ? GROUP BY column", w.db), string(e))
	if err != nil {
		return nil, fmt.Errorf("read the text lengths of %s: %w", e, unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var col string
		var n uint64
		if err := rows.Scan(&col, &n); err != nil {
			return nil, err
		}
		got[col] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the text lengths of %s: %w", e, unavailable(err))
	}
	var missing []string
	for _, c := range cols {
		if _, ok := got[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return got, nil
	}
	measured, err := w.measureTextLengths(ctx, e, missing)
	if err != nil {
		return nil, err
	}
	for c, n := range measured {
		got[c] = n
	}
	return got, nil
}

// measureTextLengths measures the longest values of e's text columns cols
// over its raw table, without FINAL (no version of a row is longer than
// the longest), and records them.
func (w *DB) measureTextLengths(ctx context.Context, e canon.Entity, missing []string) (map[string]uint64, error) {
	exprs := make([]string, len(missing))
	measured := make([]uint64, len(missing))
	dest := make([]any, len(missing))
	for k, c := range missing {
		exprs[k], dest[k] = "max(length("+c+"))", &measured[k]
	}
	if err := w.conn.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(exprs, ", "), w.db, warehouse.RawTable(e))).Scan(dest...); err != nil {
		return nil, fmt.Errorf("measure the text of %s: %w", e, unavailable(err))
	}
	lengths := map[string]uint64{}
	for k, c := range missing {
		lengths[c] = measured[k]
	}
	return lengths, w.saveTextLengths(ctx, e, lengths)
}

// saveTextLengths records the longest values of e's text columns.
func (w *DB) saveTextLengths(ctx context.Context, e canon.Entity, lengths map[string]uint64) error {
	return w.recordLengths(ctx, "text_lengths", "entity", string(e), lengths)
}

// recordLengths inserts the longest values of the text columns of what key
// names (an entity, a part) into table, whose key column is keyColumn.
func (w *DB) recordLengths(ctx context.Context, table, keyColumn, key string, lengths map[string]uint64) error {
	if len(lengths) == 0 {
		return nil
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s, column, longest, saved_at) VALUES", w.db, table, keyColumn))
	if err != nil {
		return fmt.Errorf("record the text lengths of %s: %w", key, unavailable(err))
	}
	defer batch.Abort()
	now := time.Now().UTC()
	for c, n := range lengths {
		if err := batch.Append(key, c, n, now); err != nil {
			return err
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("record the text lengths of %s: %w", key, unavailable(err))
	}
	return nil
}

// textColumns are the canonical text columns of t.
func textColumns(t *canon.Table) []string {
	var out []string
	for _, c := range t.Columns {
		if c.Kind == canon.String {
			out = append(out, c.Name)
		}
	}
	return out
}

// longestValue is the length in bytes of the longest value of a.
func longestValue(a *array.String) uint64 {
	offs := a.ValueOffsets()
	var longest int32
	for i := 1; i < len(offs); i++ {
		longest = max(longest, offs[i]-offs[i-1])
	}
	return uint64(longest)
}

// savePartTextLengths records the longest values of a part's text columns.
func (w *DB) savePartTextLengths(ctx context.Context, part string, lengths map[string]uint64) error {
	return w.recordLengths(ctx, "part_text_lengths", "part", part, lengths)
}

// fixParts selects the text columns of schema whose values, in every one
// of the parts named, are at most fixedStringBytes long as FixedStrings that
// long (see textLengths), as part_text_lengths records them: no pass over
// the parts measures them. A column a part has no length of (written before
// migration 0037) is read as a String.
func (w *DB) fixParts(ctx context.Context, p *published, schema *arrow.Schema, names []string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quote(n)
	}
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT column, max(longest), uniqExact(part) FROM %s.part_text_lengths WHERE part IN (%s) GROUP BY column",
		w.db, strings.Join(quoted, ", ")))
	if err != nil {
		return fmt.Errorf("read the text lengths of the parts: %w", unavailable(err))
	}
	defer rows.Close()
	longest := map[string]uint64{}
	for rows.Next() {
		var col string
		var n, parts uint64
		if err := rows.Scan(&col, &n, &parts); err != nil {
			return err
		}
		if parts == uint64(len(names)) {
			longest[col] = n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the text lengths of the parts: %w", unavailable(err))
	}
	for i, f := range schema.Fields() {
		n, recorded := longest[f.Name]
		fixed, ok := asFixedString(f.Name, n)
		if f.Type.ID() != arrow.STRING || !recorded || !ok {
			continue
		}
		v, at := new([]byte), p.at[i]
		p.exprs[at], p.scan[at], p.holders[i] = fixed, v, v
	}
	return nil
}
