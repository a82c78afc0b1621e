package source

import (
	"strings"

	tsql "github.com/tessera-cdp/tessera/sql"
)

// Magento 2's own tables mapped onto the canonical model, for MySQL and
// MariaDB (Magento Open Source: EAV values keyed by entity_id).
//
//   - customers: customer_entity (key M<entity_id>) with the default billing
//     address's city and country and the newsletter opt-in, then one customer
//     per guest e-mail address (key G<hex SHA-256 of the trimmed, lower-cased
//     address>), created at the first guest order.
//   - orders: sales_order by increment_id (the number the shop shows); amounts
//     in the order's currency: gross = subtotal, discount = |discount_amount|,
//     net = gross − discount (merchandise, without shipping and tax); status
//     from the state and refunds: canceled → cancelled, closed or refunded in
//     full → returned, refunded in part → partially_returned, else completed.
//   - order_lines: sales_order_item without a parent: a configurable product's
//     line carries the price and its simple child line does not, so the
//     parent counts once (as do a bundle's parts); line_no is item_id.
//   - products: catalog_product_entity with the name, price and manufacturer
//     (brand) of the default store and the deepest category as parent/child.
//
// Every entity is incremental: customers and orders by their updated_at, lines
// by their order's, products by theirs. The queries are in
// sql/presets/magento2, one file an entity.
// magento2Watermarks are the version columns of the Magento queries.
var magento2Watermarks = map[string]string{
	"customers": "updated_at", "orders": "updated_at", "order_lines": "_updated_at", "products": "_updated_at",
}

// Magento2 returns the built-in Magento 2 queries for tables named with
// prefix (a plain name, checked by the config) and their watermark columns.
func Magento2(prefix string) (queries, watermarks map[string]string) {
	queries, watermarks = map[string]string{}, map[string]string{}
	for e := range magento2Watermarks {
		q, err := tsql.Presets.ReadFile("presets/magento2/" + e + ".sql")
		if err != nil {
			panic(err) // embedded: a missing file is a build mistake
		}
		queries[e] = strings.TrimSpace(strings.ReplaceAll(stripComments(string(q)), "{p}", prefix))
		watermarks[e] = magento2Watermarks[e]
	}
	return queries, watermarks
}

// stripComments drops the lines that are only a -- comment.
func stripComments(q string) string {
	var b strings.Builder
	for _, l := range strings.Split(q, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
