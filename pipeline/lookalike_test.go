package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/lookalike"
)

// TestLookalike: seeded with half of the generated shop's true VIPs, the
// look-alike ranking puts the other half in its top 2% of the base at least
// five times as often as the base holds them, for the method Tessera uses;
// both methods are measured and printed (the choice of the default). The
// file holds only hashed addresses of customers who opted in to e-mail, and
// a re-run writes the same file.
func TestLookalike(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 10000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, []string{"extract", "features"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var vips []string
	for id, vip := range truthVIP(t, dir) {
		if vip {
			vips = append(vips, id)
		}
	}
	sort.Strings(vips)
	var seed []string
	hidden := map[string]bool{}
	for i, id := range vips {
		if i%2 == 0 {
			seed = append(seed, id)
		} else {
			hidden[id] = true
		}
	}
	p, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := filepath.Join(t.TempDir(), "audience.csv")
	lifts := map[string]float64{}
	for _, method := range []string{lookalike.Logistic, lookalike.Centroid} {
		res, err := p.Lookalike(ctx, asOf, seed, 200, method, out)
		if err != nil {
			t.Fatal(err)
		}
		n := res.Base * 2 / 100
		found := 0
		for _, id := range res.Ranked[:n] {
			if hidden[id] {
				found++
			}
		}
		base := float64(len(hidden)) / float64(res.Base)
		lifts[method] = float64(found) / float64(n) / base
		t.Logf("%s: seed %d of %d VIPs; top %d of %d: %d of the other %d VIPs (%.1f%% against %.2f%% in the base): lift %.1f×",
			method, res.Seed, len(vips), n, res.Base, found, len(hidden), 100*float64(found)/float64(n), 100*base, lifts[method])
	}
	if lifts[lookalike.Logistic] < 5 || lifts[lookalike.Logistic] < lifts[lookalike.Centroid] {
		t.Errorf("lift %.1f× with the logistic ranking (%.1f× by centroid); want at least 5× and no worse than the centroid's", lifts[lookalike.Logistic], lifts[lookalike.Centroid])
	}

	res, err := p.Lookalike(ctx, asOf, seed, 200, lookalike.Logistic, out)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "email" || len(lines) != 201 || res.Written != 200 {
		t.Fatalf("the audience file has %d lines under %q, want 200 under email", len(lines)-1, lines[0])
	}
	for _, h := range lines[1:] {
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Fatalf("%q is not a hex SHA-256", h)
		}
	}
	var opted uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_customers FINAL WHERE optin_email AND email_hash IN ('"+strings.Join(lines[1:], "','")+"')", &opted)
	if opted != 200 {
		t.Errorf("%d of the 200 hashes are of customers who opted in to e-mail", opted)
	}
	again, err := p.Lookalike(ctx, asOf, seed, 200, lookalike.Logistic, out)
	if b2, _ := os.ReadFile(out); err != nil || string(b2) != string(b) || again.Written != 200 {
		t.Errorf("a re-run wrote another file (%v)", err)
	}
}
