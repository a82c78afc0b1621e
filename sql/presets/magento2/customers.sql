-- Magento 2 customers as canonical customers (MySQL/MariaDB); {p} is the table prefix.
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
) magento_customers ORDER BY _guest, customer_id
