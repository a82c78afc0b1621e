-- Segmentation, feeds and publish sharded by customer. Each shard of score
-- writes its customers' profiles as a part (a table of the structure of
-- customer_profiles_staging); shard 0 plans the date from every part and
-- writes each shard's part of customer_plan; each shard of publish builds its
-- customers' rows from the two. The staging tables hold no rows: they are the
-- structure of the parts. score_parts (LTV predictions only) is gone.
CREATE TABLE IF NOT EXISTS {db}.customer_profiles_staging (
    as_of Date COMMENT 'profiles as of this date',
    run_id String COMMENT 'the score run of the shard that wrote the part',
    customer_id String COMMENT 'the customer',
    model_id String COMMENT 'models.model_id of the purchase model used',
    buyer UInt8 COMMENT '1 for a customer with orders before as_of',
    orders Int32 COMMENT 'orders before as_of, not cancelled',
    first_order_date Nullable(Date) COMMENT 'day of the first order',
    days_since_first Float64 COMMENT 'days from the first order to as_of',
    days_since_last Float64 COMMENT 'days from the last order to as_of',
    last_gap_days Float64 COMMENT 'days between the last two order days',
    interorder_mean_days Float64 COMMENT 'mean days between order days',
    revenue Float64 COMMENT 'net revenue of all history',
    revenue_12m Float64 COMMENT 'net revenue of the 365 days before as_of',
    avg_check Float64 COMMENT 'mean net order value',
    discount_share Float64 COMMENT 'share of orders with a discount',
    p_alive Float64 COMMENT 'probability that the customer is still active; NaN when not predicted',
    clv_12m Float64 COMMENT 'value of the next 12 months; NaN when not predicted',
    early_vip Float64 COMMENT 'early potential-VIP probability where it can make a potential VIP; NaN otherwise',
    potential_vip_probability Float64 COMMENT 'early potential-VIP probability; NaN when not scored',
    top_category String COMMENT 'customer_features.top_category',
    top_brand String COMMENT 'customer_features.top_brand',
    preferred_channel String COMMENT 'customer_features.preferred_channel',
    best_hour Int32 COMMENT 'customer_features.preferred_hour',
    best_weekday Int32 COMMENT 'customer_features.preferred_weekday',
    discount_depth Float64 COMMENT 'customer_features.discount_depth',
    price_level Float64 COMMENT 'customer_features.price_level',
    email_click_rate Float64 COMMENT 'customer_features.email_click_rate',
    frequency Float64 COMMENT 'repeat purchase days before as_of',
    recency_days Float64 COMMENT 'days from the first to the last purchase day',
    age_days Float64 COMMENT 'days from the first purchase to the day before as_of',
    expected_purchases_30d Float64 COMMENT 'NaN when not predicted',
    expected_purchases_90d Float64 COMMENT 'NaN when not predicted',
    expected_purchases_365d Float64 COMMENT 'NaN when not predicted',
    expected_order_value Float64 COMMENT 'NaN when not predicted',
    next_order_in_days Nullable(Float64) COMMENT 'NULL when no order is expected',
    prediction_note String COMMENT 'why a prediction is missing',
    basket String COMMENT 'the distinct products bought, ids joined by the unit separator (0x1F), in id order'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY customer_id
;
CREATE TABLE IF NOT EXISTS {db}.customer_plan_staging (
    as_of Date COMMENT 'plan as of this date',
    run_id String COMMENT 'the score run of shard 0 that planned the date',
    customer_id String COMMENT 'the customer',
    lifecycle_stage String COMMENT 'customer_scores.lifecycle_stage',
    vip_tier String COMMENT 'customer_scores.vip_tier',
    value_tier String COMMENT 'vip, high value, mid value or low value: the value half of the macro group',
    rfm_r Int32 COMMENT 'customer_scores.rfm_r',
    rfm_f Int32 COMMENT 'customer_scores.rfm_f',
    rfm_m Int32 COMMENT 'customer_scores.rfm_m',
    micro_segment String COMMENT 'customer_scores.micro_segment',
    control_group UInt8 COMMENT 'segment_members.control_group'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY customer_id
;
DROP TABLE IF EXISTS {db}.score_parts
