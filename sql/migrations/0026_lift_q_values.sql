-- A false-discovery control across a date's segments: Benjamini and
-- Hochberg's q-value beside each segment's p-value.
ALTER TABLE {db}.segment_lift
    ADD COLUMN conversion_q_value Nullable(Float64) AFTER conversion_p_value
;
ALTER TABLE {db}.segment_lift_staging
    ADD COLUMN conversion_q_value Nullable(Float64) AFTER conversion_p_value
;
ALTER TABLE {db}.segment_lift
    COMMENT COLUMN conversion_q_value 'Benjamini-Hochberg q-value of conversion_p_value among the date''s measured segments: the share of false discoveries expected among those at or below it; NULL when not measured'
;
ALTER TABLE {db}.segment_lift_staging
    COMMENT COLUMN conversion_q_value 'Benjamini-Hochberg q-value of conversion_p_value among the date''s measured segments: the share of false discoveries expected among those at or below it; NULL when not measured'
;
