-- Two features for lifecycle and VIP tiers: the revenue of the last 12 months
-- and the gap before the last order (a reactivation shows there).
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS (schema_migrations keeps
-- this from running twice) and drops the COMMENT of ADD COLUMN: COMMENT COLUMN
-- sets it.
ALTER TABLE {db}.customer_features
    ADD COLUMN revenue_12m Float64 AFTER top_brand_share,
    ADD COLUMN last_gap_days Float64 AFTER revenue_12m
;
ALTER TABLE {db}.customer_features
    COMMENT COLUMN revenue_12m 'sum of net_amount of the orders placed in the 365 days before as_of',
    COMMENT COLUMN last_gap_days 'days between the last two order days; 0 with one order day'
;
ALTER TABLE {db}.customer_features_staging
    ADD COLUMN revenue_12m Float64 AFTER top_brand_share,
    ADD COLUMN last_gap_days Float64 AFTER revenue_12m
;
ALTER TABLE {db}.customer_features_staging
    COMMENT COLUMN revenue_12m 'sum of net_amount of the orders placed in the 365 days before as_of',
    COMMENT COLUMN last_gap_days 'days between the last two order days; 0 with one order day'
