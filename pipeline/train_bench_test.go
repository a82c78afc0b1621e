package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/synth"
)

// BenchmarkTrainSample measures what fitting on a sample costs in accuracy
// and saves in time: the generated shop of TESSERA_BENCH_CUSTOMERS customers
// (a million by default) is extracted into ClickHouse and train runs on every
// buyer, then on samples of max_customers 500,000 to 25,000 with three seeds
// each. For each parameter of the purchase model it prints the full fit's
// value and standard error, each sample's standard error relative to the
// full fit's, and how far each sample's value lies from the full fit's in the
// sample's standard errors (the largest of the three seeds, among those
// whose sample chose the same model on the holdout). The figures go
// to TESSERA_BENCH_OUT as JSON when set.
func BenchmarkTrainSample(b *testing.B) {
	n := benchInt(b, "TESSERA_BENCH_CUSTOMERS", 1000000)
	ctx := context.Background()
	gen := synth.Defaults()
	gen.Customers = n
	shop := benchShop(ctx, b, gen, fmt.Sprintf("train-%d", n))
	cfg, _ := testClickHouse(b)
	cfg.Source.Files.Dir = shop
	if err := runStages(ctx, cfg, gen.End, []string{"extract", "features"}, testLogger(b)); err != nil {
		b.Fatal(err)
	}
	p, err := Open(ctx, cfg, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	type fit struct {
		Max     int                `json:"max_customers"`
		Seed    uint64             `json:"seed"`
		Kind    string             `json:"kind"`
		Fitted  float64            `json:"customers"`
		Seconds float64            `json:"seconds"`
		Params  map[string]float64 `json:"params"`
		StdErr  map[string]float64 `json:"std_err"`
	}
	train := func(max int, seed uint64) fit {
		p.Options.Train.LTV.MaxCustomers, p.Options.Train.LTV.SampleSeed = max, seed
		var a *model.Artefact
		p.Done = func(r Result) { a = r.Train.LTV }
		start := time.Now()
		if err := p.Run(ctx, gen.End, []string{"train"}, NoShard); err != nil {
			b.Fatal(err)
		}
		return fit{max, seed, a.Kind, a.Fit.Customers, time.Since(start).Seconds(), a.Params, a.StdErr}
	}
	full := train(0, 0)
	fits := []fit{full}
	var rows []string
	names := make([]string, 0, len(full.Params))
	for k := range full.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	row := func(cells ...string) { rows = append(rows, strings.Join(cells, " | ")) }
	head := []string{"max_customers", "fitted", "models chosen", "seconds (vs full)"}
	for _, k := range names {
		head = append(head, k+": SE/full SE", k+": max |Δ|/SE")
	}
	row(head...)
	cells := []string{"all", fmt.Sprintf("%.0f", full.Fitted), full.Kind, fmt.Sprintf("%.1f (1.00)", full.Seconds)}
	for _, k := range names {
		cells = append(cells, fmt.Sprintf("%.4g ± %.2g", full.Params[k], full.StdErr[k]), "")
	}
	row(cells...)
	for _, max := range []int{500000, 200000, 100000, 50000, 25000} {
		if max >= n {
			continue
		}
		var seeds []fit
		for seed := uint64(1); seed <= 3; seed++ {
			f := train(max, seed)
			seeds = append(seeds, f)
			fits = append(fits, f)
		}
		secs, fitted := 0.0, 0.0
		var kinds []string
		for _, f := range seeds {
			secs, fitted = secs+f.Seconds/3, fitted+f.Fitted/3
			kinds = append(kinds, f.Kind)
		}
		cells := []string{strconv.Itoa(max), fmt.Sprintf("%.0f", fitted), strings.Join(kinds, ","), fmt.Sprintf("%.1f (%.2f)", secs, secs/full.Seconds)}
		for _, k := range names {
			// Over the seeds whose sample chose the full fit's model.
			ratio, far, same := 0.0, 0.0, 0
			for _, f := range seeds {
				if f.Kind != full.Kind {
					continue
				}
				same++
				ratio += f.StdErr[k] / full.StdErr[k]
				far = math.Max(far, math.Abs(f.Params[k]-full.Params[k])/f.StdErr[k])
			}
			cells = append(cells, fmt.Sprintf("%.2f", ratio/float64(same)), fmt.Sprintf("%.2f", far))
		}
		row(cells...)
	}
	b.Logf("train on samples of the %d-customer shop (%s model):\n%s", n, full.Kind, strings.Join(rows, "\n"))
	if path := os.Getenv("TESSERA_BENCH_OUT"); path != "" {
		out, _ := json.MarshalIndent(fits, "", "  ")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
