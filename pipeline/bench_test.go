package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/synth"
)

// BenchmarkScore: the score stage (LTV predictions, RFM, lifecycle, VIP tiers,
// early-VIP probabilities, strategies, micro-segments and feeds, published)
// for a generated shop of TESSERA_BENCH_CUSTOMERS customers (default 100,000),
// with its features and models given: extract, features and train run first,
// untimed, in the embedded warehouse (kept in TESSERA_BENCH_CACHE if set).
func BenchmarkScore(b *testing.B) {
	n := benchInt(b, "TESSERA_BENCH_CUSTOMERS", 100000)
	root := b.TempDir()
	if cache := os.Getenv("TESSERA_BENCH_CACHE"); cache != "" {
		root = filepath.Join(cache, fmt.Sprintf("score-%d", n))
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(root, "data")
	cfg.Source.Files.Dir = filepath.Join(root, "shop")
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx := context.Background()
	gen := synth.Defaults()
	gen.Customers = n
	asOf := gen.End
	if _, err := os.Stat(filepath.Join(root, "ready")); err != nil {
		if _, err := synth.Generate(ctx, gen, cfg.Source.Files.Dir); err != nil {
			b.Fatal(err)
		}
		if err := runStages(ctx, cfg, asOf, []string{"extract", "features", "train"}, log); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "ready"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := runStages(ctx, cfg, asOf, []string{"score"}, log); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "customers")
}
