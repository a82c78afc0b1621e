package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/tessera-cdp/tessera/canon"
)

func generate(t testing.TB, cfg Config) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readCSV(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		m := make(map[string]string, len(header))
		for i, h := range header {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Defaults()
	cfg.Customers, cfg.BadRows = 5000, 0.01
	sums := func() map[string][32]byte {
		dir := generate(t, cfg)
		out := map[string][32]byte{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() == TruthFile {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = sha256.Sum256(b)
		}
		return out
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := sums()
	runtime.GOMAXPROCS(4)
	four := sums()
	if len(one) != 8 {
		t.Fatalf("%d files, want 6 entities and 2 truth tables", len(one))
	}
	for name, s := range one {
		if four[name] != s {
			t.Errorf("%s differs between 1 and 4 workers", name)
		}
	}
	cfg.Seed = 2
	if other := sums(); other["orders.csv"] == one["orders.csv"] {
		t.Error("another seed gave the same orders")
	}
}

// TestTruth checks that the files reproduce the truth they were drawn from.
func TestTruth(t *testing.T) {
	cfg := Defaults()
	cfg.Customers = 30000
	dir := generate(t, cfg)
	truth := readCSV(t, filepath.Join(dir, TruthCustomersFile))
	if len(truth) != cfg.Customers {
		t.Fatalf("%d truth rows, want %d", len(truth), cfg.Customers)
	}
	vip := map[string]bool{}
	var regularRates, vipRates []float64
	buyers := 0
	for _, c := range truth {
		vip[c["customer_id"]] = c["vip"] == "true"
		rate, _ := strconv.ParseFloat(c["purchase_rate_per_day"], 64)
		if c["vip"] == "true" {
			vipRates = append(vipRates, rate)
		} else {
			regularRates = append(regularRates, rate)
		}
		if c["buyer"] == "true" {
			buyers++
		}
	}

	// Orders in the file, per customer, against the truth.
	orders := map[string]int{}
	revenue := map[string]float64{}
	total, vipRevenue := 0.0, 0.0
	for _, o := range readCSV(t, filepath.Join(dir, "orders.csv")) {
		if o["status"] == "cancelled" {
			continue
		}
		net, _ := strconv.ParseFloat(o["net_amount"], 64)
		orders[o["customer_id"]]++
		revenue[o["customer_id"]] += net
		total += net
		if vip[o["customer_id"]] {
			vipRevenue += net
		}
	}
	for _, c := range truth {
		id := c["customer_id"]
		n, _ := strconv.Atoi(c["orders"])
		rev, _ := strconv.ParseFloat(c["revenue"], 64)
		if orders[id] != n || math.Abs(revenue[id]-rev) > 0.01*float64(n)+0.01 {
			t.Fatalf("%s: files have %d orders worth %.2f, truth says %d worth %.2f", id, orders[id], revenue[id], n, rev)
		}
	}

	vipShare := float64(len(vipRates)) / float64(len(truth))
	revShare := vipRevenue / total
	t.Logf("VIP: %.2f%% of customers bring %.1f%% of revenue; buyers %.1f%%", 100*vipShare, 100*revShare, 100*float64(buyers)/float64(len(truth)))
	if math.Abs(vipShare-cfg.VIPShare) > 0.004 {
		t.Errorf("VIP share %.4f, asked for %.2f", vipShare, cfg.VIPShare)
	}
	if revShare < 0.42 || revShare > 0.58 {
		t.Errorf("VIP revenue share %.3f, asked for about half", revShare)
	}
	if b := float64(buyers) / float64(len(truth)); b < 0.70 || b > 0.80 {
		t.Errorf("buyer share %.3f, want about 0.75 (non-buyers must exist)", b)
	}

	// Purchase rates follow the population's gamma distributions.
	p := DefaultParams(cfg.VIPShare)
	for _, c := range []struct {
		name  string
		rates []float64
		pop   BGNBD
	}{{"regular", regularRates, p.Regular}, {"vip", vipRates, p.VIP}} {
		d := ksGamma(c.rates, c.pop.R, c.pop.Alpha)
		crit := 1.63 / math.Sqrt(float64(len(c.rates))) // 1% level
		t.Logf("%s purchase rates: n=%d KS D=%.4f (critical %.4f)", c.name, len(c.rates), d, crit)
		if d > crit {
			t.Errorf("%s purchase rates do not follow Gamma(%g, %g): KS D=%.4f > %.4f", c.name, c.pop.R, c.pop.Alpha, d, crit)
		}
	}
}

// ksGamma is the Kolmogorov-Smirnov distance between xs and Gamma(shape, rate).
func ksGamma(xs []float64, shape, rate float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	g := distuv.Gamma{Alpha: shape, Beta: rate}
	d := 0.0
	n := float64(len(s))
	for i, x := range s {
		f := g.CDF(x)
		d = math.Max(d, math.Max(math.Abs(float64(i+1)/n-f), math.Abs(f-float64(i)/n)))
	}
	return d
}

func TestBadRows(t *testing.T) {
	for _, format := range []string{"csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			cfg := Defaults()
			cfg.Customers, cfg.BadRows, cfg.Format = 10000, 0.01, format
			dir := t.TempDir()
			s, err := Generate(context.Background(), cfg, dir)
			if err != nil {
				t.Fatal(err)
			}
			bad := readCSV(t, filepath.Join(dir, TruthBadRowsFile))
			known := map[canon.Rule]bool{}
			for _, r := range canon.Rules {
				known[r.Rule] = true
			}
			perEntity := map[string]int64{}
			for _, b := range bad {
				if !known[canon.Rule(b["rule"])] {
					t.Fatalf("unknown rule %q in the truth", b["rule"])
				}
				if format == "parquet" && (b["rule"] == "bad_timestamp" || b["rule"] == "bad_number" || b["rule"] == "wrong_field_count") {
					t.Fatalf("%s cannot be held by a typed Parquet column", b["rule"])
				}
				perEntity[b["entity"]]++
			}
			for e, n := range s.Rows {
				good := n - s.BadRows[e]
				if perEntity[string(e)] != s.BadRows[e] {
					t.Errorf("%s: truth lists %d bad rows, summary %d", e, perEntity[string(e)], s.BadRows[e])
				}
				if good < 50000 {
					continue
				}
				if frac := float64(s.BadRows[e]) / float64(good); math.Abs(frac-cfg.BadRows) > 0.0015 {
					t.Errorf("%s: %.4f bad rows, asked for %.2f", e, frac, cfg.BadRows)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, mut := range []func(*Config){
		func(c *Config) { c.Customers = 0 },
		func(c *Config) { c.Days = 0 },
		func(c *Config) { c.Format = "xlsx" },
		func(c *Config) { c.BadRows = 0.9 },
		func(c *Config) { c.VIPShare = -1 },
		func(c *Config) { c.Currency = "EURO" },
	} {
		c := Defaults()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
}

func TestAppendTime(t *testing.T) {
	for _, s := range []int64{0, 951782400, 1709164800, 1710498153, 4102444799, -86400} {
		got := string(appendTime(nil, s))
		want := string(canon.AppendTime(nil, s))
		if got != want {
			t.Errorf("appendTime(%d) = %s, want %s", s, got, want)
		}
	}
}

// BenchmarkGenerate measures the generator; `make bench` runs it at a million
// customers with -benchtime=1x.
func BenchmarkGenerate(b *testing.B) {
	n := 100000
	if s := os.Getenv("TESSERA_BENCH_CUSTOMERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	cfg := Defaults()
	cfg.Customers = n
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		s, err := Generate(context.Background(), cfg, dir)
		if err != nil {
			b.Fatal(err)
		}
		var rows int64
		for _, r := range s.Rows {
			rows += r
		}
		b.ReportMetric(float64(rows), "rows")
	}
	b.ReportMetric(float64(n), "customers")
}

// TestUplift: a shop generated again with an uplift is the same shop but for
// the treated customers' orders in the window: more of them, worth more;
// everyone else's rows, and every customer and campaign row, are the same.
func TestUplift(t *testing.T) {
	cfg := Defaults()
	cfg.Customers = 3000
	before, after := t.TempDir(), t.TempDir()
	if _, err := Generate(context.Background(), cfg, before); err != nil {
		t.Fatal(err)
	}
	treated := map[string]bool{}
	for i := int64(1); i <= 3000; i += 2 {
		treated[customerID(i)] = true
	}
	from := time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
	cfg.Uplift = &Uplift{From: from, Days: 28, Treated: treated, RateFactor: 3, SpendFactor: 1.5}
	if _, err := Generate(context.Background(), cfg, after); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"customers.csv", "campaign_events.csv", "products.csv"} {
		a, _ := os.ReadFile(filepath.Join(before, f))
		b, _ := os.ReadFile(filepath.Join(after, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs with the uplift", f)
		}
	}
	orders := func(dir string) map[string]string {
		b, _ := os.ReadFile(filepath.Join(dir, "orders.csv"))
		out := map[string]string{}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if id, _, ok := strings.Cut(line, ","); ok {
				out[id] = line
			}
		}
		return out
	}
	o1, o2 := orders(before), orders(after)
	lo, hi := from.Format(time.DateTime), from.AddDate(0, 0, 28).Format(time.DateTime)
	var extra, changed int
	for id, line := range o2 {
		f := strings.Split(line, ",")
		cust, at := f[1], f[2]
		was, ok := o1[id]
		switch {
		case !treated[cust] && was != line:
			t.Fatalf("untreated customer %s's order %s changed:\n%s\n%s", cust, id, was, line)
		case !ok && !(at >= lo && at < hi):
			t.Fatalf("an extra order %s of %s outside the window: %s", id, cust, at)
		case !ok:
			extra++
		case was != line:
			changed++
		}
	}
	for id := range o1 {
		if _, ok := o2[id]; !ok {
			t.Fatalf("order %s is gone with the uplift", id)
		}
	}
	t.Logf("%d extra orders, %d orders worth more, of %d", extra, changed, len(o1))
	if extra == 0 || changed == 0 {
		t.Error("the uplift added no order or changed no value")
	}
}

// TestEventShare: a shop generated with a tenth of its events holds the same
// customers, products, orders and lines byte for byte, and about a tenth of
// the site and campaign events, each of them a row of the whole shop.
func TestEventShare(t *testing.T) {
	cfg := Defaults()
	cfg.Customers = 2000
	whole, tenth := t.TempDir(), t.TempDir()
	if _, err := Generate(context.Background(), cfg, whole); err != nil {
		t.Fatal(err)
	}
	cfg.EventShare = 0.1
	if _, err := Generate(context.Background(), cfg, tenth); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"customers.csv", "products.csv", "orders.csv", "order_lines.csv"} {
		a, _ := os.ReadFile(filepath.Join(whole, f))
		b, _ := os.ReadFile(filepath.Join(tenth, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs with a tenth of the events", f)
		}
	}
	for _, f := range []string{"events.csv", "campaign_events.csv"} {
		a, _ := os.ReadFile(filepath.Join(whole, f))
		b, _ := os.ReadFile(filepath.Join(tenth, f))
		all := map[string]bool{}
		for _, line := range strings.Split(string(a), "\n")[1:] {
			all[line] = true
		}
		kept := strings.Split(string(b), "\n")[1:]
		for _, line := range kept {
			if !all[line] {
				t.Fatalf("%s: %q is not a row of the whole shop", f, line)
			}
		}
		if share := float64(len(kept)) / float64(len(all)); share < 0.09 || share > 0.11 {
			t.Errorf("%s: %d of %d rows kept (%.3f), want about a tenth", f, len(kept), len(all), share)
		}
	}
}
