// Package export writes a published date's micro-segments as files for
// marketing: one file per segment with its members, the members who joined and
// left since the previous export, and a manifest with checksums; the files are
// recorded in the warehouse's exports table.
package export

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// memberSchema are the segment_members columns export reads: all of them.
var memberSchema = warehouse.SegmentMembers.Schema

// scoreSchema are the predictions each member's row carries.
var scoreSchema = warehouse.CustomerScores.Columns("customer_id", "clv_12m", "p_alive", "next_order_date")

// Manifest describes an export folder.
type Manifest struct {
	AsOf         string                 `json:"as_of"`
	PreviousAsOf string                 `json:"previous_as_of"` // the export the deltas compare with; JSON null for none
	RunID        string                 `json:"run_id"`
	Format       string                 `json:"format"`
	Files        []warehouse.ExportFile `json:"files"`
}

// MarshalJSON writes previous_as_of as null when there was no previous
// export.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest
	out := struct {
		plain
		PreviousAsOf *string `json:"previous_as_of"`
	}{plain: plain(m)}
	if m.PreviousAsOf != "" {
		out.PreviousAsOf = &m.PreviousAsOf
	}
	return json.Marshal(out)
}

// Options say what to export and where.
type Options struct {
	AsOf         time.Time
	RunID        string
	Format       string // csv or parquet
	Dir          string
	IncludeEmail bool // the clear address of customers who opted in to e-mail
	// CSVBOM starts each CSV file with a UTF-8 byte order mark, so that
	// Excel reads the labels' "·" and accents as UTF-8.
	CSVBOM    bool
	BatchRows int
	Mem       memory.Allocator
	Log       *logrus.Entry
}

// Store is where export reads published members (through the date's
// publication) and records its files.
type Store interface {
	Read(ctx context.Context, mem memory.Allocator, q warehouse.Query, batch int) ([]arrow.Record, error)
	Publication(ctx context.Context, asOf time.Time) (warehouse.Publication, error)
	ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error)
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
	RecordExports(ctx context.Context, files []warehouse.ExportFile) error
	LastExport(ctx context.Context, before time.Time) (time.Time, bool, error)
}

// Write writes the published micro-segments of the date to o.Dir: one file
// per segment with its members, joined and left files against the previous
// export (all members are joined without one), and manifest.json; the files
// are recorded in the exports table.
func Write(ctx context.Context, st Store, o Options) (Manifest, error) {
	w := &writer{o: o, m: Manifest{AsOf: o.AsOf.Format(time.DateOnly), RunID: o.RunID, Format: o.Format}, exportedAt: time.Now().UTC()}
	if _, err := warehouse.CheckPublished(ctx, st, o.AsOf); errors.Is(err, warehouse.ErrNotPublished) {
		return w.m, fmt.Errorf("nothing published for %s: run score and publish first", w.m.AsOf)
	} else if err != nil {
		return w.m, err
	}
	cur, err := warehouse.ReadPublished(ctx, st, o.Mem, warehouse.SegmentMembers.Name, memberSchema, o.AsOf)
	if err != nil {
		return w.m, err
	}
	defer cur.Release()
	w.cur = cur
	err = w.read(ctx, st)
	if w.segs != nil {
		defer w.segs.Release()
	}
	if err != nil {
		return w.m, err
	}
	earlier, err := prepareDir(o.Dir)
	if err != nil {
		return w.m, err
	}
	segments, err := w.segments()
	if err != nil {
		return w.m, err
	}
	if err := w.index(); err != nil {
		return w.m, err
	}
	joined, left, err := w.deltas()
	if err != nil {
		return w.m, err
	}
	records, err := w.manifest()
	if err != nil {
		return w.m, err
	}
	if err := w.removeStale(earlier); err != nil {
		return w.m, err
	}
	if err := st.RecordExports(ctx, records); err != nil {
		return w.m, err
	}
	o.Log.WithFields(logrus.Fields{"files": len(records), "segments": segments, "joined": joined, "left": left,
		"previous_as_of": cmp.Or(w.m.PreviousAsOf, "none")}).Info("exported")
	return w.m, nil
}

// writer is one export on its way.
type writer struct {
	o          Options
	m          Manifest
	exportedAt time.Time
	cur        arrow.Record      // the date's members
	labels     map[string]string // segment → label
	segs       arrow.Record      // the date's segments, every column
	scores     map[string]memberScore
	prevDate   time.Time         // of the previous export; zero for none
	before     map[string]string // customer → segment at the previous export
	emails     map[string]string // customer → address, when included
}

