-- The longest value of each text column of each part a stage wrote
-- (customer_profiles_part_…, customer_plan_part_…, …), recorded by the pod
-- that wrote it before renaming it into place: a read of the parts selects a
-- short text column as a FixedString that long (see text_lengths) without a
-- pass to measure it. A part written again records its lengths again; the
-- largest wins.
CREATE TABLE IF NOT EXISTS {db}.part_text_lengths (
    part String COMMENT 'the part''s table',
    column String COMMENT 'a text column of the part',
    longest UInt64 COMMENT 'no value of the column in the part is longer, in bytes',
    saved_at DateTime COMMENT 'when it was recorded'
) ENGINE = ReplacingMergeTree(longest) ORDER BY (part, column)
;
