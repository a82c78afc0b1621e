package pipeline

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium is the headless browser the report is checked with.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium: run scripts/services.sh up, which installs it")
	return ""
}

// TestReport: the report of a published date is one self-contained page with
// every chart, and headless Chromium renders it into a screenshot with
// content (testdata is left with the last screenshot for a person to look at
// when TESSERA_REPORT_SCREENSHOT names a file).
func TestReport(t *testing.T) {
	cfg, _ := testClickHouse(t)
	dir, _ := generateShop(t, 6000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if err := runStages(ctx, cfg, d1, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	d2 := d1.AddDate(0, 0, 7)
	if err := runStages(ctx, cfg, d2, []string{"features", "score", "publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	// The sources read for the end of d2's 14-day window: lift measures it.
	if err := runStages(ctx, cfg, d2.AddDate(0, 0, 14), []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	lp, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lp.Lift(ctx, d2, 14); err != nil {
		t.Fatal(err)
	}
	lp.Close()
	out := t.TempDir()
	page := filepath.Join(out, "report.html")
	if err := reportDate(ctx, cfg, d2, page, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{"Top segments by share of 12-month revenue", "12-month CLV of buyers", "P(alive) of buyers",
		"Holdout repeat purchases per customer", "ROC curve", "Precision-recall curve", "Customers by lifecycle stage", "Moves since 2026-10-01",
		"Cumulative repeat purchases through the holdout", "Probability of buying in the holdout by decile", `<p id="grade">`, "<b>grade A", "no purchase for anyone", "by first-week revenue alone",
		"VIP pipeline by published date", "Buyers in micro-segments by published date", `<table class="matrix" id="rfm">`,
		`<table class="matrix" id="quality">`, "raw_orders", `<h2 id="lift">Measured lift</h2>`, `<table id="lift-table">`, "no detectable effect"} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n < 12 {
		t.Errorf("%d charts, want 12", n)
	}
	if n := strings.Count(html, "<b>grade "); n != 2 {
		t.Errorf("%d model grades in the report, want 2 (the purchase model's and the early potential-VIP model's)", n)
	}
	for _, external := range []string{"http://", "https://", "<script src", "<link"} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), external) {
			t.Errorf("the report refers to %q: it must be self-contained", external)
		}
	}
	shot := filepath.Join(out, "report.png")
	if s := os.Getenv("TESSERA_REPORT_SCREENSHOT"); s != "" {
		shot = s
	}
	cmd := exec.Command(chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=900,12000",
		"--screenshot="+shot, "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// A rendered page: many colours (charts), and mostly a light background;
	// the sections after the segments and lifecycle (trends, the RFM grid,
	// data quality, the models' grades and charts) are drawn below 3,800 px,
	// where the page ended before them.
	colours, lower := map[uint32]bool{}, map[uint32]bool{}
	light, total, last := 0, 0, 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := (r>>8)<<16 | (g>>8)<<8 | bl>>8
			colours[c] = true
			if y > 3800 {
				lower[c] = true
			}
			if r > 0xe000 && g > 0xe000 && bl > 0xe000 {
				light++
			} else {
				last = y
			}
			total++
		}
	}
	t.Logf("screenshot %s: %dx%d, %d colours (%d below 3,800 px), %.0f%% light, content down to %d px", shot, bounds.Dx(), bounds.Dy(), len(colours), len(lower),
		100*float64(light)/float64(total), last)
	if len(colours) < 50 || light < total/2 || light == total {
		t.Errorf("the screenshot does not look like the rendered report: %d colours, %d of %d samples light", len(colours), light, total)
	}
	if last < 5000 || len(lower) < 30 {
		t.Errorf("the page's content ends at %d px with %d colours below 3,800 px: the new sections are not drawn", last, len(lower))
	}
}
