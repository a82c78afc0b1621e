-- Incremental extract: per database source and entity, the newest version
-- (the watermark column's value) landed so far.
CREATE TABLE IF NOT EXISTS {db}.watermarks (
    source String COMMENT 'postgres, mysql or clickhouse',
    entity String COMMENT 'the canonical entity',
    value DateTime COMMENT 'the largest watermark-column value read by a successful extract, UTC',
    run_id String COMMENT 'the extract run that saved it',
    saved_at DateTime COMMENT 'when it was saved; the newest row wins'
) ENGINE = ReplacingMergeTree(saved_at) ORDER BY (source, entity)
