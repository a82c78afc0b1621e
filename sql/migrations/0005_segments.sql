-- Segmentation in customer_scores (RFM, lifecycle, VIP tiers, strategy,
-- micro-segment, offer parameters, product feed) and the segments with their
-- economics and feeds. ClickHouse 18.16 drops the COMMENT of ADD COLUMN:
-- COMMENT COLUMN sets it.
ALTER TABLE {db}.customer_scores
    ADD COLUMN expected_purchases_30d Float64 AFTER expected_purchases_90d,
    ADD COLUMN next_order_date Nullable(Date) AFTER next_order_in_days,
    ADD COLUMN rfm_r UInt8 AFTER clv_12m,
    ADD COLUMN rfm_f UInt8 AFTER rfm_r,
    ADD COLUMN rfm_m UInt8 AFTER rfm_f,
    ADD COLUMN rfm_code String AFTER rfm_m,
    ADD COLUMN rfm_segment String AFTER rfm_code,
    ADD COLUMN rfm_cell String AFTER rfm_segment,
    ADD COLUMN lifecycle_stage String AFTER rfm_cell,
    ADD COLUMN vip_tier String AFTER lifecycle_stage,
    ADD COLUMN vip_handling String AFTER vip_tier,
    ADD COLUMN potential_vip_probability Nullable(Float64) AFTER vip_handling,
    ADD COLUMN strategy String AFTER potential_vip_probability,
    ADD COLUMN action String AFTER strategy,
    ADD COLUMN micro_segment String AFTER action,
    ADD COLUMN discount_sensitivity Float64 AFTER micro_segment,
    ADD COLUMN best_hour Nullable(Int32) AFTER discount_sensitivity,
    ADD COLUMN best_weekday Nullable(Int32) AFTER best_hour,
    ADD COLUMN preferred_channel String AFTER best_weekday,
    ADD COLUMN product_feed String AFTER preferred_channel,
    ADD COLUMN early_vip_model_id String AFTER product_feed
;
ALTER TABLE {db}.customer_scores
    COMMENT COLUMN expected_purchases_30d 'expected purchases in the 30 days from as_of; 0 for non-buyers',
    COMMENT COLUMN next_order_date 'as_of + next_order_in_days, rounded down; NULL when no order is expected',
    COMMENT COLUMN rfm_r 'recency score 1-5 by quintiles of days since the last order (5: the most recent); 0 for non-buyers',
    COMMENT COLUMN rfm_f 'frequency score 1-5 by quintiles of orders; 0 for non-buyers',
    COMMENT COLUMN rfm_m 'monetary score 1-5 by quintiles of revenue; 0 for non-buyers',
    COMMENT COLUMN rfm_code 'the three scores as a code, R first (e.g. 545); empty for non-buyers',
    COMMENT COLUMN rfm_segment 'named RFM segment of the code (README: RFM); empty for non-buyers',
    COMMENT COLUMN rfm_cell 'cell of the 45-cell trigger grid: R 1-5, F and M in bands 1-3 (e.g. R5 F2 M3)',
    COMMENT COLUMN lifecycle_stage 'non_buyer, new, active, at_risk, lost or reactivated (README: lifecycle)',
    COMMENT COLUMN vip_tier 'vip, potential_vip, vip_at_risk, lost_vip or empty',
    COMMENT COLUMN vip_handling 'what the VIP tier gets (order-processing priority, retention, reactivation)',
    COMMENT COLUMN potential_vip_probability 'early potential-VIP probability from the first week; NULL outside the first weeks or without a model',
    COMMENT COLUMN strategy 'develop, retain, restore, return or observe, from the strategy rules',
    COMMENT COLUMN action 'the recommended action of the strategy rule',
    COMMENT COLUMN micro_segment 'segments.segment_id of the customer''s micro-segment; empty for non-buyers',
    COMMENT COLUMN discount_sensitivity 'share of the customer''s orders with a discount',
    COMMENT COLUMN best_hour 'hour of day (UTC) with the most activity; NULL for non-buyers',
    COMMENT COLUMN best_weekday 'day of week (1 Monday - 7 Sunday) with the most activity; NULL for non-buyers',
    COMMENT COLUMN preferred_channel 'email, sms or push: the channel the customer engages with most; empty when unknown',
    COMMENT COLUMN product_feed 'up to 10 product ids, comma-separated: the segment''s feed minus what the customer bought',
    COMMENT COLUMN early_vip_model_id 'models.model_id of the early potential-VIP model; empty without one'
