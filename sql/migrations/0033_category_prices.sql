-- What each pod of a sharded Job counts of its customers' order lines, by
-- category and unit price, so that every pod takes the category medians
-- from the counts of all (added up: the medians of every line, exactly)
-- instead of one pod reading every line again (0030 keeps the medians so
-- computed, and those a pod computes alone when the others do not come).
CREATE TABLE IF NOT EXISTS {db}.category_prices (
    as_of Date COMMENT 'the lines are those of the orders placed before this date and not cancelled',
    job String COMMENT 'the sharded run (Job) whose pods share them',
    shard UInt16 COMMENT 'the pod (shard index) whose customers'' lines these are',
    run_id String COMMENT 'the pod''s features run: of a pod run again, the last run''s counts count',
    top_category String COMMENT 'the first part of the product category path; empty for lines of products not in the catalogue',
    unit_price Float64 COMMENT 'a unit price of the category''s lines',
    lines UInt64 COMMENT 'the pod''s lines of the category at that price (a pod with no line writes one row of 0)',
    computed_at DateTime COMMENT 'when the pod counted them'
) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(as_of) ORDER BY (as_of, job, shard, run_id, top_category, unit_price)
;
