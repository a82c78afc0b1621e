package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/tessera-cdp/tessera/export"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

func readCSV(t testing.TB, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil || len(all) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	all[0][0] = strings.TrimPrefix(all[0][0], "\ufeff") // the byte order mark of csv_bom
	return all[0], all[1:]
}

// TestExport: the files of a published date hold each segment's members (row
// counts equal the segment sizes), the control group each member's hold
// gives, 12.5% ± 1 point of the members in all, checksums that match the manifest, and deltas
// against the previous export that equal the difference between the two
// nights; e-mail addresses appear only when allowed, and only of customers who
// opted in.
func TestExport(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 6000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 7)
	day1, day2 := d1.Format(time.DateOnly), d2.Format(time.DateOnly)
	if err := runStages(ctx, cfg, d1, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	out1 := t.TempDir()
	if err := exportDate(ctx, cfg, d1, "csv", out1, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	b, err := os.ReadFile(filepath.Join(out1, "manifest.json"))
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("manifest: %v %s", err, b)
	}
	if !strings.Contains(string(b), `"previous_as_of": null`) || strings.Contains(string(b), "1970") {
		t.Errorf("the first export's manifest does not say previous_as_of null:\n%.600s", b)
	}
	checkIndexAndScores(t, wh, out1, day1)
	sizes := map[string]uint64{}
	for _, r := range queryStrings(t, wh, "SELECT concat(segment_id, ' ', toString(size)) FROM {db}.segments WHERE as_of = toDate('"+day1+"')") {
		var id string
		var n uint64
		fmt.Sscan(r, &id, &n)
		sizes[id] = n
	}
	segFiles, checked, held := 0, 0, 0
	hold := newControlHold(cfg.Export.ControlShare, cfg.Export.CampaignDays, cfg.Export.LiftWindowDays)
	for _, f := range m.Files {
		path := filepath.Join(out1, f.File)
		if sum, err := sha256File(path); err != nil || sum != f.SHA256 {
			t.Errorf("%s: checksum %s, manifest says %s (%v)", f.File, sum, f.SHA256, err)
		}
		header, rows := readCSV(t, path)
		if uint64(len(rows)) != f.Rows {
			t.Errorf("%s: %d rows, manifest says %d", f.File, len(rows), f.Rows)
		}
		if f.Kind != "segment" {
			continue
		}
		segFiles++
		if uint64(len(rows)) != sizes[f.SegmentID] {
			t.Errorf("%s: %d members, segment size %d", f.File, len(rows), sizes[f.SegmentID])
		}
		if slices.Contains(header, "email") {
			t.Errorf("%s has e-mail addresses; the config does not allow them", f.File)
		}
		control, id := slices.Index(header, "control_group"), slices.Index(header, "customer_id")
		for _, r := range rows {
			checked++
			if r[control] == "1" {
				held++
			}
			if want := hold.held(place(r[id]), d1.Unix()/86400); want != (r[control] == "1") {
				t.Errorf("%s: %s has control_group %s; held out: %v", f.File, r[id], r[control], want)
			}
		}
	}
	// 2026-10-01 is 7 days into a campaign period: the period's control group
	// (10%) and the last period's, still held out for its dates' windows,
	// which share three quarters of it: 12.5% of the members.
	if share := float64(held) / float64(checked); segFiles != len(sizes) || math.Abs(share-0.125) > 0.01 {
		t.Errorf("%d segment files for %d segments; %.3f of their %d members held out, want 0.125 ± 0.01", segFiles, len(sizes), share, checked)
	}
	var recorded uint64
	queryRow(t, wh, "SELECT count() FROM {db}.exports WHERE as_of = toDate('"+day1+"')", &recorded)
	if recorded != uint64(len(m.Files)+1) {
		t.Errorf("%d files recorded in exports, %d written", recorded, len(m.Files)+1)
	}

	// A week later: the deltas are the difference between the two nights.
	if err := runStages(ctx, cfg, d2, []string{"features", "score", "publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	cfg.Export.IncludeEmail, cfg.Export.CSVBOM = true, true
	out2 := t.TempDir()
	if err := exportDate(ctx, cfg, d2, "csv", out2, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out2, "segments.csv")); err != nil || !strings.HasPrefix(string(b), "\ufeffsegment_id,") {
		t.Errorf("csv_bom: segments.csv starts %q (%v)", b[:min(len(b), 20)], err)
	}
	pairs := func(a, b string) []string { // (customer, segment) of night a not in night b
		return queryStrings(t, wh, "SELECT concat(customer_id, '|', segment_id) FROM {db}.segment_members WHERE as_of = toDate('"+a+
			"') AND (customer_id, segment_id) NOT IN (SELECT customer_id, segment_id FROM {db}.segment_members WHERE as_of = toDate('"+b+"')) ORDER BY customer_id")
	}
	delta := func(name string) []string {
		_, rows := readCSV(t, filepath.Join(out2, name))
		var out []string
		for _, r := range rows {
			out = append(out, r[0]+"|"+r[1])
		}
		return out
	}
	joined, left := pairs(day2, day1), pairs(day1, day2)
	t.Logf("a week later: %d joined a segment, %d left one", len(joined), len(left))
	if got := delta("joined.csv"); !equal(got, joined) || len(joined) == 0 {
		t.Errorf("joined.csv has %d rows, the difference %d", len(got), len(joined))
	}
	if got := delta("left.csv"); !equal(got, left) {
		t.Errorf("left.csv has %d rows, the difference %d", len(got), len(left))
	}
	optedIn := map[string]bool{}
	for _, id := range queryStrings(t, wh, "SELECT customer_id FROM {db}.raw_customers FINAL WHERE optin_email = 1") {
		optedIn[id] = true
	}
	entries, _ := filepath.Glob(filepath.Join(out2, "segment_*.csv"))
	withEmail := 0
	for _, path := range entries {
		header, rows := readCSV(t, path)
		email := slices.Index(header, "email")
		if email < 0 {
			t.Fatalf("%s: no email column though the config allows it", path)
		}
		for _, r := range rows {
			switch {
			case r[email] != "" && !optedIn[r[0]]:
				t.Fatalf("%s: customer %s did not opt in to e-mail but has an address", path, r[0])
			case r[email] != "":
				withEmail++
			}
		}
	}
	if withEmail == 0 {
		t.Error("no e-mail address exported for anyone")
	}

	// Parquet: the same row counts.
	out3 := t.TempDir()
	if err := exportDate(ctx, cfg, d2, "parquet", out3, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(out3, "manifest.json"))
	var m3 export.Manifest
	if err := json.Unmarshal(b, &m3); err != nil {
		t.Fatal(err)
	}
	if m3.PreviousAsOf != day1 {
		t.Errorf("previous_as_of %q, want %s", m3.PreviousAsOf, day1)
	}
	for _, f := range m3.Files {
		r, err := file.OpenParquetFile(filepath.Join(out3, f.File), false)
		if err != nil {
			t.Fatal(err)
		}
		if n := r.NumRows(); uint64(n) != f.Rows || !strings.HasSuffix(f.File, ".parquet") {
			t.Errorf("%s: %d rows, manifest says %d", f.File, n, f.Rows)
		}
		if f.Kind == "segment" {
			checkTypedSchema(t, r, f.File)
		}
		r.Close()
	}
}

// checkTypedSchema: a segment file's Parquet columns have their types, not
// all strings.
func checkTypedSchema(t *testing.T, r *file.Reader, name string) {
	t.Helper()
	sc, err := pqarrow.FromParquet(r.MetaData().Schema, nil, r.MetaData().KeyValueMetadata())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"control_group": "bool", "best_hour": "int32", "best_weekday": "int32", "discount_sensitivity": "float64",
		"product_feed": "list of utf8", "clv_12m": "float64", "p_alive": "float64", "next_order_date": "date32", "segment_id": "utf8"}
	for col, typ := range want {
		i := sc.FieldIndices(col)
		if len(i) != 1 {
			t.Errorf("%s: no column %s", name, col)
			continue
		}
		got := sc.Field(i[0]).Type.String()
		if l, ok := sc.Field(i[0]).Type.(*arrow.ListType); ok {
			got = "list of " + l.Elem().String()
		}
		if got != typ {
			t.Errorf("%s: column %s is %s, want %s", name, col, got, typ)
		}
	}
}