;
ALTER TABLE {db}.customer_scores_staging
    ADD COLUMN expected_purchases_30d Float64 AFTER expected_purchases_90d,
    ADD COLUMN next_order_date Nullable(Date) AFTER next_order_in_days,
    ADD COLUMN rfm_r UInt8 AFTER clv_12m,
    ADD COLUMN rfm_f UInt8 AFTER rfm_r,
    ADD COLUMN rfm_m UInt8 AFTER rfm_f,
    ADD COLUMN rfm_code String AFTER rfm_m,
    ADD COLUMN rfm_segment String AFTER rfm_code,
    ADD COLUMN rfm_cell String AFTER rfm_segment,
    ADD COLUMN lifecycle_stage String AFTER rfm_cell,
    ADD COLUMN vip_tier String AFTER lifecycle_stage,
    ADD COLUMN vip_handling String AFTER vip_tier,
    ADD COLUMN potential_vip_probability Nullable(Float64) AFTER vip_handling,
    ADD COLUMN strategy String AFTER potential_vip_probability,
    ADD COLUMN action String AFTER strategy,
    ADD COLUMN micro_segment String AFTER action,
    ADD COLUMN discount_sensitivity Float64 AFTER micro_segment,
    ADD COLUMN best_hour Nullable(Int32) AFTER discount_sensitivity,
    ADD COLUMN best_weekday Nullable(Int32) AFTER best_hour,
    ADD COLUMN preferred_channel String AFTER best_weekday,
    ADD COLUMN product_feed String AFTER preferred_channel,
    ADD COLUMN early_vip_model_id String AFTER product_feed
;
ALTER TABLE {db}.customer_scores_staging
    COMMENT COLUMN expected_purchases_30d 'expected purchases in the 30 days from as_of; 0 for non-buyers',
    COMMENT COLUMN next_order_date 'as_of + next_order_in_days, rounded down; NULL when no order is expected',
    COMMENT COLUMN rfm_r 'recency score 1-5 by quintiles of days since the last order (5: the most recent); 0 for non-buyers',
    COMMENT COLUMN rfm_f 'frequency score 1-5 by quintiles of orders; 0 for non-buyers',
    COMMENT COLUMN rfm_m 'monetary score 1-5 by quintiles of revenue; 0 for non-buyers',
    COMMENT COLUMN rfm_code 'the three scores as a code, R first (e.g. 545); empty for non-buyers',
    COMMENT COLUMN rfm_segment 'named RFM segment of the code (README: RFM); empty for non-buyers',
    COMMENT COLUMN rfm_cell 'cell of the 45-cell trigger grid: R 1-5, F and M in bands 1-3 (e.g. R5 F2 M3)',
    COMMENT COLUMN lifecycle_stage 'non_buyer, new, active, at_risk, lost or reactivated (README: lifecycle)',
    COMMENT COLUMN vip_tier 'vip, potential_vip, vip_at_risk, lost_vip or empty',
    COMMENT COLUMN vip_handling 'what the VIP tier gets (order-processing priority, retention, reactivation)',
    COMMENT COLUMN potential_vip_probability 'early potential-VIP probability from the first week; NULL outside the first weeks or without a model',
    COMMENT COLUMN strategy 'develop, retain, restore, return or observe, from the strategy rules',
    COMMENT COLUMN action 'the recommended action of the strategy rule',
    COMMENT COLUMN micro_segment 'segments.segment_id of the customer''s micro-segment; empty for non-buyers',
    COMMENT COLUMN discount_sensitivity 'share of the customer''s orders with a discount',
    COMMENT COLUMN best_hour 'hour of day (UTC) with the most activity; NULL for non-buyers',
    COMMENT COLUMN best_weekday 'day of week (1 Monday - 7 Sunday) with the most activity; NULL for non-buyers',
    COMMENT COLUMN preferred_channel 'email, sms or push: the channel the customer engages with most; empty when unknown',
    COMMENT COLUMN product_feed 'up to 10 product ids, comma-separated: the segment''s feed minus what the customer bought',
    COMMENT COLUMN early_vip_model_id 'models.model_id of the early potential-VIP model; empty without one'
;
CREATE TABLE IF NOT EXISTS {db}.segments (
    as_of Date COMMENT 'segments as of this date',
    segment_id String COMMENT 'stable id: kept from the previous night when most members stay',
    macro_group String COMMENT 'lifecycle stage and value tier the segment was built in',
    label String COMMENT 'human-readable: macro group, dominant category, most distinctive behaviour, dominant channel',
    size UInt32 COMMENT 'members',
    revenue_12m Float64 COMMENT 'members'' revenue of the 365 days before as_of',
    revenue_share Float64 COMMENT 'revenue_12m / all buyers'' revenue_12m',
    mean_clv Float64 COMMENT 'mean 12-month CLV of the members',
    churn_risk Float64 COMMENT '1 - mean P(alive) of the members',
    revenue_at_risk Float64 COMMENT 'sum over members of revenue_12m x (1 - P(alive))',
    strategy String COMMENT 'the strategy most members have',
    run_id String COMMENT 'the score run'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY segment_id
;
CREATE TABLE IF NOT EXISTS {db}.segments_staging AS {db}.segments
;
CREATE TABLE IF NOT EXISTS {db}.segment_feed (
    as_of Date COMMENT 'feed as of this date',
    segment_id String COMMENT 'segments.segment_id',
    rank UInt32 COMMENT '1 for the product with the highest lift',
    product_id String COMMENT 'the product',
    buyers UInt32 COMMENT 'members who bought the product before as_of',
    lift Float64 COMMENT 'share of members who bought it / share of all buyers who did',
    run_id String COMMENT 'the score run'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY (segment_id, rank)
;
CREATE TABLE IF NOT EXISTS {db}.segment_feed_staging AS {db}.segment_feed
