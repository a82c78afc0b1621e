-- The marketing members of each micro-segment, the history of moves between
-- segments, and the record of export files.
CREATE TABLE IF NOT EXISTS {db}.segment_members (
    as_of Date COMMENT 'membership as of this date',
    segment_id String COMMENT 'segments.segment_id',
    customer_id String COMMENT 'the customer',
    lifecycle_stage String COMMENT 'customer_scores.lifecycle_stage',
    vip_tier String COMMENT 'customer_scores.vip_tier',
    strategy String COMMENT 'develop, retain, restore, return or observe',
    action String COMMENT 'the recommended action',
    discount_sensitivity Float64 COMMENT 'share of the customer''s orders with a discount: how much an offer needs a discount',
    best_hour Int32 COMMENT 'hour of day (UTC) to send at: the one with the most activity',
    best_weekday Int32 COMMENT 'day of week (1 Monday - 7 Sunday) to send on',
    preferred_channel String COMMENT 'email, sms or push; empty when unknown',
    product_feed String COMMENT 'up to 10 product ids, comma-separated, best first',
    control_group UInt8 COMMENT '1: held out of the campaign to measure lift (the same customers for a campaign period)',
    run_id String COMMENT 'the score run'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY (segment_id, customer_id)
;
CREATE TABLE IF NOT EXISTS {db}.segment_members_staging AS {db}.segment_members
;
CREATE TABLE IF NOT EXISTS {db}.segment_changes (
    as_of Date COMMENT 'the published date the change shows at',
    previous_as_of Date COMMENT 'the published date before it that it is compared with (1970-01-01 for the first)',
    customer_id String COMMENT 'the customer',
    dimension String COMMENT 'micro_segment, rfm_segment, lifecycle_stage or vip_tier',
    change String COMMENT 'joined (no value before), left (no value now) or moved',
    from_value String COMMENT 'the value at previous_as_of; empty when joined',
    to_value String COMMENT 'the value at as_of; empty when left',
    run_id String COMMENT 'the publish run'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY (dimension, change, customer_id)
;
CREATE TABLE IF NOT EXISTS {db}.segment_changes_staging AS {db}.segment_changes
;
CREATE TABLE IF NOT EXISTS {db}.exports (
    as_of Date COMMENT 'the published date exported',
    exported_at DateTime COMMENT 'when the files were written (UTC)',
    file String COMMENT 'file name in the export folder',
    kind String COMMENT 'segment (its members), joined or left (deltas since the previous export), manifest',
    segment_id String COMMENT 'the segment of a segment file; empty otherwise',
    rows UInt64 COMMENT 'data rows in the file',
    sha256 String COMMENT 'hex SHA-256 of the file',
    previous_as_of Date COMMENT 'for delta files: the date of the previous export they compare with (1970-01-01 for none)',
    run_id String COMMENT 'the export run'
) ENGINE = MergeTree PARTITION BY toYYYYMM(as_of) ORDER BY (as_of, file, exported_at)
