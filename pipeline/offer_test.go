package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// TestOffers judges the offers by an outcome the rules never see: the
// generator's hidden discount seekers respond to a discount, the others do
// not. The response is this test's assumption, stated: over the 28 days
// after the date an alive buyer orders at its true rate λ times 1 + 10·d
// when it is a seeker offered d (15% → 2.5 times), times 1 otherwise, each
// order worth its true mean order value less d. Tessera's offers (its rules
// read only the buyers' own past discount use, price level and clicks) must
// bring more expected net revenue than the same offers shuffled among the
// same buyers (the same discounts, untargeted), than no offer, and than
// any one step for everyone. The table of offers against what the buyers
// did and were is printed.
func TestOffers(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 10000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	day := asOf.Format(time.DateOnly)
	col, recs := readTruth(t, dir)
	type truth struct {
		seeker     bool
		value, mov float64 // expected orders in 28 days without an offer; mean order value
	}
	truths := map[string]truth{}
	for _, r := range recs {
		lambda, _ := strconv.ParseFloat(r[col["purchase_rate_per_day"]], 64)
		mov, _ := strconv.ParseFloat(r[col["mean_order_value"]], 64)
		if dropped := r[col["dropout_at"]]; dropped != "" && dropped < day {
			lambda = 0 // gone before the campaign
		}
		truths[r[col["customer_id"]]] = truth{seeker: r[col["discount_seeker"]] == "true", value: lambda * 28, mov: mov}
	}
	rows := queryStrings(t, wh, `SELECT concat(customer_id, ' ', toString(offer_discount)) FROM {db}.customer_scores
		WHERE as_of = toDate('`+day+`') AND lifecycle_stage != 'non_buyer' ORDER BY customer_id`)
	ids, offers := make([]string, len(rows)), make([]float64, len(rows))
	for i, r := range rows {
		if _, err := fmt.Sscan(r, &ids[i], &offers[i]); err != nil {
			t.Fatal(err)
		}
	}
	// net is the expected net revenue of the buyers given these offers.
	net := func(offer func(i int) float64) float64 {
		sum := 0.0
		for i, id := range ids {
			tr, d := truths[id], offer(i)
			m := 1.0
			if tr.seeker {
				m += 10 * d
			}
			sum += tr.value * m * tr.mov * (1 - d)
		}
		return sum
	}
	tessera := net(func(i int) float64 { return offers[i] })
	shuffled := 0.0
	rng := rand.New(rand.NewPCG(1, 2))
	const draws = 20
	for range draws {
		perm := rng.Perm(len(offers))
		shuffled += net(func(i int) float64 { return offers[perm[i]] }) / draws
	}
	baselines := map[string]float64{"shuffled": shuffled, "none": net(func(int) float64 { return 0 })}
	for _, d := range cfg.Segmentation.Offers.Ladder {
		baselines[fmt.Sprintf("%g%% for everyone", 100*d)] = net(func(int) float64 { return d })
	}
	// What each offer holds: buyers, their past orders with a discount, the
	// true seekers among them.
	type cell struct{ customers, seekers int }
	table := map[float64]*cell{}
	for i, id := range ids {
		c := table[offers[i]]
		if c == nil {
			c = &cell{}
			table[offers[i]] = c
		}
		c.customers++
		if truths[id].seeker {
			c.seekers++
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "offer\tbuyers\ttrue discount seekers\t")
	for _, d := range append([]float64{0}, cfg.Segmentation.Offers.Ladder...) {
		if c := table[d]; c != nil {
			fmt.Fprintf(tw, "%g%%\t%d\t%.1f%%\t\n", 100*d, c.customers, 100*float64(c.seekers)/float64(c.customers))
		}
	}
	tw.Flush()
	t.Logf("offers of the %d buyers as of %s:\n%s", len(ids), day, b.String())
	top := cfg.Segmentation.Offers.Ladder[len(cfg.Segmentation.Offers.Ladder)-1]
	oracle := net(func(i int) float64 {
		if truths[ids[i]].seeker {
			return top
		}
		return 0
	})
	t.Logf("expected net revenue in 28 days: Tessera's offers %.0f; knowing the seekers (the top step to them alone) %.0f", tessera, oracle)
	for name, v := range baselines {
		t.Logf("  %s: %.0f (Tessera %+.1f%%)", name, v, 100*(tessera/v-1))
		if tessera <= v {
			t.Errorf("Tessera's offers bring %.0f, no more than %s (%.0f)", tessera, name, v)
		}
	}
}
