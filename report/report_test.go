package report

import (
	"math"
	"strings"
	"testing"
)

// TestWrite: every chart renders, labels are escaped, and a report without
// models or a previous date says so instead of failing.
func TestWrite(t *testing.T) {
	full := Data{AsOf: "2026-11-01", PreviousAsOf: "2026-10-31", Customers: 10, Buyers: 8,
		Segments: []Segment{{ID: "seg-1", Label: "active · <script>alert(1)</script>", Size: 300, RevenueShare: 0.6}, {ID: "seg-2", Label: "lost", Size: 200, RevenueShare: 0.4}},
		CLV:      []float64{0, 10, 100, 1000}, PAlive: []float64{0.1, 0.5, 0.9, 1},
		Lifecycle: []Count{{"active", 5}, {"lost", 3}}, Tiers: []Count{{"vip", 1}},
		Flows:    []Flow{{"active", "lost", 2}, {"(new)", "active", 1}},
		LTV:      &LTV{Kind: "bgnbd", Buckets: []Bucket{{"0", 5, 0.2, 0.3}, {"1", 3, 0.5, 0.4}}},
		EarlyVIP: &EarlyVIP{AUC: 0.9, ROC: [][2]float64{{0, 0}, {0.1, 0.8}, {1, 1}}, PR: [][2]float64{{0.5, 1}, {1, 0.5}}},
	}
	for _, c := range []struct {
		name   string
		d      Data
		charts int
		want   []string
	}{
		{"full", full, 7, []string{"Moves since 2026-10-31", "ROC curve", "&lt;script&gt;"}},
		{"young shop", Data{AsOf: "2026-11-01"}, 4, []string{"No purchase model.", "No early potential-VIP model", "No previous published date", "no data"}},
		// The purchase model gated: segments without CLV or churn risk, and
		// no revenue at all to share.
		{"gated model", Data{AsOf: "2026-11-01", Customers: 3, Buyers: 2, Segments: []Segment{{ID: "seg-1", Label: "lost", Size: 2,
			MeanCLV: math.NaN(), ChurnRisk: math.NaN(), AtRisk: math.NaN()}}, LTV: &LTV{Kind: "none", Gated: []string{"3 repeat buyers, fewer than 50"}},
			EarlyVIPReason: "early VIP: the training cohort has 6 VIPs of 473 buyers"}, 4, []string{"<td>–</td>", "not predicted: no member of the segment has a prediction", "3 repeat buyers, fewer than 50",
			"No early potential-VIP model: early VIP: the training cohort has 6 VIPs of 473 buyers."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := Write(&b, c.d); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			if n := strings.Count(html, "<svg"); n != c.charts {
				t.Errorf("%d charts, want %d", n, c.charts)
			}
			for _, w := range c.want {
				if !strings.Contains(html, w) {
					t.Errorf("no %q in the page", w)
				}
			}
			if strings.Contains(html, "NaN") {
				t.Error("the page shows NaN")
			}
			if strings.Contains(html, "<script>") {
				t.Error("a label's markup went into the page unescaped")
			}
		})
	}
}

// TestFalseDiscoveries: the report says how many of the date's verdicts may
// be chance, from the segments' Benjamini-Hochberg q-values.
func TestFalseDiscoveries(t *testing.T) {
	nan := math.NaN()
	d := Data{AsOf: "2026-11-01", LiftWindow: 28, Lift: []Lift{
		{Segment: "seg-1", Verdict: "lift", Q: 0.02, Low: 0.01, High: 0.2, MDE: 0.1},
		{Segment: "seg-2", Verdict: "negative", Q: 0.3, Low: -0.2, High: -0.01, MDE: 0.1},
		{Segment: "seg-3", Verdict: "no detectable effect", Q: 0.8, Low: -0.1, High: 0.1, MDE: 0.1},
		{Segment: "seg-4", Verdict: "too small to tell", Q: nan, Low: nan, High: nan, MDE: nan},
	}}
	var b strings.Builder
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	want := "2 segments show a difference at 95%; across the date&#39;s segments, about 0.6 of them are expected to be chance (Benjamini-Hochberg: the largest q among them is 0.300); 1 hold at q &lt; 0.05."
	if !strings.Contains(b.String(), want) {
		i := strings.Index(b.String(), "false-discoveries")
		t.Errorf("the lift section does not say %q:\n%s", want, b.String()[i:min(len(b.String()), i+400)])
	}
	if strings.Contains(b.String(), "NaN") {
		t.Error("the page shows NaN")
	}
}
