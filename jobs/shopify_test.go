package jobs

import (
	"context"
	"io"
	"path/filepath"
	"testing"
)

// TestExtractShopify: a Shopify Orders export (multi-line, refunded, partly
// refunded and cancelled orders, a broken row, an order without e-mail) lands
// every order, line and customer with the right amounts; what cannot land is
// in rejected_rows with its reason; a second run lands nothing new.
func TestExtractShopify(t *testing.T) {
	cfg, wh := testClickHouse(t)
	export, err := filepath.Abs("../source/testdata/shopify/orders_export.csv")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.ShopifyOrders = export
	for round := 1; round <= 2; round++ {
		if err := RunStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t), io.Discard); err != nil {
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
		rejected := queryStrings(t, wh, "SELECT concat(entity, ' ', rule) FROM {db}.rejected_rows FINAL ORDER BY entity, rule")
		want := []string{"order_lines unknown_order", "order_lines wrong_field_count", "orders missing_field", "orders wrong_field_count"}
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