// read reads the segments' labels, the previous export's members and, when
// included, the addresses of the customers who opted in to e-mail.
func (w *writer) read(ctx context.Context, st Store) error {
	o := w.o
	segs, err := warehouse.ReadPublished(ctx, st, o.Mem, warehouse.Segments.Name, warehouse.Segments.Schema, o.AsOf)
	if err != nil {
		return err
	}
	w.segs = segs
	w.labels = map[string]string{}
	ids, labels := canon.ArrayOf[*array.String](segs, "segment_id"), canon.ArrayOf[*array.String](segs, "label")
	for i := 0; i < int(segs.NumRows()); i++ {
		w.labels[ids.Value(i)] = strings.Clone(labels.Value(i))
	}
	if w.scores, err = readScores(ctx, st, o); err != nil {
		return err
	}
	prevDate, hasPrev, err := st.LastExport(ctx, o.AsOf)
	if err != nil {
		return err
	}
	w.before = map[string]string{}
	if hasPrev {
		w.prevDate, w.m.PreviousAsOf = prevDate, prevDate.Format(time.DateOnly)
		prev, err := warehouse.ReadPublished(ctx, st, o.Mem, warehouse.SegmentMembers.Name, memberSchema, prevDate)
		if err != nil {
			return fmt.Errorf("the previous export's members (%s): %w", w.m.PreviousAsOf, err)
		}
		custs, segs := canon.ArrayOf[*array.String](prev, "customer_id"), canon.ArrayOf[*array.String](prev, "segment_id")
		for i := 0; i < int(prev.NumRows()); i++ {
			w.before[strings.Clone(custs.Value(i))] = strings.Clone(segs.Value(i))
		}
		prev.Release()
	}
	w.emails = map[string]string{}
	if !o.IncludeEmail {
		return nil
	}
	recs, err := st.Read(ctx, o.Mem, warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "email", "optin_email"}}, o.BatchRows)
	if err != nil {
		return err
	}
	for _, r := range recs {
		ids, addr, optin := canon.ArrayOf[*array.String](r, "customer_id"), canon.ArrayOf[*array.String](r, "email"), canon.ArrayOf[*array.Boolean](r, "optin_email")
		for i := 0; i < int(r.NumRows()); i++ {
			if optin.IsValid(i) && optin.Value(i) && addr.Value(i) != "" {
				w.emails[strings.Clone(ids.Value(i))] = strings.Clone(addr.Value(i))
			}
		}
		r.Release()
	}
	return nil
}

// segments writes one file per segment with its members, in segment order.
func (w *writer) segments() (int, error) {
	segCol := canon.ArrayOf[*array.String](w.cur, "segment_id")
	bySeg := map[string][]int{}
	var segIDs []string
	for i := 0; i < int(w.cur.NumRows()); i++ {
		s := segCol.Value(i)
		if _, ok := bySeg[s]; !ok {
			segIDs = append(segIDs, strings.Clone(s))
		}
		bySeg[s] = append(bySeg[s], i)
	}
	slices.Sort(segIDs)
	header := []column{{"customer_id", text}}
	if w.o.IncludeEmail {
		header = append(header, column{"email", text})
	}
	header = append(header, column{"segment_id", text}, column{"segment_label", text}, column{"lifecycle_stage", text}, column{"vip_tier", text},
		column{"strategy", text}, column{"action", text}, column{"discount_sensitivity", float}, column{"offer", text},
		column{"offer_discount", float}, column{"best_hour", integer},
		column{"best_weekday", integer}, column{"preferred_channel", text}, column{"product_feed", list}, column{"control_group", boolean},
		column{"clv_12m", float}, column{"p_alive", float}, column{"next_order_date", date})
	cols := newMemberCols(w.cur)
	for _, s := range segIDs {
		rows := make([][]string, 0, len(bySeg[s]))
		for _, i := range bySeg[s] {
			rows = append(rows, w.member(cols, i))
		}
		if err := w.file("segment_"+s, "segment", s, rows, header); err != nil {
			return 0, err
		}
	}
	return len(segIDs), nil
}

// memberCols are the columns of the members a segment file shows.
type memberCols struct {
	id, seg, stage, tier, strategy, action, offer, channel, feed *array.String
	sensitivity, discount                                        *array.Float64
	hour, weekday                                                *array.Int32
	control                                                      *array.Boolean
}

