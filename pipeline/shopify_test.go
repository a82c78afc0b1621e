package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/config"
)

// TestExtractShopify: a Shopify Orders export (multi-line, refunded, partly
// refunded and cancelled orders, a broken row, an order without e-mail) lands
// every order, line and customer with the right amounts; what cannot land is
// in rejected_rows with its reason; a second run lands nothing new.
func TestExtractShopify(t *testing.T) {
	cfg, wh := testClickHouse(t)
	// A handful of rows, some of them broken on purpose: no share is too large.
	cfg.Source.MaxRejectedShare = config.RejectedShares{Customers: 1, Products: 1, Orders: 1, OrderLines: 1, Events: 1, CampaignEvents: 1}
	export, err := filepath.Abs("../source/testdata/shopify/orders_export.csv")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.ShopifyOrders = export
	for round := 1; round <= 2; round++ {
		if err := runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		var orders, lines, customers, cancelled uint64
		var net, lineValue float64
		queryRow(t, wh, "SELECT count(), sum(net_amount), countIf(status = 'cancelled') FROM {db}.raw_orders FINAL", &orders, &net, &cancelled)
		queryRow(t, wh, "SELECT count(), sum(quantity * unit_price - discount) FROM {db}.raw_order_lines FINAL", &lines, &lineValue)
		queryRow(t, wh, "SELECT count() FROM {db}.raw_customers FINAL", &customers)
		if orders != 4 || net != 220.5 || cancelled != 1 || lines != 7 || lineValue != 220.5 || customers != 3 {
			t.Errorf("round %d: %d orders (net %v, %d cancelled), %d lines (value %v), %d customers; want 4 (220.5, 1), 7 (220.5), 3",
				round, orders, net, cancelled, lines, lineValue, customers)
		}
		var shipping float64
		queryRow(t, wh, "SELECT round(sum(shipping_amount), 2) FROM {db}.raw_orders FINAL", &shipping)
		if shipping != 19.6 { // each order's Shipping, 4.90
			t.Errorf("round %d: the orders' shipping adds up to %v, want 4 × 4.90", round, shipping)
		}
		rejected := queryStrings(t, wh, "SELECT concat(entity, ' ', rule) FROM {db}.rejected_rows FINAL ORDER BY entity, rule")
		want := []string{"order_lines parent_rejected", "order_lines wrong_field_count", "orders missing_field", "orders wrong_field_count"}
		if !equal(rejected, want) {
			t.Errorf("round %d: rejected %v, want %v", round, rejected, want)
		}
	}
	var versions uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_orders", &versions)
	if versions > 8 {
		t.Errorf("%d order versions after two runs of 4 orders", versions)
	}
}

// TestExtractShopifyCustomers: the Customers export with the Orders export:
// every customer of the export lands with address and opt-ins, created at
// the first order when there is one (else first seen: the export's time);
// buyers lacking from it come from the Orders export; a row without e-mail is
// keyed by its Customer ID; a broken opt-in is rejected with its reason; a
// second run lands nothing new.
func TestExtractShopifyCustomers(t *testing.T) {
	cfg, wh := testClickHouse(t)
	// A handful of rows, some of them broken on purpose: no share is too large.
	cfg.Source.MaxRejectedShare = config.RejectedShares{Customers: 1, Products: 1, Orders: 1, OrderLines: 1, Events: 1, CampaignEvents: 1}
	dir := t.TempDir()
	for _, f := range []string{"orders_export.csv", "customers_export.csv"} {
		b, err := os.ReadFile(filepath.Join("..", "source", "testdata", "shopify", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exported := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "customers_export.csv"), exported, exported); err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.ShopifyOrders = filepath.Join(dir, "orders_export.csv")
	cfg.Source.Files.ShopifyCustomers = filepath.Join(dir, "customers_export.csv")
	want := []string{
		"shopify:id:7004  FR Lyon 0 1 2024-06-01 12:00:00 2024-06-01 12:00:00",
		"shopify:" + sha("anna@example.com")[:16] + " anna@example.com DE München 1 0 2024-03-15 09:22:33 2024-06-01 12:00:00",
		"shopify:" + sha("bob@example.com")[:16] + " bob@example.com US Boston 0 1 2024-04-10 10:00:00 2024-06-01 12:00:00",
		"shopify:" + sha("carol@example.com")[:16] + " carol@example.com   1 0 2024-05-01 15:59:00 2024-05-01 15:59:00",
		"shopify:" + sha("dana@example.com")[:16] + " dana@example.com FR Paris 1 0 2024-06-01 12:00:00 2024-06-01 12:00:00",
	}
	slices.Sort(want)
	for round := 1; round <= 2; round++ {
		if err := runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		got := queryStrings(t, wh, `SELECT concat(customer_id, ' ', email, ' ', country, ' ', city, ' ', toString(optin_email), ' ',
			toString(optin_sms), ' ', toString(created_at), ' ', toString(updated_at)) FROM {db}.raw_customers FINAL ORDER BY customer_id`)
		if !equal(got, want) {
			t.Errorf("round %d: customers\n got  %q\n want %q", round, got, want)
		}
		var orphans uint64
		queryRow(t, wh, "SELECT count() FROM {db}.raw_orders FINAL WHERE customer_id NOT IN (SELECT customer_id FROM {db}.raw_customers)", &orphans)
		if orphans != 0 {
			t.Errorf("round %d: %d orders without their customer", round, orphans)
		}
		rejected := queryStrings(t, wh, "SELECT concat(entity, ' ', rule, ' ', detail) FROM {db}.rejected_rows FINAL WHERE entity = 'customers' ORDER BY rule")
		if !equal(rejected, []string{`customers bad_number optin_email "maybe" is not true or false`, `customers wrong_field_count 17 fields, the header has 20`}) {
			t.Errorf("round %d: rejected customers %q", round, rejected)
		}
	}
}
