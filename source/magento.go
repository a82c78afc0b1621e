package source

import "strings"

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
// by their order's, products by theirs.
var magento2 = map[string]string{
	"customers": `
SELECT * FROM (
  SELECT CONCAT('M', c.entity_id) AS customer_id, c.email AS email,
         SHA2(LOWER(TRIM(c.email)), 256) AS email_hash, c.created_at AS created_at,
         a.country_id AS country, a.city AS city,
         IF(ns.subscriber_status = 1, 1, 0) AS optin_email, c.updated_at AS updated_at, 0 AS _guest
  FROM {p}customer_entity c
  LEFT JOIN {p}customer_address_entity a ON a.entity_id = c.default_billing
  LEFT JOIN {p}newsletter_subscriber ns ON ns.customer_id = c.entity_id
  UNION ALL
  SELECT CONCAT('G', SHA2(LOWER(TRIM(o.customer_email)), 256)), MIN(o.customer_email),
         SHA2(LOWER(TRIM(o.customer_email)), 256), MIN(o.created_at), NULL, NULL, NULL, MAX(o.updated_at), 1
  FROM {p}sales_order o
  WHERE o.customer_id IS NULL AND TRIM(COALESCE(o.customer_email, '')) <> ''
  GROUP BY SHA2(LOWER(TRIM(o.customer_email)), 256)
) magento_customers ORDER BY _guest, customer_id`,

	"products": `
SELECT CAST(e.entity_id AS CHAR) AS product_id, e.sku AS sku, n.value AS name,
  (SELECT CONCAT_WS('/', IF(c.level >= 3, pn.value, NULL), cn.value)
   FROM {p}catalog_category_product ccp
   JOIN {p}catalog_category_entity c ON c.entity_id = ccp.category_id
   LEFT JOIN {p}catalog_category_entity_varchar cn ON cn.entity_id = c.entity_id AND cn.store_id = 0
        AND cn.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'name'
            AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_category'))
   LEFT JOIN {p}catalog_category_entity_varchar pn ON pn.entity_id = c.parent_id AND pn.store_id = 0
        AND pn.attribute_id = cn.attribute_id
   WHERE ccp.product_id = e.entity_id
   ORDER BY c.level DESC, c.entity_id LIMIT 1) AS category,
  bo.value AS brand, pr.value AS list_price, e.updated_at AS _updated_at
FROM {p}catalog_product_entity e
LEFT JOIN {p}catalog_product_entity_varchar n ON n.entity_id = e.entity_id AND n.store_id = 0
     AND n.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'name'
         AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_product'))
LEFT JOIN {p}catalog_product_entity_decimal pr ON pr.entity_id = e.entity_id AND pr.store_id = 0
     AND pr.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'price'
         AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_product'))
LEFT JOIN {p}catalog_product_entity_int b ON b.entity_id = e.entity_id AND b.store_id = 0
     AND b.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'manufacturer'
         AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_product'))
LEFT JOIN {p}eav_attribute_option_value bo ON bo.option_id = b.value AND bo.store_id = 0
ORDER BY e.entity_id`,

	"orders": `
SELECT o.increment_id AS order_id,
  CASE WHEN o.customer_id IS NOT NULL THEN CONCAT('M', o.customer_id)
       WHEN TRIM(COALESCE(o.customer_email, '')) <> '' THEN CONCAT('G', SHA2(LOWER(TRIM(o.customer_email)), 256))
  END AS customer_id,
  o.created_at AS ordered_at,
  CASE WHEN o.state = 'canceled' THEN 'cancelled'
       WHEN o.state = 'closed' OR (COALESCE(o.total_refunded, 0) > 0 AND o.total_refunded >= o.grand_total) THEN 'returned'
       WHEN COALESCE(o.total_refunded, 0) > 0 THEN 'partially_returned'
       ELSE 'completed' END AS status,
  o.order_currency_code AS currency, o.subtotal AS gross_amount,
  ABS(COALESCE(o.discount_amount, 0)) AS discount_amount,
  GREATEST(o.subtotal - ABS(COALESCE(o.discount_amount, 0)), 0) AS net_amount,
  (SELECT CAST(SUM(i.qty_ordered) AS SIGNED) FROM {p}sales_order_item i
   WHERE i.order_id = o.entity_id AND i.parent_item_id IS NULL) AS items_count,
  'web' AS channel, o.coupon_code AS promo_code, o.updated_at AS updated_at
FROM {p}sales_order o
ORDER BY o.entity_id`,

	"order_lines": `
SELECT o.increment_id AS order_id, i.item_id AS line_no, CAST(i.product_id AS CHAR) AS product_id,
  CAST(i.qty_ordered AS SIGNED) AS quantity, i.price AS unit_price,
  ABS(COALESCE(i.discount_amount, 0)) AS discount, CAST(COALESCE(i.qty_refunded, 0) AS SIGNED) AS returned_quantity,
  o.updated_at AS _updated_at
FROM {p}sales_order_item i
JOIN {p}sales_order o ON o.entity_id = i.order_id
WHERE i.parent_item_id IS NULL
ORDER BY i.order_id, i.item_id`,
}

// magento2Watermarks are the version columns of the Magento queries.
var magento2Watermarks = map[string]string{
	"customers": "updated_at", "orders": "updated_at", "order_lines": "_updated_at", "products": "_updated_at",
}

// Magento2 returns the built-in Magento 2 queries for tables named with
// prefix (a plain name, checked by the config) and their watermark columns.
func Magento2(prefix string) (queries, watermarks map[string]string) {
	queries, watermarks = map[string]string{}, map[string]string{}
	for e, q := range magento2 {
		queries[e] = strings.TrimSpace(strings.ReplaceAll(q, "{p}", prefix))
		watermarks[e] = magento2Watermarks[e]
	}
	return queries, watermarks
}
