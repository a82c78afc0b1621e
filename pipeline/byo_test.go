package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"html"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// fixtureConfig is a fixture's tessera.yaml on top of cfg (the test's
// warehouse), its folder made absolute.
func fixtureConfig(t *testing.T, cfg config.Config, name string) config.Config {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join(byoDir, name))
	fx, err := config.Load(filepath.Join(dir, "tessera.yaml"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.TimeZone, cfg.Source = fx.TimeZone, fx.Source
	cfg.Source.Files.Dir = dir
	return cfg
}

// fileRecords reads a fixture file the test's own way (encoding/csv, the
// charmap decoder): its records after the header, blank ones included.
func fileRecords(t *testing.T, path string, sep rune, cm *charmap.Charmap) (header []string, recs [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if cm != nil {
		r = cm.NewDecoder().Reader(f)
	}
	cr := csv.NewReader(r)
	cr.Comma, cr.FieldsPerRecord = sep, -1
	all, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return all[0], all[1:]
}

func blankRecord(r []string) bool {
	for _, f := range r {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// want is what the test expects of one entity, counted from the files.
type want struct {
	read, blank int64
	landed      uint64 // rows in the raw table (FINAL)
	rules       map[canon.Rule]int64
}

// lastExtract is the per-entity counts of the last extract run.
func lastExtract(t testing.TB, wh *clickhouse.DB) map[canon.Entity]EntityCount {
	t.Helper()
	var detail string
	queryRow(t, wh, "SELECT detail FROM {db}.runs WHERE stage = 'extract' ORDER BY finished_at DESC, started_at DESC LIMIT 1", &detail)
	var res ExtractResult
	if err := json.Unmarshal([]byte(detail), &res); err != nil {
		t.Fatal(err)
	}
	out := map[canon.Entity]EntityCount{}
	for _, c := range res.Entities {
		out[c.Entity] = c
	}
	return out
}

func checkCounts(t *testing.T, wh *clickhouse.DB, wants map[canon.Entity]want) {
	t.Helper()
	got := lastExtract(t, wh)
	for e, w := range wants {
		c := got[e]
		t.Logf("%s from %s: read %d = landed %d + rejected %d %v + blank %d; unknown products %d", e, c.Source, c.Read, c.Landed, c.Rejected, c.ByRule, c.Blank, c.UnknownProduct)
		if c.Read != w.read || c.Blank != w.blank || c.Read != c.Landed+c.Rejected+c.Blank {
			t.Errorf("%s: read %d, blank %d (landed %d, rejected %d); the files have %d records, %d blank", e, c.Read, c.Blank, c.Landed, c.Rejected, w.read, w.blank)
		}
		var final uint64
		queryRow(t, wh, "SELECT count() FROM {db}.raw_"+string(e)+" FINAL", &final)
		if final != w.landed {
			t.Errorf("%s: %d rows landed, want %d", e, final, w.landed)
		}
		for r, n := range w.rules {
			if c.ByRule[r] != n {
				t.Errorf("%s: %d rows rejected as %s, want %d (all: %v)", e, c.ByRule[r], r, n, c.ByRule)
			}
		}
	}
}

// TestBringYourOwnExport: each fixture of testdata/byo lands by its
// tessera.yaml alone; every record is landed, rejected or counted blank,
// exactly as the files (read by the test on its own) say; the person key
// makes one customer of a person's per-order ids; a re-run duplicates
// nothing; then the whole pipeline runs and the report renders.
func TestBringYourOwnExport(t *testing.T) {
	for _, fx := range []struct {
		name  string
		asOf  time.Time
		wants func(t *testing.T, dir string) map[canon.Entity]want
		check func(t *testing.T, wh *clickhouse.DB, dir string)
		grade string // of the purchase model; "" when the data cannot support one
		// earlyVIP is in the reason the early potential-VIP model is refused;
		// "" when there is one.
		earlyVIP string
	}{
		{"marketplace", time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC), marketplaceWants, checkPersons, "", ""},
		{"marketplace-sampled", time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC), marketplaceWants, checkSampled, "", "bought after their first week"},
		{"online-retail", time.Date(2011, 12, 10, 0, 0, 0, 0, time.UTC), onlineRetailWants, nil, "", ""},
		{"accounting-ru", time.Date(2025, 12, 27, 0, 0, 0, 0, time.UTC), accountingWants, checkAccounting, "B", "the test cohort"},
	} {
		t.Run(fx.name, func(t *testing.T) {
			cfg, wh := testClickHouse(t)
			cfg = fixtureConfig(t, cfg, fx.name)
			ctx := context.Background()
			wants := fx.wants(t, cfg.Source.Files.Dir)
			for round := 1; round <= 2; round++ {
				if err := runStages(ctx, cfg, fx.asOf, []string{"extract"}, testLogger(t)); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				checkCounts(t, wh, wants)
			}
			if fx.check != nil {
				fx.check(t, wh, cfg.Source.Files.Dir)
			}
			if err := runStages(ctx, cfg, fx.asOf, nil, testLogger(t)); err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(t.TempDir(), "report.html")
			if err := reportDate(ctx, cfg, fx.asOf, page, testLogger(t)); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(page)
			for _, s := range []string{"Customers by lifecycle stage", `<table class="matrix" id="quality">`, "raw_order_lines"} {
				if !strings.Contains(string(b), s) {
					t.Errorf("the report lacks %q", s)
				}
			}
			if strings.Contains(string(b), "NaN") {
				t.Error("the report shows NaN")
			}
			if warned := strings.Contains(string(b), "bought for 0 in all: their orders are worth 0. <b>Warning:</b>"); warned != (fx.name == "marketplace-sampled") {
				t.Errorf("the report's data quality warns of buyers who bought for 0: %v", warned)
			}
			var scored, predicted uint64
			day := "toDate('" + fx.asOf.Format(time.DateOnly) + "')"
			queryRow(t, wh, "SELECT count(), countIf(clv_12m IS NOT NULL AND first_order_date IS NOT NULL) FROM {db}.customer_scores WHERE as_of = "+day, &scored, &predicted)
			var grade, kind string
			queryRow(t, wh, "SELECT grade, kind FROM {db}.models WHERE as_of = "+day+" AND kind != 'earlyvip' ORDER BY trained_at DESC LIMIT 1", &grade, &kind)
			t.Logf("%d customers scored, %d buyers with a CLV; purchase model %q, grade %q", scored, predicted, kind, grade)
			if scored == 0 || grade != fx.grade || (predicted > 0) != (fx.grade != "") {
				t.Errorf("%d customers scored, %d with a CLV, purchase model %s graded %q; want grade %q", scored, predicted, kind, grade, fx.grade)
			}
			var status, reason, artefact string
			queryRow(t, wh, "SELECT status, reason, artefact FROM {db}.models WHERE as_of = "+day+" AND kind = 'earlyvip' ORDER BY trained_at DESC LIMIT 1", &status, &reason, &artefact)
			var ev segment.EarlyVIPModel
			if status == "ok" {
				if err := json.Unmarshal([]byte(artefact), &ev); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("early potential-VIP model: %s %s; grade %s, AUC %.3f (first-week revenue's %.3f), top-5%% precision %.2f (%.2f) on %d buyers with %d VIPs",
				status, reason, ev.Grade, ev.Metrics.AUC, ev.FirstWeekRanking.AUC, ev.Metrics.PrecisionTop5, ev.FirstWeekRanking.PrecisionTop5, ev.Metrics.Rows, ev.Metrics.Positives)
			if fx.earlyVIP == "" && status != "ok" || fx.earlyVIP != "" && (status != "gated" || !strings.Contains(reason, fx.earlyVIP)) {
				t.Errorf("early potential-VIP model %s (%s), want refused for %q", status, reason, fx.earlyVIP)
			}
			if fx.earlyVIP != "" && !strings.Contains(string(b), "No early potential-VIP model: "+html.EscapeString(reason)) {
				t.Error("the report does not say why there is no early potential-VIP model")
			}
			checkValueTiers(t, wh, day)
		})
	}
}

// checkValueTiers: what a real export's segments say of value. A buyer who
// bought for 0 is never in a "high value" (or "mid value") segment; a
// customer who never bought is offered the first-order incentive (the
// default offers' 5%); the orders worth 0 are counted in the extract run's
// record.
func checkValueTiers(t *testing.T, wh *clickhouse.DB, day string) {
	t.Helper()
	var zeroBuyers, valued, nonBuyers, offered uint64
	queryRow(t, wh, `SELECT count(), countIf(label LIKE '%high value%' OR label LIKE '%mid value%') FROM (
		SELECT segment_id FROM (SELECT customer_id, segment_id FROM {db}.segment_members WHERE as_of = `+day+`) AS m
		INNER JOIN (SELECT customer_id FROM {db}.customer_features WHERE as_of = `+day+` AND revenue = 0) AS f USING customer_id
	) AS z INNER JOIN (SELECT segment_id, label FROM {db}.segments WHERE as_of = `+day+`) AS s USING segment_id`, &zeroBuyers, &valued)
	queryRow(t, wh, "SELECT count(), countIf(offer = '5%') FROM {db}.customer_scores WHERE as_of = "+day+" AND lifecycle_stage = 'non_buyer'", &nonBuyers, &offered)
	var zeroOrders, landed int64
	for _, detail := range queryStrings(t, wh, "SELECT detail FROM {db}.runs WHERE stage = 'extract' AND status = 'ok'") {
		var res ExtractResult
		if err := json.Unmarshal([]byte(detail), &res); err != nil {
			t.Fatalf("extract's record: %v: %s", err, detail)
		}
		z, l := res.ZeroValueOrders()
		zeroOrders, landed = zeroOrders+z, landed+l
	}
	t.Logf("%d buyers bought for 0 (%d in a high or mid value segment); %d customers never bought (%d offered 5%%); %d of %d orders landed worth 0",
		zeroBuyers, valued, nonBuyers, offered, zeroOrders, landed)
	if valued > 0 {
		t.Errorf("%d buyers who bought for 0 are in high or mid value segments", valued)
	}
	if offered != nonBuyers {
		t.Errorf("%d of %d customers who never bought are offered the first-order 5%%", offered, nonBuyers)
	}
}

func marketplaceWants(t *testing.T, dir string) map[canon.Entity]want {
	_, custs := fileRecords(t, filepath.Join(dir, "olist_customers_dataset.csv"), ',', nil)
	_, orders := fileRecords(t, filepath.Join(dir, "olist_orders_dataset.csv"), ',', nil)
	_, items := fileRecords(t, filepath.Join(dir, "olist_order_items_dataset.csv"), ',', nil)
	_, prods := fileRecords(t, filepath.Join(dir, "olist_products_dataset.csv"), ',', nil)
	w := map[canon.Entity]want{}
	count := func(recs [][]string) (read, blank int64) {
		for _, r := range recs {
			if blankRecord(r) {
				blank++
			}
		}
		return int64(len(recs)), blank
	}
	// Orders: those whose time reads (US layout) land; the others are bad_timestamp.
	person := map[string]string{} // per-order customer id -> person
	for _, r := range custs {
		if !blankRecord(r) {
			person[r[0]] = r[1]
		}
	}
	good, bad := map[string]bool{}, map[string]bool{}
	withOrders, unreadOrder := map[string]bool{}, map[string]bool{}
	for _, r := range orders {
		if blankRecord(r) {
			continue
		}
		if _, err := time.Parse("1/2/2006 15:04", r[3]); err != nil {
			bad[r[0]] = true
			unreadOrder[r[1]] = true
			continue
		}
		good[r[0]] = true
		withOrders[person[r[1]]] = true
	}
	persons, perOrder := map[string]bool{}, 0
	for _, r := range custs {
		if !blankRecord(r) {
			persons[r[1]] = true
			perOrder++
		}
	}
	// Customer rows of persons without an order that reads have no time to
	// be created at: bad_timestamp where the row's own order's time does not
	// read, missing_field where it has no order.
	noOrder, unread := 0, 0
	for _, r := range custs {
		switch {
		case blankRecord(r) || withOrders[r[1]]:
		case unreadOrder[r[0]]:
			unread++
		default:
			noOrder++
		}
	}
	read, blank := count(custs)
	w[canon.Customers] = want{read, blank, uint64(len(withOrders)), map[canon.Rule]int64{canon.MissingField: int64(noOrder), canon.BadTimestamp: int64(unread),
		canon.DuplicateKey: int64(perOrder - noOrder - unread - len(withOrders))}}
	read, blank = count(orders)
	w[canon.Orders] = want{read, blank, uint64(len(good)), map[canon.Rule]int64{canon.BadTimestamp: int64(len(bad))}}
	catalogue := map[string]bool{}
	for _, r := range prods {
		if !blankRecord(r) {
			catalogue[r[0]] = true
		}
	}
	var orphans, ofBad, landed, unknownProduct int64
	for _, r := range items {
		switch {
		case blankRecord(r):
		case bad[r[0]]:
			ofBad++
		case !good[r[0]]:
			orphans++
		default:
			landed++
			if !catalogue[r[2]] {
				unknownProduct++
			}
		}
	}
	if orphans == 0 || ofBad == 0 || unknownProduct == 0 {
		t.Fatalf("the fixture lacks orphans (%d), lines of rejected orders (%d) or unknown products (%d)", orphans, ofBad, unknownProduct)
	}
	read, blank = count(items)
	w[canon.OrderLines] = want{read, blank, uint64(landed), map[canon.Rule]int64{canon.UnknownOrder: orphans, canon.ParentRejected: ofBad}}
	read, blank = count(prods)
	w[canon.Products] = want{read, blank, uint64(len(catalogue)), nil}
	return w
}

// checkPersons: every order is its person's (none keeps a per-order id),
// and the per-order ids are linked in identities; unknown products counted.
func checkPersons(t *testing.T, wh *clickhouse.DB, dir string) {
	_, custs := fileRecords(t, filepath.Join(dir, "olist_customers_dataset.csv"), ',', nil)
	persons := map[string]bool{}
	for _, r := range custs {
		if !blankRecord(r) {
			persons[r[1]] = true
		}
	}
	for _, id := range queryStrings(t, wh, "SELECT DISTINCT customer_id FROM {db}.raw_orders FINAL") {
		if !persons[id] {
			t.Fatalf("order of customer %q, which is not a person key", id)
		}
	}
	var links uint64
	queryRow(t, wh, "SELECT count() FROM {db}.identities WHERE kind = 'customer_id' AND source = 'files'", &links)
	if links == 0 {
		t.Error("no per-order id is linked to its person in identities")
	}
	c := lastExtract(t, wh)[canon.OrderLines]
	if c.UnknownProduct == 0 {
		t.Error("order lines of products missing from the catalogue were not counted")
	}
}

// checkSampled: an export whose files were sampled apart, so that most
// orders have no items and are worth 0. Extract counts them and warns; the
// customers without an order that reads are rejected saying their time could
// not be derived, not that a column is empty.
func checkSampled(t *testing.T, wh *clickhouse.DB, dir string) {
	var detail string
	queryRow(t, wh, "SELECT detail FROM {db}.runs WHERE stage = 'extract' ORDER BY finished_at DESC, started_at DESC LIMIT 1", &detail)
	var res ExtractResult
	if err := json.Unmarshal([]byte(detail), &res); err != nil {
		t.Fatal(err)
	}
	zero, landed := res.ZeroValueOrders()
	t.Logf("%d of %d orders landed are worth 0; warned: %s", zero, landed, res.ZeroValueWarning())
	if zero < landed/2 || res.ZeroValueWarning() == "" {
		t.Errorf("%d of %d orders landed counted as worth 0, warning %q: want most, and a warning", zero, landed, res.ZeroValueWarning())
	}
	// The orders in the payments file are worth what their payments add up to.
	paid := sumByOrder(t, filepath.Join(dir, "olist_order_payments_dataset.csv"), 4)
	checked := 0
	for _, row := range queryStrings(t, wh, "SELECT order_id || ' ' || toString(net_amount) FROM {db}.raw_orders FINAL") {
		id, net, _ := strings.Cut(row, " ")
		want, ok := paid[id]
		if !ok {
			continue
		}
		checked++
		if got, _ := strconv.ParseFloat(net, 64); math.Abs(got-want) > 0.005 {
			t.Errorf("order %s landed worth %s; its payments add up to %.2f", id, net, want)
		}
	}
	if checked < len(paid)/2 {
		t.Errorf("%d of the %d orders with payments landed", checked, len(paid))
	}
	// Their shipping is what their items' freight adds up to.
	freight := sumByOrder(t, filepath.Join(dir, "olist_order_items_dataset.csv"), 6)
	shipped := 0
	for _, row := range queryStrings(t, wh, "SELECT order_id || ' ' || toString(shipping_amount) FROM {db}.raw_orders FINAL") {
		id, ship, _ := strings.Cut(row, " ")
		got, _ := strconv.ParseFloat(ship, 64)
		if want := freight[id]; math.Abs(got-want) > 0.005 {
			t.Errorf("order %s landed with shipping %s; its items' freight adds up to %.2f", id, ship, want)
		} else if want > 0 {
			shipped++
		}
	}
	if shipped == 0 {
		t.Error("no order landed with the freight of its items as its shipping")
	}
	var rejected uint64
	var example string
	queryRow(t, wh, "SELECT count(), any(detail) FROM {db}.rejected_rows FINAL WHERE entity = 'customers' AND rule = 'missing_field'", &rejected, &example)
	if rejected == 0 || !strings.Contains(example, "created_at could not be derived") {
		t.Errorf("%d customers rejected for missing_field, e.g. %q: want those without an order, saying their time could not be derived", rejected, example)
	}
}

// sumByOrder adds up a column of a marketplace file's records by their
// order (the first column), as the test reads the file.
func sumByOrder(t *testing.T, path string, col int) map[string]float64 {
	t.Helper()
	_, recs := fileRecords(t, path, ',', nil)
	sums := map[string]float64{}
	for _, r := range recs {
		if !blankRecord(r) {
			v, err := strconv.ParseFloat(r[col], 64)
			if err != nil {
				t.Fatal(err)
			}
			sums[r[0]] += v
		}
	}
	return sums
}

func onlineRetailWants(t *testing.T, dir string) map[canon.Entity]want {
	_, recs := fileRecords(t, filepath.Join(dir, "online_retail.csv"), ',', nil)
	invoices, guests, custs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var guestLines int64
	for _, r := range recs {
		invoices[r[0]] = true
		if r[6] == "" {
			guests[r[0]] = true
			guestLines++
		} else {
			custs[r[6]] = true
		}
	}
	n := int64(len(recs))
	return map[canon.Entity]want{
		canon.Customers:  {int64(len(custs)), 0, uint64(len(custs)), nil},
		canon.Orders:     {int64(len(invoices)), 0, uint64(len(invoices) - len(guests)), map[canon.Rule]int64{canon.MissingField: int64(len(guests))}},
		canon.OrderLines: {n, 0, uint64(n - guestLines), map[canon.Rule]int64{canon.ParentRejected: guestLines}},
	}
}

func accountingWants(t *testing.T, dir string) map[canon.Entity]want {
	w := map[canon.Entity]want{}
	for e, file := range map[canon.Entity]string{canon.Customers: "kontragenty.csv", canon.Orders: "zakazy.csv", canon.OrderLines: "stroki_zakazov.csv", canon.Products: "nomenklatura.csv"} {
		_, recs := fileRecords(t, filepath.Join(dir, file), ';', charmap.Windows1251)
		w[e] = want{int64(len(recs)), 0, uint64(len(recs)), map[canon.Rule]int64{}}
	}
	return w
}

// checkAccounting: the amounts with a decimal comma and the Russian
// statuses land as numbers and canonical statuses; times are Moscow's.
func checkAccounting(t *testing.T, wh *clickhouse.DB, dir string) {
	_, recs := fileRecords(t, filepath.Join(dir, "zakazy.csv"), ';', charmap.Windows1251)
	first := recs[0]
	var net float64
	var status, at string
	queryRow(t, wh, "SELECT net_amount, status, toString(ordered_at, 'UTC') FROM {db}.raw_orders FINAL WHERE order_id = '"+first[0]+"'", &net, &status, &at)
	wantNet := strings.NewReplacer("\u00a0", "", ",", ".").Replace(first[6])
	msk, _ := time.LoadLocation("Europe/Moscow")
	wantAt, _ := time.ParseInLocation("02.01.2006 15:04:05", first[1], msk)
	statuses := map[string]string{"Выполнен": "completed", "Отменён": "cancelled", "Возврат": "returned", "Частичный возврат": "partially_returned"}
	if s := strings.TrimRight(strings.TrimRight(jsonNumber(net), "0"), "."); !strings.HasPrefix(wantNet, s) || status != statuses[first[3]] ||
		at != wantAt.UTC().Format(time.DateTime) {
		t.Errorf("order %s landed as net %v, %s, %s; the file says %s, %s, %s (Moscow)", first[0], net, status, at, first[6], first[3], first[1])
	}
}

func jsonNumber(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestExportDatesThatDoNotRead: an export read without its date layouts
// lands no order: extract fails naming the entity and the rule, instead of
// succeeding with nothing. Where the customers' times come from the orders
// (the marketplace), it fails at the customers, saying the orders' times do
// not read.
func TestExportDatesThatDoNotRead(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		layouts []string
		says    []string
	}{
		{"marketplace", nil, []string{"orders", "ordered_at", `"1/`, "date_layouts"}},
		{"accounting-ru", []string{"02.01.2006"}, []string{"orders: none of the", "bad_timestamp", "ordered_at", `reads with none of the date layouts ["02.01.2006"]`}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			cfg, _ := testClickHouse(t)
			cfg = fixtureConfig(t, cfg, tc.fixture)
			m, _ := cfg.Source.Files.Resolved("orders")
			m.DateLayouts = tc.layouts
			cfg.Source.Files.Mapping["orders"] = m
			err := extractFails(t, cfg, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), tc.says)
			if errors.Is(err, os.ErrNotExist) {
				t.Errorf("the error %q says a file is missing", err)
			}
		})
	}
}

// TestExportWithoutOrders: an orders file with a header and no rows fails
// extract: a run that lands nothing to segment is not a success.
func TestExportWithoutOrders(t *testing.T) {
	cfg, _ := testClickHouse(t)
	cfg = fixtureConfig(t, cfg, "accounting-ru")
	dir := t.TempDir()
	entries, _ := os.ReadDir(cfg.Source.Files.Dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(cfg.Source.Files.Dir, e.Name()))
		if e.Name() == "zakazy.csv" {
			h, _, _ := bytes.Cut(b, []byte("\n"))
			b = h
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600)
	}
	cfg.Source.Files.Dir = dir
	err := runStages(context.Background(), cfg, time.Date(2025, 12, 27, 0, 0, 0, 0, time.UTC), []string{"extract"}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "orders: the source has no rows (zakazy.csv)") {
		t.Fatalf("error %v, want one saying the orders file has no rows", err)
	}
}

