-- The parts of a sharded score run: each pod of the score Indexed Job writes
-- the LTV predictions of its customers (by a hash of the id) as its own
-- partition; the pod of index 0 waits for every part, then segments and
-- stages the whole date.
CREATE TABLE IF NOT EXISTS {db}.score_parts (
    as_of Date COMMENT 'scores as of this date',
    shard UInt32 COMMENT 'the part: customers whose id hashes to it (FNV-1a 64 modulo shards)',
    shards UInt32 COMMENT 'how many parts the run has',
    score_job String COMMENT 'the run the part belongs to: the Indexed Job whose pods wrote the parts',
    model_id String COMMENT 'models.model_id of the purchase model used',
    customer_id String COMMENT 'the customer',
    frequency Float64 COMMENT 'repeat purchase days before as_of',
    recency_days Float64 COMMENT 'days from the first to the last purchase day',
    age_days Float64 COMMENT 'days from the first purchase to the day before as_of',
    p_alive Float64 COMMENT 'probability that the customer is still active',
    expected_purchases_30d Float64 COMMENT 'expected purchases in the 30 days from as_of',
    expected_purchases_90d Float64 COMMENT 'expected purchases in the 90 days from as_of',
    expected_purchases_365d Float64 COMMENT 'expected purchases in the 365 days from as_of',
    expected_order_value Float64 COMMENT 'expected mean order value (Gamma-Gamma)',
    clv_12m Float64 COMMENT 'value of the next 12 months of purchases, discounted monthly',
    next_order_in_days Nullable(Float64) COMMENT 'days until the probability of a new order reaches one half; NULL when none is expected',
    run_id String COMMENT 'the score run of the part'
) ENGINE = MergeTree PARTITION BY (as_of, shard) ORDER BY customer_id