func newMemberCols(cur arrow.Record) memberCols {
	str := func(name string) *array.String { return canon.ArrayOf[*array.String](cur, name) }
	return memberCols{id: str("customer_id"), seg: str("segment_id"), stage: str("lifecycle_stage"), tier: str("vip_tier"),
		strategy: str("strategy"), action: str("action"), offer: str("offer"), channel: str("preferred_channel"), feed: str("product_feed"),
		sensitivity: canon.ArrayOf[*array.Float64](cur, "discount_sensitivity"), discount: canon.ArrayOf[*array.Float64](cur, "offer_discount"),
		hour: canon.ArrayOf[*array.Int32](cur, "best_hour"), weekday: canon.ArrayOf[*array.Int32](cur, "best_weekday"),
		control: canon.ArrayOf[*array.Boolean](cur, "control_group")}
}

// member is row i of the members as a line of a segment file.
func (w *writer) member(m memberCols, i int) []string {
	id, seg := m.id.Value(i), m.seg.Value(i)
	r := []string{id}
	if w.o.IncludeEmail {
		r = append(r, w.emails[id])
	}
	control := "0"
	if m.control.Value(i) {
		control = "1"
	}
	sc := w.scores[id]
	return append(r, seg, w.labels[seg], m.stage.Value(i), m.tier.Value(i), m.strategy.Value(i), m.action.Value(i),
		strconv.FormatFloat(m.sensitivity.Value(i), 'f', 4, 64), m.offer.Value(i), strconv.FormatFloat(m.discount.Value(i), 'f', -1, 64),
		strconv.Itoa(int(m.hour.Value(i))), strconv.Itoa(int(m.weekday.Value(i))), m.channel.Value(i), m.feed.Value(i), control,
		sc.clv, sc.pAlive, sc.nextOrder)
}

// memberScore are a member's predictions as the files write them: empty
// (CSV) or null (Parquet) where none is published.
type memberScore struct{ clv, pAlive, nextOrder string }

// readScores reads the date's predictions of every customer.
func readScores(ctx context.Context, st Store, o Options) (map[string]memberScore, error) {
	rec, err := warehouse.ReadPublished(ctx, st, o.Mem, warehouse.CustomerScores.Name, scoreSchema, o.AsOf)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	ids, next := canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.Date32](rec, "next_order_date")
	clv, alive := canon.ArrayOf[*array.Float64](rec, "clv_12m"), canon.ArrayOf[*array.Float64](rec, "p_alive")
	num := func(a *array.Float64, i int, digits int) string {
		if !a.IsValid(i) {
			return ""
		}
		return strconv.FormatFloat(a.Value(i), 'f', digits, 64)
	}
	out := make(map[string]memberScore, rec.NumRows())
	for i := 0; i < int(rec.NumRows()); i++ {
		s := memberScore{clv: num(clv, i, 2), pAlive: num(alive, i, 4)}
		if next.IsValid(i) {
			s.nextOrder = next.Value(i).FormattedString()
		}
		out[strings.Clone(ids.Value(i))] = s
	}
	return out, nil
}

