package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/warehouse"
)

// exportStore is where export reads published members and records its files.
type exportStore interface {
	reader
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
	RecordExports(ctx context.Context, files []warehouse.ExportFile) error
	LastExport(ctx context.Context, before time.Time) (time.Time, bool, error)
}

// exportMemberSchema are the segment_members columns export reads.
var exportMemberSchema = arrow.NewSchema(append([]arrow.Field(nil), memberSchema.Fields()...), nil)

var labelSchema = arrow.NewSchema([]arrow.Field{
	{Name: "segment_id", Type: arrow.BinaryTypes.String},
	{Name: "label", Type: arrow.BinaryTypes.String},
}, nil)

// Manifest describes an export folder.
type Manifest struct {
	AsOf         string                 `json:"as_of"`
	PreviousAsOf string                 `json:"previous_as_of,omitempty"` // the export the deltas compare with
	RunID        string                 `json:"run_id"`
	Format       string                 `json:"format"`
	Files        []warehouse.ExportFile `json:"files"`
}

// Export writes the published micro-segments of the date to dir: one file per
// segment with its members, joined and left files against the previous export
// (all members are joined without one), and manifest.json; the files are
// recorded in the exports table.
func Export(ctx context.Context, cfg config.Config, asOf time.Time, format, dir string, log *logrus.Logger, out io.Writer) error {
	st, wh, _, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	if wh != nil {
		defer wh.Close()
	}
	rc := newRunContext(cfg, log, "export", asOf)
	m, err := export(ctx, rc, st, format, dir)
	if wh != nil {
		n := 0
		for _, f := range m.Files {
			n += int(f.Rows)
		}
		if rerr := recordStage(ctx, wh, rc, n, err, map[string]any{"files": len(m.Files) + 1, "previous_as_of": cmpOr(m.PreviousAsOf, "none")}); rerr != nil {
			rc.log.WithError(rerr).Error("could not record the run")
		}
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	segments := 0
	for _, f := range m.Files {
		if f.Kind == "segment" {
			segments++
		}
	}
	fmt.Fprintf(out, "Exported %s from %s to %s: %d segment files, deltas against %s, manifest.json\n",
		m.AsOf, where, dir, segments, cmpOr(m.PreviousAsOf, "no previous export (every member joined)"))
	return nil
}

func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

type member struct {
	segment, label string
	row            int
}

func export(ctx context.Context, rc *runContext, st exportStore, format, dir string) (Manifest, error) {
	m := Manifest{AsOf: rc.asOf.Format(time.DateOnly), RunID: rc.runID, Format: format}
	cur, err := st.ReadPartition(ctx, rc.mem, "segment_members", exportMemberSchema, rc.asOf)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return m, fmt.Errorf("nothing published for %s: run score and publish first", m.AsOf)
	}
	if err != nil {
		return m, err
	}
	defer cur.Release()
	labels := map[string]string{}
	if lr, err := st.ReadPartition(ctx, rc.mem, "segments", labelSchema, rc.asOf); err == nil {
		for i := 0; i < int(lr.NumRows()); i++ {
			labels[lr.Column(0).(*array.String).Value(i)] = strings.Clone(lr.Column(1).(*array.String).Value(i))
		}
		lr.Release()
	} else {
		return m, err
	}
	prevDate, hasPrev, err := st.LastExport(ctx, rc.asOf)
	if err != nil {
		return m, err
	}
	before := map[string]string{} // customer → segment at the previous export
	if hasPrev {
		m.PreviousAsOf = prevDate.Format(time.DateOnly)
		prev, err := st.ReadPartition(ctx, rc.mem, "segment_members", exportMemberSchema, prevDate)
		if err != nil {
			return m, fmt.Errorf("the previous export's members (%s): %w", m.PreviousAsOf, err)
		}
		for i := 0; i < int(prev.NumRows()); i++ {
			before[strings.Clone(prev.Column(1).(*array.String).Value(i))] = strings.Clone(prev.Column(0).(*array.String).Value(i))
		}
		prev.Release()
	}
	emails := map[string]string{}
	if rc.cfg.Export.IncludeEmail {
		recs, err := st.Read(ctx, rc.mem, warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "email", "optin_email"}}, rc.cfg.BatchRows)
		if err != nil {
			return m, err
		}
		for _, r := range recs {
			ids, addr, optin := r.Column(0).(*array.String), r.Column(1).(*array.String), r.Column(2).(*array.Boolean)
			for i := 0; i < int(r.NumRows()); i++ {
				if optin.IsValid(i) && optin.Value(i) && addr.Value(i) != "" {
					emails[strings.Clone(ids.Value(i))] = strings.Clone(addr.Value(i))
				}
			}
		}
		release(recs)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return m, err
	}
	// Members by segment, in segment order.
	segCol, idCol := cur.Column(0).(*array.String), cur.Column(1).(*array.String)
	bySeg := map[string][]int{}
	var segIDs []string
	now := map[string]string{}
	for i := 0; i < int(cur.NumRows()); i++ {
		s := segCol.Value(i)
		if _, ok := bySeg[s]; !ok {
			segIDs = append(segIDs, strings.Clone(s))
		}
		bySeg[s] = append(bySeg[s], i)
		now[idCol.Value(i)] = s
	}
	slices.Sort(segIDs)
	header := []string{"customer_id"}
	if rc.cfg.Export.IncludeEmail {
		header = append(header, "email")
	}
	header = append(header, "segment_id", "segment_label", "lifecycle_stage", "vip_tier", "strategy", "action", "discount_sensitivity",
		"best_hour", "best_weekday", "preferred_channel", "product_feed", "control_group")
	row := func(i int) []string {
		c := func(k int) string { return cur.Column(k).(*array.String).Value(i) }
		r := []string{c(1)}
		if rc.cfg.Export.IncludeEmail {
			r = append(r, emails[c(1)])
		}
		control := "0"
		if cur.Column(11).(*array.Boolean).Value(i) {
			control = "1"
		}
		return append(r, c(0), labels[c(0)], c(2), c(3), c(4), c(5), strconv.FormatFloat(cur.Column(6).(*array.Float64).Value(i), 'f', 4, 64),
			strconv.Itoa(int(cur.Column(7).(*array.Int32).Value(i))), strconv.Itoa(int(cur.Column(8).(*array.Int32).Value(i))), c(9), c(10), control)
	}
	exportedAt := time.Now().UTC()
	file := func(name, kind, segment string, rows [][]string, hdr []string) error {
		path := filepath.Join(dir, name+"."+format)
		if err := writeTable(path, format, hdr, rows, rc.mem); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return err
		}
		f := warehouse.ExportFile{AsOf: rc.asOf, ExportedAt: exportedAt, File: filepath.Base(path), Kind: kind, SegmentID: segment,
			Rows: uint64(len(rows)), SHA256: sum, RunID: rc.runID, PreviousAsOf: time.Unix(0, 0).UTC()}
		if hasPrev {
			f.PreviousAsOf = prevDate
		}
		m.Files = append(m.Files, f)
		return nil
	}
	for _, s := range segIDs {
		rows := make([][]string, 0, len(bySeg[s]))
		for _, i := range bySeg[s] {
			rows = append(rows, row(i))
		}
		if err := file("segment_"+s, "segment", s, rows, header); err != nil {
			return m, err
		}
	}
	// Deltas: a customer joined a segment they were not in at the previous
	// export, and left one they are no longer in (a move is both).
	var joined, left [][]string
	for i := 0; i < int(cur.NumRows()); i++ {
		id, s := idCol.Value(i), segCol.Value(i)
		if before[id] != s {
			joined = append(joined, []string{id, s, labels[s], before[id]})
		}
	}
	for id, s := range before {
		if now[id] != s {
			left = append(left, []string{id, s, now[id]})
		}
	}
	slices.SortFunc(joined, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	slices.SortFunc(left, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	if err := file("joined", "joined", "", joined, []string{"customer_id", "segment_id", "segment_label", "previous_segment_id"}); err != nil {
		return m, err
	}
	if err := file("left", "left", "", left, []string{"customer_id", "segment_id", "new_segment_id"}); err != nil {
		return m, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	path := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return m, err
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return m, err
	}
	records := append(slices.Clone(m.Files), warehouse.ExportFile{AsOf: rc.asOf, ExportedAt: exportedAt, File: "manifest.json", Kind: "manifest",
		Rows: uint64(len(m.Files)), SHA256: sum, RunID: rc.runID, PreviousAsOf: m.Files[0].PreviousAsOf})
	if err := st.RecordExports(ctx, records); err != nil {
		return m, err
	}
	rc.log.WithFields(logrus.Fields{"files": len(records), "segments": len(segIDs), "joined": len(joined), "left": len(left),
		"previous_as_of": cmpOr(m.PreviousAsOf, "none")}).Info("exported")
	return m, nil
}

// writeTable writes rows under a header as CSV, or as Parquet with every
// column a string, through a temporary file and a rename.
func writeTable(path, format string, header []string, rows [][]string, mem memory.Allocator) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if format == "csv" {
		w := csv.NewWriter(f)
		w.Write(header)
		w.WriteAll(rows)
		if err := w.Error(); err != nil {
			f.Close()
			return err
		}
	} else {
		fields := make([]arrow.Field, len(header))
		for i, h := range header {
			fields[i] = arrow.Field{Name: h, Type: arrow.BinaryTypes.String}
		}
		b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
		for _, r := range rows {
			for i, v := range r {
				b.Field(i).(*array.StringBuilder).Append(v)
			}
		}
		rec := b.NewRecord()
		b.Release()
		fw, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy)), pqarrow.DefaultWriterProps())
		if err == nil {
			err = fw.Write(rec)
			if cerr := fw.Close(); err == nil {
				err = cerr
			}
		}
		rec.Release()
		if err != nil {
			os.Remove(tmp)
			return err
		}
		return os.Rename(tmp, path) // the Parquet writer closed f
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
