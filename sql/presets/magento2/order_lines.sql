-- Magento 2 order_lines as canonical order_lines (MySQL/MariaDB); {p} is the table prefix.
SELECT o.increment_id AS order_id, i.item_id AS line_no, CAST(i.product_id AS CHAR) AS product_id,
  CAST(i.qty_ordered AS SIGNED) AS quantity, i.price AS unit_price,
  ABS(COALESCE(i.discount_amount, 0)) AS discount, CAST(COALESCE(i.qty_refunded, 0) AS SIGNED) AS returned_quantity,
  o.updated_at AS _updated_at
FROM {p}sales_order_item i
JOIN {p}sales_order o ON o.entity_id = i.order_id
WHERE i.parent_item_id IS NULL
ORDER BY i.order_id, i.item_id
