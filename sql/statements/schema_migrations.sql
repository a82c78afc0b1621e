-- The record of applied migrations, created before any is applied.
CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    name String COMMENT 'migration file applied',
    applied_at DateTime COMMENT 'when, UTC'
) ENGINE = ReplacingMergeTree ORDER BY name
