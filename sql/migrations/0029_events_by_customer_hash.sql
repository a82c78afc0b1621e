-- Site and campaign events sorted by the hash of their customer first, so
-- that a shard's pod, which reads the customers of one range of the hash
-- (warehouse.Slice), reads only that range's granules instead of every
-- event. An event's key is unchanged (its customer was already in the
-- campaign events' key; a site event keeps one customer, or none for an
-- anonymous visitor, whose events no customer's reading touches).
-- ClickHouse 18.16 cannot change a sorting key: each table is copied (its
-- columns and their comments, under another engine clause), as in
-- 0011_events_unpartitioned.sql, each step safe to run again.
DROP TABLE IF EXISTS {db}.raw_events_by_event
;
CREATE TABLE IF NOT EXISTS {db}.raw_events_by_customer AS {db}.raw_events
    ENGINE = ReplacingMergeTree(_version) ORDER BY (cityHash64(customer_id), event_id)
;
INSERT INTO {db}.raw_events_by_customer SELECT * FROM {db}.raw_events
;
RENAME TABLE {db}.raw_events TO {db}.raw_events_by_event, {db}.raw_events_by_customer TO {db}.raw_events
;
DROP TABLE {db}.raw_events_by_event
;
DROP TABLE IF EXISTS {db}.raw_campaign_events_by_campaign
;
CREATE TABLE IF NOT EXISTS {db}.raw_campaign_events_by_customer AS {db}.raw_campaign_events
    ENGINE = ReplacingMergeTree(_version) ORDER BY (cityHash64(customer_id), campaign_id, customer_id, type, ts)
;
INSERT INTO {db}.raw_campaign_events_by_customer SELECT * FROM {db}.raw_campaign_events
;
RENAME TABLE {db}.raw_campaign_events TO {db}.raw_campaign_events_by_campaign, {db}.raw_campaign_events_by_customer TO {db}.raw_campaign_events
;
DROP TABLE {db}.raw_campaign_events_by_campaign
;
