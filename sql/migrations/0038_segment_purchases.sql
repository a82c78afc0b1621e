-- What each pod of a sharded Job counts of its customers' baskets for the
-- segments' feeds, so that every pod ranks each segment's feed from the
-- counts of all (added up: the counts of every member, exactly) instead of
-- shard 0 of score reading every buyer's basket. One row a segment a pod,
-- and one of the pod's every buyer with a basket (segment_id empty). Rows
-- older than two days are deleted by the publish that finishes a date.
CREATE TABLE IF NOT EXISTS {db}.segment_purchases (
    as_of Date COMMENT 'the date published',
    job String COMMENT 'the sharded run (Job) whose pods share them',
    score_run String COMMENT 'the score run whose plan placed the members: counts of another plan do not add up with these',
    shard UInt16 COMMENT 'the pod (shard index) whose customers these are',
    run_id String COMMENT 'the pod''s publish run: of a pod run again, the last run''s counts count',
    segment_id String COMMENT 'the micro-segment; empty: the pod''s every buyer with a basket, the feeds'' base',
    members UInt32 COMMENT 'the segment''s members among the pod''s customers (empty segment_id: its buyers with a basket)',
    products String COMMENT 'the products they bought, by the CityHash64 of their ids: 8 bytes each, little-endian, one after another (one value a row, not an array: every pod reads every pod''s counts, and an array is scanned a value at a time)',
    buyers String COMMENT 'how many of them bought each of products: 4 bytes each, little-endian',
    product_ids Array(String) COMMENT 'the ids of products, in their order, on the base''s rows only (empty segment_id): their hashes named once',
    computed_at DateTime COMMENT 'when the pod counted them'
) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(as_of) ORDER BY (as_of, job, score_run, shard, run_id, segment_id)
;