// TestExportNotFound: a mapped file that is not there fails extract saying
// where it looked.
func TestExportNotFound(t *testing.T) {
	cfg, _ := testClickHouse(t)
	cfg = fixtureConfig(t, cfg, "marketplace")
	m := cfg.Source.Files.Mapping["customers"]
	m.File = "customers_*.csv"
	cfg.Source.Files.Mapping["customers"] = m
	err := runStages(context.Background(), cfg, time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC), []string{"extract"}, testLogger(t))
	if want := "no source has customers (looked for customers_*.csv in " + cfg.Source.Files.Dir + " for customers"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one saying %q", err, want)
	}
}

// TestFailedExtractSaysWhy: an extract that fails (a tenth of a sampled
// export's customers have no order to be created at, above the 5% allowed)
// leaves what a user needs to see why, on both stores alike: the run's
// rejected rows, each with its row key, and a message saying what of the
// run stayed; the embedded store keeps nothing else of the run (no
// identities).
func TestFailedExtractSaysWhy(t *testing.T) {
	asOf := time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, store := range []string{"embedded", "clickhouse"} {
		t.Run(store, func(t *testing.T) {
			var cfg config.Config
			var wh *clickhouse.DB
			if store == "embedded" {
				cfg = testEmbeddedConfig(t)
			} else {
				cfg, wh = testClickHouse(t)
			}
			cfg = fixtureConfig(t, cfg, "marketplace-sampled")
			cfg.Source.MaxRejectedShare = config.Default().Source.MaxRejectedShare
			err := runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t))
			if err == nil {
				t.Fatal("extract succeeded with 11.6% of the customers rejected")
			}
			t.Log(err)
			says := map[string]string{"embedded": "nothing of the run landed", "clickhouse": "what landed stays landed"}[store]
			if !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), "created_at could not be derived") {
				t.Errorf("the error does not say %q and why customers were rejected: %v", says, err)
			}
			var keys []string
			if wh != nil {
				keys = queryStrings(t, wh, "SELECT row_key FROM {db}.rejected_rows WHERE entity = 'customers' AND rule = 'missing_field'")
			} else {
				keys = embeddedRejectedKeys(t, cfg.DataDir, "customers")
				if _, err := os.Stat(filepath.Join(cfg.DataDir, "warehouse", "identities.jsonl")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the failed run wrote identities (%v)", err)
				}
			}
			empty := slices.Index(keys, "")
			if len(keys) < 100 || empty >= 0 {
				t.Errorf("%d rejected customers in rejected_rows, an empty row key at %d; want 130, each with its key", len(keys), empty)
			}
		})
	}
}

