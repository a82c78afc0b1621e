-- Orders and their lines sorted by the hash of their customer first, as the
-- events and customers are (0029, 0031), so that a shard's pod reads only
-- its range's granules; lines carry their order's customer hash for it (a
-- pod read every line before, through a subquery over every order).
-- The hash is now part of the key: an order that changes customer (a
-- source's correction, or two customer ids linked as one person) lands under
-- its new hash beside the old row, which extract then marks deleted (a
-- tombstone: the old key, a newer version, _deleted = 1), its lines copied
-- under the new hash and their old rows marked too. Readers skip _deleted.
-- ClickHouse 18.16 cannot change a sorting key: each table is copied (lines
-- first, hashed through their orders), each step safe to run again.
DROP TABLE IF EXISTS {db}.raw_order_lines_by_order
;
CREATE TABLE IF NOT EXISTS {db}.raw_order_lines_by_customer (
    order_id String COMMENT 'the order this line belongs to',
    line_no Int32 COMMENT 'line number within the order',
    product_id String COMMENT 'product sold on the line',
    quantity Int32 COMMENT 'units sold',
    unit_price Float64 COMMENT 'price of one unit before the line discount',
    discount Float64 COMMENT 'discount on the whole line',
    returned_quantity Int32 COMMENT 'units returned',
    shipping Float64 COMMENT 'delivery charged for the line (a marketplace''s freight); 0 when the source does not say',
    customer_hash UInt64 COMMENT 'cityHash64 of the customer of the line''s order: the first key, what a shard reads by',
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (landing time in Unix seconds); the largest wins',
    _deleted UInt8 COMMENT '1: the line''s order moved to another customer, and the line with it (readers skip it)'
) ENGINE = ReplacingMergeTree(_version) ORDER BY (customer_hash, order_id, line_no)
;
INSERT INTO {db}.raw_order_lines_by_customer (order_id, line_no, product_id, quantity, unit_price, discount, returned_quantity, shipping,
    customer_hash, run_id, _version, _deleted)
SELECT order_id, line_no, product_id, quantity, unit_price, discount, returned_quantity, shipping, order_customer_hash, run_id, _version, 0
FROM {db}.raw_order_lines AS l
ANY LEFT JOIN (SELECT order_id, cityHash64(customer_id) AS order_customer_hash FROM {db}.raw_orders FINAL) AS o USING (order_id)
;
RENAME TABLE {db}.raw_order_lines TO {db}.raw_order_lines_by_order, {db}.raw_order_lines_by_customer TO {db}.raw_order_lines
;
DROP TABLE {db}.raw_order_lines_by_order
;
DROP TABLE IF EXISTS {db}.raw_orders_by_order
;
CREATE TABLE IF NOT EXISTS {db}.raw_orders_by_customer (
    order_id String COMMENT 'order key from the source',
    customer_id String COMMENT 'the customer who placed the order',
    customer_hash UInt64 COMMENT 'cityHash64(customer_id): the first key, what a shard reads by',
    ordered_at DateTime COMMENT 'when the order was placed, UTC',
    status String COMMENT 'completed, cancelled, returned or partially_returned',
    currency String COMMENT 'ISO 4217 code of every amount of the order',
    gross_amount Float64 COMMENT 'order value before discounts',
    discount_amount Float64 COMMENT 'discounts granted on the order',
    net_amount Float64 COMMENT 'what the customer paid: gross_amount - discount_amount',
    items_count Int32 COMMENT 'units in the order',
    channel String COMMENT 'web, app, store or marketplace',
    promo_code String COMMENT 'promotion code used, empty if none',
    rating UInt8 COMMENT 'satisfaction rating 1-5; 0 when not rated',
    updated_at DateTime COMMENT 'last change in the source, UTC',
    shipping_amount Float64 COMMENT 'what the customer was charged for delivery, apart from gross_amount; 0 when the source does not say',
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (updated_at in Unix seconds); the largest wins',
    _deleted UInt8 COMMENT '1: the order moved to another customer, this row is the old one''s tombstone (readers skip it)'
) ENGINE = ReplacingMergeTree(_version) ORDER BY (customer_hash, order_id)
;
INSERT INTO {db}.raw_orders_by_customer (order_id, customer_id, customer_hash, ordered_at, status, currency, gross_amount, discount_amount,
    net_amount, items_count, channel, promo_code, rating, updated_at, shipping_amount, run_id, _version, _deleted)
SELECT order_id, customer_id, cityHash64(customer_id), ordered_at, status, currency, gross_amount, discount_amount,
    net_amount, items_count, channel, promo_code, rating, updated_at, shipping_amount, run_id, _version, 0
FROM {db}.raw_orders
;
RENAME TABLE {db}.raw_orders TO {db}.raw_orders_by_order, {db}.raw_orders_by_customer TO {db}.raw_orders
;
DROP TABLE {db}.raw_orders_by_order
;