// index writes segments.csv (or .parquet): every segment with its label,
// size, control group, strategy, the action most of its members get, and
// its economics.
func (w *writer) index() error {
	action, control := map[string]map[string]int{}, map[string]int{}
	segCol, actCol, ctl := canon.ArrayOf[*array.String](w.cur, "segment_id"), canon.ArrayOf[*array.String](w.cur, "action"), canon.ArrayOf[*array.Boolean](w.cur, "control_group")
	for i := 0; i < int(w.cur.NumRows()); i++ {
		s := segCol.Value(i)
		if action[s] == nil {
			action[s] = map[string]int{}
		}
		action[s][actCol.Value(i)]++
		if ctl.Value(i) {
			control[s]++
		}
	}
	sg := w.segs
	str := func(name string, i int) string { return canon.ArrayOf[*array.String](sg, name).Value(i) }
	num := func(name string, i int) string {
		v := canon.ArrayOf[*array.Float64](sg, name).Value(i)
		if math.IsNaN(v) { // no member has a prediction (the model's gate failed)
			return ""
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	var rows [][]string
	for i := 0; i < int(sg.NumRows()); i++ {
		id := str("segment_id", i)
		top, best := "", -1
		for a, n := range action[id] {
			if n > best || (n == best && a < top) {
				top, best = a, n
			}
		}
		size := canon.ArrayOf[*array.Int32](sg, "size").Value(i)
		rows = append(rows, []string{id, str("label", i), str("macro_group", i), strconv.Itoa(int(size)), strconv.Itoa(control[id]),
			str("strategy", i), top, num("revenue_12m", i), num("revenue_share", i), num("mean_clv", i), num("churn_risk", i), num("revenue_at_risk", i)})
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return w.file("segments", "segments", "", rows, []column{{"segment_id", text}, {"label", text}, {"macro_group", text}, {"size", integer},
		{"control_group", integer}, {"strategy", text}, {"action", text}, {"revenue_12m", float}, {"revenue_share", float}, {"mean_clv", float},
		{"churn_risk", float}, {"revenue_at_risk", float}})
}

// deltas writes the joined and left files: a customer joined a segment they
// were not in at the previous export, and left one they are no longer in (a
// move is both).
func (w *writer) deltas() (joinedN, leftN int, err error) {
	segCol, idCol := canon.ArrayOf[*array.String](w.cur, "segment_id"), canon.ArrayOf[*array.String](w.cur, "customer_id")
	now := map[string]string{}
	var joined, left [][]string
	for i := 0; i < int(w.cur.NumRows()); i++ {
		id, s := idCol.Value(i), segCol.Value(i)
		now[id] = s
		if w.before[id] != s {
			joined = append(joined, []string{id, s, w.labels[s], w.before[id]})
		}
	}
	for id, s := range w.before {
		if now[id] != s {
			left = append(left, []string{id, s, now[id]})
		}
	}
	slices.SortFunc(joined, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	slices.SortFunc(left, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	if err := w.file("joined", "joined", "", joined, []column{{"customer_id", text}, {"segment_id", text}, {"segment_label", text}, {"previous_segment_id", text}}); err != nil {
		return 0, 0, err
	}
	if err := w.file("left", "left", "", left, []column{{"customer_id", text}, {"segment_id", text}, {"new_segment_id", text}}); err != nil {
		return 0, 0, err
	}
	return len(joined), len(left), nil
}

// previous is the previous export's date as the exports table keeps it:
// ClickHouse's smallest Date for none.
func (w *writer) previous() time.Time {
	if w.prevDate.IsZero() {
		return warehouse.NoPrevious
	}
	return w.prevDate
}

// file writes one file of rows and lists it in the manifest.
func (w *writer) file(name, kind, segment string, rows [][]string, header []column) error {
	if name != filepath.Base(name) || strings.HasPrefix(name, ".") { // a segment id from the warehouse names it
		return fmt.Errorf("refused to write %q: a file name, not a path, in the export folder", name)
	}
	path := filepath.Join(w.o.Dir, name+"."+w.o.Format)
	if err := writeTable(path, w.o.Format, header, rows, w.o.CSVBOM, w.o.Mem); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return err
	}
	w.m.Files = append(w.m.Files, warehouse.ExportFile{AsOf: w.o.AsOf, ExportedAt: w.exportedAt, File: filepath.Base(path), Kind: kind,
		SegmentID: segment, Rows: uint64(len(rows)), SHA256: sum, RunID: w.o.RunID, PreviousAsOf: w.previous()})
	return nil
}

// manifest writes manifest.json and returns every file's record, its own last.
func (w *writer) manifest() ([]warehouse.ExportFile, error) {
	b, err := json.MarshalIndent(w.m, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(w.o.Dir, "manifest.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(w.m.Files), warehouse.ExportFile{AsOf: w.o.AsOf, ExportedAt: w.exportedAt, File: "manifest.json", Kind: "manifest",
		Rows: uint64(len(w.m.Files)), SHA256: sum, RunID: w.o.RunID, PreviousAsOf: w.previous()}), nil
}

// prepareDir makes sure dir is a folder export may write in: new, empty, or
// holding an earlier export (its manifest.json), whose files it returns. Any
// other folder is refused, so that an export never writes among files that
// are not its own (--out /etc, --out ..).
func prepareDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // looked at before anything is made
	if errors.Is(err, os.ErrNotExist) {
		return nil, os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--out %s holds %d entries and no manifest.json: not a folder of Tessera's exports; give a new or empty folder", dir, len(entries))
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("--out %s: its manifest.json does not read (%v): give a new or empty folder", dir, err)
	}
	var files []string
	for _, f := range m.Files {
		files = append(files, f.File)
	}
	return files, nil
}

// removeStale removes the files of the earlier export in the folder that
// this one did not write again, so that the manifest lists exactly what is
// there.
func (w *writer) removeStale(earlier []string) error {
	now := map[string]bool{"manifest.json": true}
	for _, f := range w.m.Files {
		now[f.File] = true
	}
	for _, name := range earlier {
		if now[name] || name != filepath.Base(name) { // only files of the folder itself
			continue
		}
		if err := os.Remove(filepath.Join(w.o.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the earlier export's %s: %w", name, err)
		}
	}
	return nil
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
