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
    unit_prices Array(Float64) COMMENT 'the unit prices of the category''s lines, ascending (one row a category: the pods read a handful of rows, not one a price)',
    lines Array(UInt64) COMMENT 'the pod''s lines of the category at each of unit_prices (a pod with no line writes one row with none)',
    computed_at DateTime COMMENT 'when the pod counted them'
) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(as_of) ORDER BY (as_of, job, shard, run_id, top_category)
;
