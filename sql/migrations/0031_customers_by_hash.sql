-- Customers sorted by the hash of their id first, as the events are
-- (0029_events_by_customer_hash.sql), so that a shard's pod reads only its
-- range's granules. The key is unchanged: the hash is a function of the id.
DROP TABLE IF EXISTS {db}.raw_customers_by_id
;
CREATE TABLE IF NOT EXISTS {db}.raw_customers_by_hash AS {db}.raw_customers
    ENGINE = ReplacingMergeTree(_version) ORDER BY (cityHash64(customer_id), customer_id)
;
INSERT INTO {db}.raw_customers_by_hash SELECT * FROM {db}.raw_customers
;
RENAME TABLE {db}.raw_customers TO {db}.raw_customers_by_id, {db}.raw_customers_by_hash TO {db}.raw_customers
;
DROP TABLE {db}.raw_customers_by_id
;
