-- The raw layer: canonical rows as extracted, one table per entity. ReplacingMergeTree
-- on the natural key with _version keeps the newest version of each row, so
-- re-extracting is idempotent; read with FINAL (or argMax by _version) to see one
-- row per key before background merges have run.
CREATE TABLE IF NOT EXISTS {db}.raw_customers (
    customer_id String COMMENT 'stable customer key from the source',
    email String COMMENT 'clear e-mail address; raw layer only, never copied to outputs unless the config allows',
    email_hash String COMMENT 'hex SHA-256 of the lower-cased, trimmed e-mail address',
    created_at DateTime COMMENT 'registration or app install time, UTC',
    country String COMMENT 'ISO 3166-1 alpha-2 country code',
    city String COMMENT 'city as given by the customer',
    acquisition_source String COMMENT 'channel that brought the customer',
    optin_email UInt8 COMMENT '1 when the customer accepts e-mail marketing',
    optin_sms UInt8 COMMENT '1 when the customer accepts SMS marketing',
    optin_push UInt8 COMMENT '1 when the customer accepts push notifications',
    updated_at DateTime COMMENT 'last change in the source, UTC',
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (updated_at in Unix seconds); the largest wins'
) ENGINE = ReplacingMergeTree(_version) ORDER BY customer_id
;
CREATE TABLE IF NOT EXISTS {db}.raw_products (
    product_id String COMMENT 'product key from the source',
    sku String COMMENT 'stock keeping unit',
    name String COMMENT 'product name',
    category String COMMENT 'category path, levels separated by /',
    brand String COMMENT 'brand name',
    list_price Float64 COMMENT 'catalogue price of one unit',
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (landing time in Unix seconds); the largest wins'
) ENGINE = ReplacingMergeTree(_version) ORDER BY product_id
;
CREATE TABLE IF NOT EXISTS {db}.raw_orders (
    order_id String COMMENT 'order key from the source',
    customer_id String COMMENT 'the customer who placed the order',
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
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (updated_at in Unix seconds); the largest wins'
) ENGINE = ReplacingMergeTree(_version) ORDER BY order_id
;
CREATE TABLE IF NOT EXISTS {db}.raw_order_lines (
    order_id String COMMENT 'the order this line belongs to',
    line_no Int32 COMMENT 'line number within the order',
    product_id String COMMENT 'product sold on the line',
    quantity Int32 COMMENT 'units sold',
    unit_price Float64 COMMENT 'price of one unit before the line discount',
    discount Float64 COMMENT 'discount on the whole line',
    returned_quantity Int32 COMMENT 'units returned',
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (landing time in Unix seconds); the largest wins'
) ENGINE = ReplacingMergeTree(_version) ORDER BY (order_id, line_no)
;
CREATE TABLE IF NOT EXISTS {db}.raw_events (
    event_id String COMMENT 'event key from the source',
    ts DateTime COMMENT 'when it happened, UTC',
    customer_id String COMMENT 'the customer, empty for anonymous visitors',
    anonymous_id String COMMENT 'device or cookie id',
    session_id String COMMENT 'visit the event belongs to',
    type String COMMENT 'page_view, category_view, product_view, search, add_to_cart, remove_from_cart, favorite or checkout_start',
    product_id String COMMENT 'product concerned, if any',
    category String COMMENT 'category concerned, if any',
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (landing time in Unix seconds); the largest wins'
) ENGINE = ReplacingMergeTree(_version) PARTITION BY toYYYYMM(ts) ORDER BY event_id
;
CREATE TABLE IF NOT EXISTS {db}.raw_campaign_events (
    campaign_id String COMMENT 'the campaign',
    customer_id String COMMENT 'the customer messaged',
    channel String COMMENT 'email, sms or push',
    type String COMMENT 'sent, delivered, open, click, unsubscribe or conversion',
    ts DateTime COMMENT 'when it happened, UTC',
    run_id String COMMENT 'the run that landed this version',
    _version UInt64 COMMENT 'row version (landing time in Unix seconds); the largest wins'
) ENGINE = ReplacingMergeTree(_version) PARTITION BY toYYYYMM(ts) ORDER BY (campaign_id, customer_id, type, ts)
;
CREATE TABLE IF NOT EXISTS {db}.rejected_rows (
    source String COMMENT 'where the row came from: file name, table or query',
    entity String COMMENT 'canonical entity the row was meant for',
    position UInt64 COMMENT '1-based record number in the source, header excluded',
    row_key String COMMENT 'the row key as read, if any',
    rule String COMMENT 'the rule it broke (see the README for the list)',
    detail String COMMENT 'which column and value broke it',
    raw String COMMENT 'the record as read',
    run_id String COMMENT 'the run that rejected it',
    rejected_at DateTime COMMENT 'when it was rejected, UTC',
    _version UInt64 COMMENT 'landing time in Unix seconds; re-reading the same source replaces its rejections'
) ENGINE = ReplacingMergeTree(_version) ORDER BY (entity, source, position, rule)
;
CREATE TABLE IF NOT EXISTS {db}.runs (
    run_id String COMMENT 'unique id of one run of one stage',
    stage String COMMENT 'extract, train, score, publish or export',
    as_of Date COMMENT 'the date the run computed for',
    started_at DateTime COMMENT 'start, UTC',
    finished_at DateTime COMMENT 'end, UTC',
    status String COMMENT 'ok or failed',
    rows_read UInt64 COMMENT 'rows read from sources',
    rows_landed UInt64 COMMENT 'rows written',
    rows_rejected UInt64 COMMENT 'rows sent to rejected_rows; rows_read = rows_landed + rows_rejected',
    message String COMMENT 'why a failed run failed',
    detail String COMMENT 'per-entity counts as JSON'
) ENGINE = MergeTree PARTITION BY toYYYYMM(as_of) ORDER BY (stage, as_of, started_at, run_id)
