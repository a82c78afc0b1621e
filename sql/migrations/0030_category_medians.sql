-- The median unit price of each top-level category as of a date, once for
-- a sharded Job: its pods each need them (price_level compares a customer's
-- prices with them) and each would otherwise read every order line to know
-- them. The first pod computes and stores them, the others read them back.
CREATE TABLE IF NOT EXISTS {db}.category_medians (
    as_of Date COMMENT 'the medians are over the lines of the orders placed before this date and not cancelled',
    job String COMMENT 'the sharded run (Job) whose pods share them',
    top_category String COMMENT 'the first part of the product category path; empty for lines of products not in the catalogue',
    median_price Float64 COMMENT 'the median unit price of the category''s lines (the upper middle value for an even count)',
    run_id String COMMENT 'the features run that computed them',
    computed_at DateTime COMMENT 'when they were computed'
) ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(as_of) ORDER BY (as_of, job, top_category)
;
