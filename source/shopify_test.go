package source

import (
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/canon"
)

// readEntity reads the fixture export as one entity: the records by a key
// column (problems under "!rule"), as column=value text.
func readEntity(t *testing.T, e canon.Entity, key string) map[string]map[string]string {
	t.Helper()
	tbl, _ := canon.Lookup(e)
	s, err := OpenShopify("testdata/shopify/orders_export.csv", tbl)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]map[string]string{}
	for s.Next() {
		if rule, detail := s.Problem(); rule != "" {
			out["!"+string(rule)] = map[string]string{"detail": detail, "raw": s.Raw()}
			continue
		}
		rec := map[string]string{}
		for k, f := range s.Fields() {
			if f != nil {
				rec[tbl.Columns[k].Name] = string(f)
			}
		}
		id := rec[key]
		if e == canon.OrderLines {
			id += "/" + rec["line_no"]
		}
		out[id] = rec
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestShopifyOrders(t *testing.T) {
	orders := readEntity(t, canon.Orders, "order_id")
	anna := shopifyCustomerID("anna@example.com")
	for id, want := range map[string]string{
		"#1001": "customer_id=" + anna + " status=completed currency=EUR gross_amount=100 discount_amount=10.00 net_amount=90.00 items_count=3 channel=web promo_code=SAVE10 ordered_at=2024-03-15 10:22:33 +0100 updated_at=2024-03-15 10:25:00 +0100",
		"#1002": "customer_id=" + anna + " status=returned net_amount=25.50 items_count=1",
		"#1003": "status=cancelled gross_amount=60 items_count=3 updated_at=2024-04-10 13:00:00 +0200",
		"#1004": "status=partially_returned channel=store items_count=3 gross_amount=45",
		"#1005": "status=completed net_amount=12.00",
	} {
		got := orders[id]
		for _, kv := range strings.SplitN(want, " ", -1) {
			k, v, _ := strings.Cut(kv, "=")
			if k == "ordered_at" || k == "updated_at" { // the values hold spaces
				continue
			}
			if got[k] != v {
				t.Errorf("order %s: %s = %q, want %q (%v)", id, k, got[k], v, got)
			}
		}
	}
	if orders["#1001"]["ordered_at"] != "2024-03-15 10:22:33 +0100" || orders["#1003"]["updated_at"] != "2024-04-10 13:00:00 +0200" {
		t.Errorf("times: %v / %v", orders["#1001"], orders["#1003"])
	}
	if _, ok := orders["#1005"]["customer_id"]; ok {
		t.Error("an order without e-mail got a customer")
	}
	if orders["!wrong_field_count"] == nil || len(orders) != 6 {
		t.Errorf("%d records; the broken row: %v", len(orders), orders["!wrong_field_count"])
	}
}

func TestShopifyLinesAndCustomers(t *testing.T) {
	lines := readEntity(t, canon.OrderLines, "order_id")
	for id, want := range map[string][4]string{
		"#1001/1": {"MUG-L", "2", "30.00", "5.00"},
		"#1001/2": {"TEA-1", "1", "40.00", "5.00"},
		"#1003/3": {"SP-1", "1", "20.00", "0"},
		"#1004/1": {"Gift card", "3", "15.00", "0.00"}, // no SKU: the name
	} {
		l := lines[id]
		if got := [4]string{l["product_id"], l["quantity"], l["unit_price"], l["discount"]}; got != want {
			t.Errorf("line %s: %v, want %v", id, got, want)
		}
	}
	if len(lines) != 9 { // 8 lines and the broken row
		t.Errorf("%d line records, want 9: %v", len(lines), lines)
	}
	custs := readEntity(t, canon.Customers, "customer_id")
	anna := custs[shopifyCustomerID("anna@example.com")]
	if len(custs) != 3 || anna["created_at"] != "2024-03-15 10:22:33 +0100" || anna["updated_at"] != "2024-04-02 08:59:00 +0200" ||
		anna["optin_email"] != "true" || anna["email"] != "Anna@Example.com" || len(anna["email_hash"]) != 64 {
		t.Errorf("%d customers; anna %v", len(custs), anna)
	}
	if bob := custs[shopifyCustomerID("bob@example.com")]; bob["optin_email"] != "false" {
		t.Errorf("bob %v", bob)
	}
}

func TestShopifyHeader(t *testing.T) {
	orders, _ := canon.Lookup(canon.Orders)
	if _, err := NewShopify("x.csv", strings.NewReader("Name,Email\n#1,a@b\n"), orders); err == nil || !strings.Contains(err.Error(), "not a Shopify orders export") {
		t.Errorf("a file that is not an export: %v", err)
	}
	events, _ := canon.Lookup(canon.Events)
	if _, err := NewShopify("x.csv", strings.NewReader("Name\n"), events); err == nil {
		t.Error("events from an orders export: want an error")
	}
}
