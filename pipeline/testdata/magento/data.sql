-- A small Magento 2 shop: registered and guest customers (one guest e-mail
-- with two spellings, one guest who also has an account, one order without an
-- e-mail), simple and configurable products, complete, cancelled, closed and
-- partly refunded orders. TestMagento gives what each must land as.
INSERT INTO eav_entity_type VALUES (3, 'catalog_category'), (4, 'catalog_product');
INSERT INTO eav_attribute VALUES (45, 3, 'name', 'varchar'), (73, 4, 'name', 'varchar'), (77, 4, 'price', 'decimal'),
  (83, 4, 'manufacturer', 'int');
INSERT INTO eav_attribute_option_value VALUES (1, 210, 0, 'Acme'), (2, 211, 0, 'Cotton Co');
INSERT INTO catalog_category_entity (entity_id, parent_id, path, level) VALUES (1, 0, '1', 0), (2, 1, '1/2', 1),
  (3, 2, '1/2/3', 2), (4, 3, '1/2/3/4', 3), (5, 2, '1/2/5', 2);
INSERT INTO catalog_category_entity_varchar (attribute_id, store_id, entity_id, value) VALUES (45, 0, 1, 'Root Catalog'),
  (45, 0, 2, 'Default Category'), (45, 0, 3, 'Kitchen'), (45, 0, 4, 'Mugs'), (45, 0, 5, 'Apparel'), (45, 1, 5, 'Kleidung');
INSERT INTO catalog_product_entity (entity_id, type_id, sku, created_at, updated_at) VALUES
  (10, 'simple', 'MUG-R', '2024-11-01 09:00:00', '2025-01-01 09:00:00'),
  (20, 'configurable', 'TS', '2024-11-01 09:00:00', '2025-01-01 09:00:00'),
  (21, 'simple', 'TS-M', '2024-11-01 09:00:00', '2025-01-01 09:00:00'),
  (22, 'simple', 'TS-L', '2024-11-01 09:00:00', '2025-01-01 09:00:00'),
  (30, 'simple', 'POSTER', '2024-11-01 09:00:00', '2025-01-01 09:00:00');
INSERT INTO catalog_product_entity_varchar (attribute_id, store_id, entity_id, value) VALUES (73, 0, 10, 'Red Mug'),
  (73, 1, 10, 'Rote Tasse'), (73, 0, 20, 'T-Shirt'), (73, 0, 21, 'T-Shirt M'), (73, 0, 22, 'T-Shirt L'), (73, 0, 30, 'Poster');
INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (77, 0, 10, 12.5),
  (77, 0, 20, 20), (77, 0, 21, 20), (77, 0, 22, 20), (77, 0, 30, 5);
INSERT INTO catalog_product_entity_int (attribute_id, store_id, entity_id, value) VALUES (83, 0, 10, 210), (83, 0, 20, 211);
INSERT INTO catalog_product_super_link (product_id, parent_id) VALUES (21, 20), (22, 20);
INSERT INTO catalog_category_product (category_id, product_id) VALUES (3, 10), (4, 10), (5, 20), (5, 21), (5, 22);

INSERT INTO customer_entity (entity_id, email, created_at, updated_at, firstname, lastname, default_billing) VALUES
  (1, 'anna@example.com', '2025-01-05 10:00:00', '2025-03-01 12:00:00', 'Anna', 'A', 11),
  (2, 'Bob@Example.com', '2025-02-01 08:30:00', '2025-02-01 08:30:00', 'Bob', 'B', NULL),
  (3, 'carla@example.com', '2025-02-10 16:00:00', '2025-02-10 16:00:00', 'Carla', 'C', 13);
INSERT INTO customer_address_entity VALUES (11, 1, 'Berlin', 'DE', '10115', 'Unter den Linden 1'),
  (13, 3, 'Lyon', 'FR', '69001', 'Rue 2');
INSERT INTO newsletter_subscriber VALUES (1, 1, 1, 'anna@example.com', 1), (2, 1, 2, 'Bob@Example.com', 3),
  (3, 1, 0, 'dora@example.com', 1);

