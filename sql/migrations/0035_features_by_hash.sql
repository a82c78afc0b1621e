-- The features sorted by the hash of the customer's id first, as the raw
-- tables are (0029, 0031, 0032), so that a pod of score reads only its
-- range's granules of the date, not every buyer's (readers order by
-- customer_id themselves). The staging table and the shards' parts, made
-- like it, keep the same key: a partition moves between them.
DROP TABLE IF EXISTS {db}.customer_features_by_id
;
DROP TABLE IF EXISTS {db}.customer_features_by_hash
;
CREATE TABLE {db}.customer_features_by_hash AS {db}.customer_features
    ENGINE = MergeTree PARTITION BY as_of ORDER BY (cityHash64(customer_id), customer_id)
;
INSERT INTO {db}.customer_features_by_hash SELECT * FROM {db}.customer_features
;
RENAME TABLE {db}.customer_features TO {db}.customer_features_by_id, {db}.customer_features_by_hash TO {db}.customer_features
;
DROP TABLE {db}.customer_features_by_id
;
DROP TABLE IF EXISTS {db}.customer_features_staging_by_id
;
DROP TABLE IF EXISTS {db}.customer_features_staging_by_hash
;
CREATE TABLE {db}.customer_features_staging_by_hash AS {db}.customer_features
;
INSERT INTO {db}.customer_features_staging_by_hash SELECT * FROM {db}.customer_features_staging
;
RENAME TABLE {db}.customer_features_staging TO {db}.customer_features_staging_by_id, {db}.customer_features_staging_by_hash TO {db}.customer_features_staging
;
DROP TABLE {db}.customer_features_staging_by_id
;
