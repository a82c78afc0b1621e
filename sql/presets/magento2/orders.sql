-- Magento 2 orders as canonical orders (MySQL/MariaDB); {p} is the table prefix.
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
ORDER BY o.entity_id
