package pipeline

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
)

func sorted(s []string) []string { slices.Sort(s); return s }

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestMagento extracts a Magento 2 shop from MariaDB with the built-in
// magento2 preset, a CRM contact from PostgreSQL who is also a Magento
// customer, and site events whose visitor logs in: every order, line, product
// and customer lands with the right amounts, guests are keyed by their hashed
// e-mail, one person in several sources is one customer (identities), a
// second run lands nothing new, and three changed orders land exactly three
// new versions.
func TestMagento(t *testing.T) {
	ctx := context.Background()
	suffix := strings.TrimPrefix(randomName(), "x")
	dbName := "tessera_mage" + suffix
	my := connectMy(t)
	mustMy(t, my, "CREATE DATABASE "+dbName)
	t.Cleanup(func() { my.Exec("DROP DATABASE IF EXISTS " + dbName) })
	shopDSN := strings.Replace(servicetest.MySQL(t), "/tessera", "/"+dbName, 1) + "?time_zone=%27%2B00%3A00%27"
	shop, err := sql.Open("mysql", shopDSN+"&multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	for _, f := range []string{"schema.sql", "data.sql"} {
		b, err := os.ReadFile(filepath.Join("testdata", "magento", f))
		if err != nil {
			t.Fatal(err)
		}
		mustMy(t, shop, string(b))
	}

	pg := connectPG(t)
	schema := "crm_m" + suffix
	mustPG(t, pg, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { pg.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	mustPG(t, pg, "CREATE TABLE "+schema+".contacts (id text PRIMARY KEY, email text, registered_at timestamptz, modified_at timestamptz)")
	mustPG(t, pg, "INSERT INTO "+schema+".contacts VALUES ('CRM-7', 'Carla@example.com', '2024-12-01 10:00:00+00', '2024-12-01 10:00:00+00')")

	events := t.TempDir()
	if err := os.WriteFile(filepath.Join(events, "events.jsonl"), []byte(`{"event_id":"e1","ts":"2025-02-01 09:00:00","anonymous_id":"a-1","type":"page_view"}
{"event_id":"e2","ts":"2025-02-01 09:05:00","customer_id":"M1","anonymous_id":"a-1","type":"product_view","product_id":"10"}
{"event_id":"e3","ts":"2025-02-01 09:10:00","anonymous_id":"a-1","type":"add_to_cart","product_id":"10"}
{"event_id":"e4","ts":"2025-02-11 08:00:00","customer_id":"M3","type":"page_view"}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, wh := testClickHouse(t)
	if _, err := wh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.Dir = events
	cfg.Source.MySQL.Preset = "magento2"
	// A handful of rows, some of them broken on purpose: no share is too large.
	cfg.Source.MaxRejectedShare = config.RejectedShares{Customers: 1, Products: 1, Orders: 1, OrderLines: 1, Events: 1, CampaignEvents: 1}
	cfg.Source.MySQL.DSN = shopDSN
	cfg.Source.Postgres.DSN = servicetest.Postgres(t) + "&timezone=UTC"
	cfg.Source.Postgres.Queries = map[string]string{"customers": `SELECT id AS customer_id, email, registered_at AS created_at,
		modified_at AS updated_at FROM ` + schema + `.contacts`}
	cfg.Source.Postgres.Watermarks = map[string]string{"customers": "updated_at"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	run := func() *ExtractResult { return extractOnce(t, cfg, wh) }
	run()

	dora, anna, bob, carla := sha("dora@example.com"), sha("anna@example.com"), sha("bob@example.com"), sha("carla@example.com")
	same := func(what string, got, want []string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got  %q\n want %q", what, got, want)
		}
	}
	same("customers", queryStrings(t, wh, `SELECT concat(customer_id, ' ', email_hash, ' ', country, ' ', city, ' ',
		toString(optin_email), ' ', toString(created_at)) FROM {db}.raw_customers FINAL ORDER BY customer_id`), []string{
		"CRM-7 " + carla + "   0 2024-12-01 10:00:00",
		"G" + dora + " " + dora + "   0 2025-02-12 09:00:00",
		"M1 " + anna + " DE Berlin 1 2025-01-05 10:00:00",
		"M2 " + bob + "   0 2025-02-01 08:30:00",
	})
	same("orders", queryStrings(t, wh, `SELECT concat(order_id, ' ', customer_id, ' ', status, ' ', currency, ' ',
		toString(gross_amount), ' ', toString(discount_amount), ' ', toString(net_amount), ' ', toString(items_count), ' ', promo_code)
		FROM {db}.raw_orders FINAL ORDER BY order_id`), []string{
		"000000100 M1 completed EUR 45 5 40 4 WELCOME5",
		"000000101 M2 cancelled EUR 5 0 5 1 ",
		"000000102 M1 returned EUR 12.5 0 12.5 1 ",
		"000000103 CRM-7 partially_returned EUR 40 0 40 2 ",
		"000000104 G" + dora + " completed EUR 5 0 5 1 ",
		"000000105 G" + dora + " completed USD 25 0 25 2 ",
		"000000106 M1 completed EUR 12.5 0 12.5 1 ",
	})
	// The configurable T-Shirt counts once, on its parent line.
	same("order lines", queryStrings(t, wh, `SELECT concat(order_id, ' ', toString(line_no), ' ', product_id, ' ',
		toString(quantity), ' ', toString(unit_price), ' ', toString(discount), ' ', toString(returned_quantity))
		FROM {db}.raw_order_lines FINAL ORDER BY order_id, line_no`), []string{
		"000000100 1001 10 2 12.5 0 0", "000000100 1002 20 1 20 5 0", "000000100 1004 30 1 0 0 0",
		"000000101 1011 30 1 5 0 0", "000000102 1021 10 1 12.5 0 1", "000000103 1031 20 2 20 0 1",
		"000000104 1041 30 1 5 0 0", "000000105 1051 10 2 12.5 0 0", "000000106 1061 10 1 12.5 0 0",
	})
	same("products", queryStrings(t, wh, `SELECT concat(product_id, '|', sku, '|', name, '|', category, '|', brand, '|',
		toString(list_price)) FROM {db}.raw_products FINAL ORDER BY product_id`), []string{
		"10|MUG-R|Red Mug|Kitchen/Mugs|Acme|12.5", "20|TS|T-Shirt|Apparel|Cotton Co|20", "21|TS-M|T-Shirt M|Apparel||20",
		"22|TS-L|T-Shirt L|Apparel||20", "30|POSTER|Poster|||5",
	})
	// The visitor's events after the login are the customer's; e4 names the
	// Magento account of a CRM contact.
	same("events", queryStrings(t, wh, "SELECT concat(event_id, ' ', customer_id, ' ', anonymous_id) FROM {db}.raw_events FINAL ORDER BY event_id"),
		[]string{"e1  a-1", "e2 M1 a-1", "e3 M1 a-1", "e4 CRM-7 "})
	same("identities", queryStrings(t, wh, "SELECT concat(kind, ' ', source, ' ', id, ' ', customer_id) FROM {db}.identities FINAL WHERE customer_id != id ORDER BY kind, source, id"),
		sorted([]string{
			"anonymous_id  a-1 M1",
			"customer_id mysql G" + anna + " M1",
			"customer_id mysql M3 CRM-7",
			"email_hash  " + anna + " M1",
			"email_hash  " + bob + " M2",
			"email_hash  " + carla + " CRM-7",
			"email_hash  " + dora + " G" + dora,
		}))
	same("rejected", queryStrings(t, wh, "SELECT concat(source, ' ', rule, ' ', row_key) FROM {db}.rejected_rows FINAL ORDER BY source, row_key"),
		[]string{
			"mysql:customers duplicate_key G" + anna,
			"mysql:customers duplicate_key M3",
			"mysql:order_lines parent_rejected 000000107|1071", // its order was read and rejected
			"mysql:orders missing_field 000000107",
		})

	orders1, customers1 := finalVersions(t, wh, "raw_orders", "order_id"), finalVersions(t, wh, "raw_customers", "customer_id")
	before := map[*canon.Table]string{}
	for _, tbl := range canon.Tables {
		before[tbl] = contentSum(t, wh, tbl)
	}
	run()
	for tbl, want := range before {
		if got := contentSum(t, wh, tbl); got != want {
			t.Errorf("a second run changed %s: %s, was %s", tbl.Entity, got, want)
		}
	}
	for table, was := range map[string]map[string]uint64{"raw_orders": orders1, "raw_customers": customers1} {
		key := strings.TrimSuffix(strings.TrimPrefix(table, "raw_"), "s") + "_id"
		if c, a, g := newVersions(was, finalVersions(t, wh, table, key)); c+a+g != 0 {
			t.Errorf("a second run: %s has %d changed, %d new and %d lost keys", table, c, a, g)
		}
	}

	// Three orders change: a refund, a cancellation, a coupon.
	mustMy(t, shop, `UPDATE sales_order SET state = 'closed', total_refunded = 5, updated_at = NOW() WHERE increment_id = '000000104'`)
	mustMy(t, shop, `UPDATE sales_order SET state = 'canceled', updated_at = NOW() WHERE increment_id = '000000106'`)
	mustMy(t, shop, `UPDATE sales_order SET coupon_code = 'LATE', updated_at = NOW() WHERE increment_id = '000000105'`)
	run()
	// The guest customer's version is its newest order's update: Dora's moves too.
	if c, a, g := newVersions(orders1, finalVersions(t, wh, "raw_orders", "order_id")); c != 3 || a+g != 0 {
		t.Errorf("after three changed orders: %d orders have a new version, %d new, %d lost; want exactly 3", c, a, g)
	}
	if c, a, g := newVersions(customers1, finalVersions(t, wh, "raw_customers", "customer_id")); c != 1 || a+g != 0 {
		t.Errorf("after three changed orders: %d customers have a new version, %d new, %d lost; want Dora's", c, a, g)
	}
	same("changed orders", queryStrings(t, wh, `SELECT concat(order_id, ' ', status, ' ', promo_code) FROM {db}.raw_orders FINAL
		WHERE order_id IN ('000000104', '000000105', '000000106') ORDER BY order_id`),
		[]string{"000000104 returned ", "000000105 completed LATE", "000000106 cancelled "})
}