INSERT INTO sales_order (entity_id, state, status, coupon_code, store_id, customer_id, customer_email, customer_is_guest,
  increment_id, order_currency_code, base_currency_code, subtotal, discount_amount, shipping_amount, tax_amount,
  grand_total, total_refunded, total_qty_ordered, created_at, updated_at) VALUES
  (1, 'complete', 'complete', 'WELCOME5', 1, 1, 'anna@example.com', 0, '000000100', 'EUR', 'EUR', 45, -5, 4.9, 0, 44.9, NULL, 4, '2025-02-01 10:00:00', '2025-02-03 10:00:00'),
  (2, 'canceled', 'canceled', NULL, 1, 2, 'Bob@Example.com', 0, '000000101', 'EUR', 'EUR', 5, 0, 0, 0, 5, NULL, 1, '2025-02-02 11:00:00', '2025-02-02 12:00:00'),
  (3, 'closed', 'closed', NULL, 1, 1, 'anna@example.com', 0, '000000102', 'EUR', 'EUR', 12.5, 0, 0, 0, 12.5, 12.5, 1, '2025-02-05 09:00:00', '2025-02-20 09:00:00'),
  (4, 'processing', 'processing', NULL, 1, 3, 'carla@example.com', 0, '000000103', 'EUR', 'EUR', 40, 0, 0, 0, 40, 20, 4, '2025-02-11 09:00:00', '2025-02-25 09:00:00'),
  (5, 'complete', 'complete', NULL, 1, NULL, 'dora@example.com', 1, '000000104', 'EUR', 'EUR', 5, 0, 0, 0, 5, NULL, 1, '2025-02-12 09:00:00', '2025-02-12 10:00:00'),
  (6, 'complete', 'complete', NULL, 2, NULL, ' Dora@Example.COM ', 1, '000000105', 'USD', 'EUR', 25, 0, 0, 0, 25, NULL, 2, '2025-02-14 09:00:00', '2025-02-14 10:00:00'),
  (7, 'complete', 'complete', NULL, 1, NULL, 'anna@example.com', 1, '000000106', 'EUR', 'EUR', 12.5, 0, 0, 0, 12.5, NULL, 1, '2025-02-15 09:00:00', '2025-02-15 10:00:00'),
  (8, 'complete', 'complete', NULL, 1, NULL, NULL, 1, '000000107', 'EUR', 'EUR', 5, 0, 0, 0, 5, NULL, 1, '2025-02-16 09:00:00', '2025-02-16 10:00:00');

INSERT INTO sales_order_item (item_id, order_id, parent_item_id, product_id, product_type, sku, name, qty_ordered,
  qty_refunded, price, discount_amount, row_total) VALUES
  (1001, 1, NULL, 10, 'simple', 'MUG-R', 'Red Mug', 2, 0, 12.5, 0, 25),
  (1002, 1, NULL, 20, 'configurable', 'TS-M', 'T-Shirt', 1, 0, 20, 5, 20),
  (1003, 1, 1002, 21, 'simple', 'TS-M', 'T-Shirt M', 1, 0, 0, 0, 0),
  (1004, 1, NULL, 30, 'simple', 'POSTER', 'Poster', 1, 0, 0, 0, 0),
  (1011, 2, NULL, 30, 'simple', 'POSTER', 'Poster', 1, 0, 5, 0, 5),
  (1021, 3, NULL, 10, 'simple', 'MUG-R', 'Red Mug', 1, 1, 12.5, 0, 12.5),
  (1031, 4, NULL, 20, 'configurable', 'TS-L', 'T-Shirt', 2, 1, 20, 0, 40),
  (1032, 4, 1031, 22, 'simple', 'TS-L', 'T-Shirt L', 2, 1, 0, 0, 0),
  (1041, 5, NULL, 30, 'simple', 'POSTER', 'Poster', 1, 0, 5, 0, 5),
  (1051, 6, NULL, 10, 'simple', 'MUG-R', 'Red Mug', 2, 0, 12.5, 0, 25),
  (1061, 7, NULL, 10, 'simple', 'MUG-R', 'Red Mug', 1, 0, 12.5, 0, 12.5),
  (1071, 8, NULL, 30, 'simple', 'POSTER', 'Poster', 1, 0, 5, 0, 5);
