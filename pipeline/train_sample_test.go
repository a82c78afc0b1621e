package pipeline

import (
	"context"
	"math"
	"testing"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/model"
)

// TestTrainSample: with more buyers than ltv.max_customers, train fits on one
// in ⌈buyers/max⌉ of them, chosen by the hash of the id and the seed: the
// same seed the same model, another seed another sample; each sample's
// parameters lie within a few of their standard errors of the full fit's.
func TestTrainSample(t *testing.T) {
	eachStore(t, func(t *testing.T, cfg config.Config) {
		dir, _ := generateShop(t, 6000, 0, "csv")
		cfg.Source.Files.Dir = dir
		ctx := context.Background()
		if err := runStages(ctx, cfg, asOf, []string{"extract", "features"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		train := func(max int, seed uint64) *model.Artefact {
			t.Helper()
			p, err := Open(ctx, cfg, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.Options.Train.LTV.MaxCustomers, p.Options.Train.LTV.SampleSeed = max, seed
			var a *model.Artefact
			p.Done = func(r Result) { a = r.Train.LTV }
			if err := p.Run(ctx, asOf, []string{"train"}, NoShard); err != nil {
				t.Fatal(err)
			}
			if !a.Usable() {
				t.Fatalf("the model is not usable: %v", a.Gate)
			}
			return a
		}
		full := train(0, 0)
		if full.Sample != nil {
			t.Fatalf("max_customers 0 fitted on a sample: %+v", full.Sample)
		}
		a, again, other := train(1000, 1), train(1000, 1), train(1000, 2)
		if a.Sample == nil {
			t.Fatal("6,000 customers fitted whole with max_customers 1000")
		}
		buyers, of := a.Sample.Buyers, a.Sample.Of
		if float64(buyers) < full.Fit.Customers || of != (buyers+999)/1000 || a.Sample.Index != 1%of {
			t.Fatalf("sample %+v of %d buyers (the full fit %v): want one in ⌈buyers/1000⌉, index 1", a.Sample, buyers, full.Fit.Customers)
		}
		if share := a.Fit.Customers / full.Fit.Customers; math.Abs(share-1/float64(of)) > 0.25/float64(of) {
			t.Errorf("the sample fitted %v of the full fit's %v customers, want about 1 in %d", a.Fit.Customers, full.Fit.Customers, of)
		}
		for name, v := range a.Params {
			if again.Params[name] != v {
				t.Errorf("the same seed gave %s %v, then %v", name, v, again.Params[name])
			}
		}
		if other.Sample.Index == a.Sample.Index || other.Fit.Customers == a.Fit.Customers {
			t.Errorf("seed 2 fitted the sample of seed 1 (%+v, %v customers)", other.Sample, other.Fit.Customers)
		}
		for _, s := range []*model.Artefact{a, other} {
			if s.Kind != full.Kind {
				continue // a sample may rank the candidates otherwise
			}
			for name, v := range s.Params {
				if z := math.Abs(v-full.Params[name]) / s.StdErr[name]; !(z < 4) {
					t.Errorf("sample %d/%d: %s = %.4g, the full fit %.4g: %.1f of its standard errors (%.3g) away",
						s.Sample.Index, s.Sample.Of, name, v, full.Params[name], z, s.StdErr[name])
				}
			}
		}
	})
}