// embeddedRejectedKeys reads the row keys of an entity's rejected rows from
// the embedded store's file, as a user would.
func embeddedRejectedKeys(t *testing.T, dataDir string, entity canon.Entity) []string {
	t.Helper()
	f, err := file.OpenParquetFile(filepath.Join(dataDir, "warehouse", "rejected_rows.parquet"), false)
	if err != nil {
		t.Fatalf("rejected_rows after the failed run: %v", err)
	}
	defer f.Close()
	fr, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	rec := array.NewTableReader(tbl, -1)
	defer rec.Release()
	var keys []string
	for rec.Next() {
		r := rec.Record()
		ents, ks := canon.ArrayOf[*array.String](r, "entity"), canon.ArrayOf[*array.String](r, "row_key")
		for i := 0; i < int(r.NumRows()); i++ {
			if ents.Value(i) == string(entity) {
				keys = append(keys, ks.Value(i))
			}
		}
	}
	return keys
}

// extractFails runs extract for the date, which must fail with an error
// saying each of says; it returns the error.
func extractFails(t *testing.T, cfg config.Config, asOf time.Time, says []string) error {
	t.Helper()
	err := runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t))
	if err == nil {
		t.Fatal("extract succeeded")
	}
	t.Log(err)
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the error %q does not say %q", err, s)
		}
	}
	return err
}

