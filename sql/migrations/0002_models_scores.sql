-- Fitted models and the customer scores computed with them.
CREATE TABLE IF NOT EXISTS {db}.models (
    model_id String COMMENT 'unique id of a fitted model: the train run id and the model kind',
    as_of Date COMMENT 'the model was fitted on data before this date',
    kind String COMMENT 'purchase model chosen on the holdout: bgnbd, mbgnbd or paretonbd',
    trained_at DateTime COMMENT 'when it was fitted, UTC',
    customers UInt64 COMMENT 'customers it was fitted on',
    log_likelihood Float64 COMMENT 'log-likelihood of the fit',
    holdout_mae Float64 COMMENT 'mean absolute error of predicted repeat purchases per customer on the holdout period',
    holdout_rmse Float64 COMMENT 'root mean squared error of the same',
    artefact String COMMENT 'the versioned JSON document of the model: parameters, standard errors, window, metrics, spend model',
    run_id String COMMENT 'the train run'
) ENGINE = MergeTree PARTITION BY toYYYYMM(as_of) ORDER BY (as_of, trained_at, model_id)
;
CREATE TABLE IF NOT EXISTS {db}.customer_scores (
    as_of Date COMMENT 'scores as of this date: computed from the data before it',
    customer_id String COMMENT 'the customer',
    model_id String COMMENT 'models.model_id of the model used',
    frequency Float64 COMMENT 'repeat purchase days before as_of',
    recency_days Float64 COMMENT 'days from the first to the last purchase day',
    age_days Float64 COMMENT 'days from the first purchase to the day before as_of',
    p_alive Float64 COMMENT 'probability that the customer is still active',
    expected_purchases_90d Float64 COMMENT 'expected purchases in the 90 days from as_of',
    expected_purchases_365d Float64 COMMENT 'expected purchases in the 365 days from as_of',
    next_order_in_days Nullable(Float64) COMMENT 'days from as_of until the probability of a new order reaches one half; NULL when none is expected (probably gone)',
    expected_order_value Float64 COMMENT 'expected mean order value (Gamma-Gamma), in the shop currency',
    clv_12m Float64 COMMENT 'value of the next 12 months of purchases, discounted monthly, in the shop currency',
    run_id String COMMENT 'the score run'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY customer_id
;
CREATE TABLE IF NOT EXISTS {db}.customer_scores_staging AS {db}.customer_scores
