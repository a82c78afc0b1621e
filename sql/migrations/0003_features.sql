-- Customer features, one row per customer with an order before as_of; the
-- definitions are those of transform.Features.
CREATE TABLE IF NOT EXISTS {db}.customer_features (
    as_of Date COMMENT 'features as of this date: computed from the orders placed before it',
    customer_id String COMMENT 'the customer',
    orders Int64 COMMENT 'orders placed before as_of, not cancelled',
    cancelled_orders Int64 COMMENT 'orders placed before as_of and cancelled',
    revenue Float64 COMMENT 'sum of net_amount of the orders, in the shop currency',
    avg_check Float64 COMMENT 'revenue / orders',
    items_per_order Float64 COMMENT 'mean items_count of the orders',
    return_rate Float64 COMMENT 'orders returned in whole or in part / orders',
    cancel_rate Float64 COMMENT 'cancelled_orders / (orders + cancelled_orders)',
    discount_share Float64 COMMENT 'orders with a discount / orders',
    discount_depth Float64 COMMENT 'sum of discount_amount / sum of gross_amount over the orders with a discount; 0 without',
    rating_mean Float64 COMMENT 'mean satisfaction rating (1-5) of the rated orders; nan when none is rated',
    first_order_date Date COMMENT 'day of the first order (UTC)',
    last_order_date Date COMMENT 'day of the last order (UTC)',
    days_since_first Float64 COMMENT 'days from first_order_date to as_of',
    days_since_last Float64 COMMENT 'days from last_order_date to as_of',
    interorder_mean_days Float64 COMMENT 'mean gap in days between consecutive order days; 0 with one order day',
    interorder_std_days Float64 COMMENT 'population standard deviation of those gaps; 0 with fewer than two gaps',
    run_id String COMMENT 'the features run'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY customer_id
;
CREATE TABLE IF NOT EXISTS {db}.customer_features_staging AS {db}.customer_features