// TestExportMistakesNamed: the usual mistakes of a mapping fail naming the
// cause: a misspelt source column, with the closest one of the header; a
// date layout that is not the file's, with the layouts tried.
func TestExportMistakesNamed(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(m *config.FileMapping)
		says []string
	}{
		{"misspelt column", func(m *config.FileMapping) {
			delete(m.Columns, "order_purchase_timestamp")
			m.Columns["order_purchase_timestmp"] = config.Names{"ordered_at"}
		}, []string{`header has no column "order_purchase_timestmp": did you mean "order_purchase_timestamp"?`}},
		{"day-first layout", func(m *config.FileMapping) { m.DateLayouts = []string{"2/1/2006 15:04"} },
			// The customers, read first, take their times from the orders: the
			// orders' dates are named as the cause, with the layout tried.
			[]string{"customers:", "bad_timestamp", "the ordered_at of the customer's orders does not read",
				`with the date layouts ["2/1/2006 15:04"]: fix source.files.mapping.orders.date_layouts`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := fixtureConfig(t, testEmbeddedConfig(t), "marketplace")
			m, _ := cfg.Source.Files.Resolved("orders")
			m.Columns = maps.Clone(m.Columns)
			c.edit(&m)
			cfg.Source.Files.Mapping["orders"] = m
			extractFails(t, cfg, time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC), c.says)
		})
	}
}
