-- The counts the pods share for the feeds, a product by its place among the
-- pod's base's ids and the counts as varints, not a product by its 8-byte
-- hash and each count in 4 bytes: every pod reads every pod's counts, and at
-- a million customers those were 79 MB (1.66 times the bytes one process's
-- publish reads). The counts of a Job's run are read within hours, so the
-- table is made anew rather than altered.
DROP TABLE IF EXISTS {db}.segment_purchases
;
CREATE TABLE IF NOT EXISTS {db}.segment_purchases (
    as_of Date COMMENT 'the date published',
    job String COMMENT 'the sharded run (Job) whose pods share them',
    score_run String COMMENT 'the score run whose plan placed the members: counts of another plan do not add up with these',
    shard UInt16 COMMENT 'the pod (shard index) whose customers these are',
    run_id String COMMENT 'the pod''s publish run: of a pod run again, the last run''s counts count',
    segment_id String COMMENT 'the micro-segment; empty: the pod''s every buyer with a basket, the feeds'' base',
    members UInt32 COMMENT 'the segment''s members among the pod''s customers (empty segment_id: its buyers with a basket)',
    counts String COMMENT 'the products they bought and how many of them did, as unsigned varints, two a product: its place among the product_ids of the pod''s base row less the previous product''s place and one (places ascend), then its buyers',
    product_ids Array(String) COMMENT 'the ids of the products the pod''s buyers bought, each named once, on the base''s rows only (empty segment_id)',
    computed_at DateTime COMMENT 'when the pod counted them'
) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(as_of) ORDER BY (as_of, job, score_run, shard, run_id, segment_id)
;