// checkIndexAndScores: segments.csv lists every segment with its label and
// size as published, and the members' files carry their published CLV,
// P(alive) and next order date.
func checkIndexAndScores(t *testing.T, wh *clickhouse.DB, dir, day string) {
	t.Helper()
	want := queryStrings(t, wh, "SELECT concat(segment_id, '|', label, '|', toString(size)) FROM {db}.segments WHERE as_of = toDate('"+day+"') ORDER BY segment_id")
	header, rows := readCSV(t, filepath.Join(dir, "segments.csv"))
	var got []string
	for _, r := range rows {
		got = append(got, r[0]+"|"+r[slices.Index(header, "label")]+"|"+r[slices.Index(header, "size")])
	}
	if !equal(got, want) {
		t.Errorf("segments.csv: %d segments, published %d (first %v against %v)", len(got), len(want), got[:min(1, len(got))], want[:min(1, len(want))])
	}
	scores := map[string]string{}
	for _, r := range queryStrings(t, wh, "SELECT concat(customer_id, '|', ifNull(toString(clv_12m), ''), '|', ifNull(toString(p_alive), ''), '|', ifNull(toString(next_order_date), '')) FROM {db}.customer_scores WHERE as_of = toDate('"+day+"') AND micro_segment != ''") {
		id, rest, _ := strings.Cut(r, "|")
		scores[id] = rest
	}
	files, _ := filepath.Glob(filepath.Join(dir, "segment_*.csv"))
	checked := 0
	for _, path := range files {
		header, rows := readCSV(t, path)
		clv, alive, next := slices.Index(header, "clv_12m"), slices.Index(header, "p_alive"), slices.Index(header, "next_order_date")
		for _, r := range rows {
			near := func(file, table string, within float64) bool { // the file rounds: to 2 digits (CLV) and 4 (P(alive))
				if file == "" || table == "" {
					return file == table
				}
				a, errA := strconv.ParseFloat(file, 64)
				b, errB := strconv.ParseFloat(table, 64)
				return errA == nil && errB == nil && math.Abs(a-b) <= within
			}
			wantRow := scores[r[0]]
			parts := strings.Split(wantRow, "|")
			if len(parts) != 3 || !near(r[clv], parts[0], 0.0051) || !near(r[alive], parts[1], 0.000051) || r[next] != parts[2] {
				t.Fatalf("%s: customer %s has %s|%s|%s, customer_scores %q", path, r[0], r[clv], r[alive], r[next], wantRow)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no member's scores checked")
	}
}

func sha256File(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// publishedNames are the tables publish swaps in, in order.
func publishedNames() []string {
	var out []string
	for _, t := range warehouse.Published {
		out = append(out, t.Name)
	}
	return out
}

// TestExportFolder: export writes only into a folder of its own (new, empty,
// or an earlier export's), refuses one with other files (also when named
// through ".."), and re-exporting into the same folder leaves exactly the
// files its manifest lists (the earlier export's stale ones removed).
func TestExportFolder(t *testing.T) {
	cfg := testEmbeddedConfig(t)
	dir, _ := generateShop(t, 1500, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "passwd"), []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exportDate(ctx, cfg, asOf, "csv", foreign, testLogger(t)); err == nil || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("export into a folder of other files: %v, want a refusal", err)
	}
	if err := os.Mkdir(filepath.Join(foreign, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	up := filepath.Join(foreign, "sub") + string(filepath.Separator) + ".."
	if err := exportDate(ctx, cfg, asOf, "csv", up, testLogger(t)); err == nil || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("export to %s: %v, want a refusal", up, err)
	}
	if entries, _ := os.ReadDir(foreign); len(entries) != 2 {
		t.Errorf("the refused folder now holds %d entries, not its passwd and sub", len(entries))
	}

	out := filepath.Join(t.TempDir(), "export")
	if err := exportDate(ctx, cfg, asOf, "csv", out, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	// An earlier export's file that this one does not write again.
	var m export.Manifest
	b, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Files = append(m.Files, warehouse.ExportFile{File: "segment_seg-gone.csv", Kind: "segment"})
	b, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(out, "manifest.json"), b, 0o644)
	os.WriteFile(filepath.Join(out, "segment_seg-gone.csv"), []byte("customer_id\nC1\n"), 0o644)
	if err := exportDate(ctx, cfg, asOf, "parquet", out, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"manifest.json"}
	for _, f := range m.Files {
		want = append(want, f.File)
	}
	entries, _ := os.ReadDir(out)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after re-exporting, the folder holds\n%v\nthe manifest lists\n%v", got, want)
	}
}
