package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// TestOffers: on the generated shop, the buyers recommended no offer bought
// mostly at full price and those recommended the top step mostly with a
// discount, in their own orders; and the generator's truth, which the rules
// never see, agrees: the top step holds mostly its discount seekers, "none"
// mostly the others. The confusion table is printed.
func TestOffers(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 10000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	seeker := truthFlag(t, dir, "discount_seeker")
	day := asOf.Format(time.DateOnly)
	// Each buyer's offer, and the share of its orders (not cancelled) that had a discount.
	rows := queryStrings(t, wh, `SELECT concat(s.customer_id, ' ', s.offer, ' ', toString(o.discounted), ' ', toString(o.orders))
		FROM (SELECT customer_id, offer FROM {db}.customer_scores WHERE as_of = toDate('`+day+`') AND lifecycle_stage != 'non_buyer') AS s
		ANY INNER JOIN (SELECT customer_id, countIf(discount_amount > 0) AS discounted, count() AS orders FROM {db}.raw_orders FINAL
			WHERE status != 'cancelled' AND ordered_at < toDateTime('`+day+` 00:00:00') GROUP BY customer_id) AS o USING (customer_id)`)
	type cell struct{ customers, orders, discounted, seekers int }
	table := map[string]*cell{}
	for _, r := range rows {
		var id, offer string
		var disc, orders int
		if _, err := fmt.Sscan(r, &id, &offer, &disc, &orders); err != nil {
			t.Fatal(err)
		}
		c := table[offer]
		if c == nil {
			c = &cell{}
			table[offer] = c
		}
		c.customers++
		c.orders += orders
		c.discounted += disc
		if seeker[id] {
			c.seekers++
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "offer\tbuyers\torders\tat full price\twith a discount\ttrue discount seekers\t")
	for _, o := range []string{"none", "5%", "10%", "15%"} {
		c := table[o]
		if c == nil {
			c = &cell{}
		}
		share := func(a, n int) string {
			if n == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(n))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t\n", o, c.customers, c.orders, share(c.orders-c.discounted, c.orders), share(c.discounted, c.orders), share(c.seekers, c.customers))
	}
	tw.Flush()
	t.Logf("offers of the buyers as of %s:\n%s", day, b.String())
	none, top := table["none"], table["15%"]
	if none == nil || top == nil {
		t.Fatalf("no buyer recommended none or the top step: %v", table)
	}
	if full := float64(none.orders-none.discounted) / float64(none.orders); full < 0.75 {
		t.Errorf("buyers recommended none bought %.1f%% of their orders at full price, want most (≥ 75%%)", 100*full)
	}
	if disc := float64(top.discounted) / float64(top.orders); disc < 0.5 {
		t.Errorf("buyers recommended the top step bought %.1f%% of their orders with a discount, want most", 100*disc)
	}
	if s := float64(top.seekers) / float64(top.customers); s < 0.5 || float64(none.seekers)/float64(none.customers) > 0.2 {
		t.Errorf("true discount seekers: %.1f%% of the top step, %.1f%% of none", 100*s, 100*float64(none.seekers)/float64(none.customers))
	}
}
