-- The longest value landed so far in each text column of each raw table, in
-- bytes: a read selects a short text column as a FixedString that long,
-- which clickhouse-go decodes in one copy instead of a value at a time.
-- Extract raises a column's length before it lands a longer value; the
-- largest length recorded wins.
CREATE TABLE IF NOT EXISTS {db}.text_lengths (
    entity String COMMENT 'the canonical entity: its raw table is raw_<entity>',
    column String COMMENT 'the text column',
    longest UInt64 COMMENT 'no value of the column in the raw table is longer, in bytes',
    saved_at DateTime COMMENT 'when it was recorded'
) ENGINE = ReplacingMergeTree(longest) ORDER BY (entity, column)
;
