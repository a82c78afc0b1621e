-- Predictions a shop can trust: a model that fails its gate (too little
-- history, a degenerate fit) publishes no number. The predicted columns of
-- customer_scores become Nullable, prediction_note says why one is NULL, and
-- models records the gate, its reason and the holdout's quality grade. The
-- early potential-VIP probability is given to every buyer whose first week is
-- complete, with the first order's date beside it.
-- ClickHouse 18.16 drops a column's COMMENT on MODIFY and ADD: COMMENT COLUMN
-- sets them again.
ALTER TABLE {db}.customer_scores
    MODIFY COLUMN p_alive Nullable(Float64),
    MODIFY COLUMN expected_purchases_30d Nullable(Float64),
    MODIFY COLUMN expected_purchases_90d Nullable(Float64),
    MODIFY COLUMN expected_purchases_365d Nullable(Float64),
    MODIFY COLUMN expected_order_value Nullable(Float64),
    MODIFY COLUMN clv_12m Nullable(Float64),
    ADD COLUMN prediction_note String AFTER clv_12m,
    ADD COLUMN first_order_date Nullable(Date) AFTER potential_vip_probability
;
ALTER TABLE {db}.customer_scores_staging
    MODIFY COLUMN p_alive Nullable(Float64),
    MODIFY COLUMN expected_purchases_30d Nullable(Float64),
    MODIFY COLUMN expected_purchases_90d Nullable(Float64),
    MODIFY COLUMN expected_purchases_365d Nullable(Float64),
    MODIFY COLUMN expected_order_value Nullable(Float64),
    MODIFY COLUMN clv_12m Nullable(Float64),
    ADD COLUMN prediction_note String AFTER clv_12m,
    ADD COLUMN first_order_date Nullable(Date) AFTER potential_vip_probability
;
ALTER TABLE {db}.customer_scores
    COMMENT COLUMN p_alive 'probability that the customer is still active; NULL when not predicted (prediction_note says why)',
    COMMENT COLUMN expected_purchases_30d 'expected purchases in the 30 days from as_of; 0 for non-buyers; NULL when not predicted',
    COMMENT COLUMN expected_purchases_90d 'expected purchases in the 90 days from as_of; NULL when not predicted',
    COMMENT COLUMN expected_purchases_365d 'expected purchases in the 365 days from as_of; NULL when not predicted',
    COMMENT COLUMN expected_order_value 'expected mean order value (Gamma-Gamma), in the shop currency; NULL when not predicted',
    COMMENT COLUMN clv_12m 'value of the next 12 months of purchases, discounted monthly, in the shop currency; NULL when not predicted',
    COMMENT COLUMN prediction_note 'why a predicted column is NULL (the gate the model failed, or what the model cannot tell of this customer); empty when all are predicted',
    COMMENT COLUMN potential_vip_probability 'probability of becoming a VIP, from the first 7 days after the first order alone (early potential-VIP model); NULL before that week is complete or without a model',
    COMMENT COLUMN first_order_date 'the first order: the evidence of potential_vip_probability is the week from it; NULL for non-buyers'
;
ALTER TABLE {db}.customer_scores_staging
    COMMENT COLUMN p_alive 'probability that the customer is still active; NULL when not predicted (prediction_note says why)',
    COMMENT COLUMN expected_purchases_30d 'expected purchases in the 30 days from as_of; 0 for non-buyers; NULL when not predicted',
    COMMENT COLUMN expected_purchases_90d 'expected purchases in the 90 days from as_of; NULL when not predicted',
    COMMENT COLUMN expected_purchases_365d 'expected purchases in the 365 days from as_of; NULL when not predicted',
    COMMENT COLUMN expected_order_value 'expected mean order value (Gamma-Gamma), in the shop currency; NULL when not predicted',
    COMMENT COLUMN clv_12m 'value of the next 12 months of purchases, discounted monthly, in the shop currency; NULL when not predicted',
    COMMENT COLUMN prediction_note 'why a predicted column is NULL (the gate the model failed, or what the model cannot tell of this customer); empty when all are predicted',
    COMMENT COLUMN potential_vip_probability 'probability of becoming a VIP, from the first 7 days after the first order alone (early potential-VIP model); NULL before that week is complete or without a model',
    COMMENT COLUMN first_order_date 'the first order: the evidence of potential_vip_probability is the week from it; NULL for non-buyers'
;
ALTER TABLE {db}.models
    ADD COLUMN status String,
    ADD COLUMN grade String,
    ADD COLUMN reason String
;
ALTER TABLE {db}.models
    COMMENT COLUMN kind 'purchase model chosen on the holdout (bgnbd, mbgnbd, paretonbd), earlyvip, or none when no purchase model passed its gate',
    COMMENT COLUMN status 'ok, or gated: no purchase model is used for the date and score publishes no predicted number',
    COMMENT COLUMN grade 'quality grade A-D from the holdout (README: Model quality); empty when not evaluated',
    COMMENT COLUMN reason 'why the model is gated: the floors the history missed, or what made every fit degenerate'
;
ALTER TABLE {db}.runs
    COMMENT COLUMN message 'why a failed run failed; for an ok train run, why no purchase model is used, if so'
;
DROP TABLE IF EXISTS {db}.model_metrics
;
CREATE VIEW IF NOT EXISTS {db}.model_metrics AS
SELECT as_of, kind, model_id, trained_at, customers, log_likelihood, holdout_mae, holdout_rmse, status, grade, reason,
    toFloat64OrZero(extract(artefact, '"naive_mae": ([-0-9.eE+]+)')) AS naive_mae,
    toFloat64OrZero(extract(artefact, '"aggregate_error": ([-0-9.eE+]+)')) AS aggregate_error,
    toFloat64OrZero(extract(artefact, '"curve_error": ([-0-9.eE+]+)')) AS curve_error,
    toFloat64OrZero(extract(artefact, '"calibration_error": ([-0-9.eE+]+)')) AS calibration_error,
    toFloat64OrZero(extract(artefact, '"auc": ([-0-9.eE+]+)')) AS auc,
    toFloat64OrZero(extract(artefact, '"precision": ([-0-9.eE+]+)')) AS precision,
    toFloat64OrZero(extract(artefact, '"recall": ([-0-9.eE+]+)')) AS recall,
    toFloat64OrZero(extract(artefact, '"precision_top_1pct": ([-0-9.eE+]+)')) AS precision_top_1pct
FROM {db}.models
-- model_metrics.naive_mae: the holdout MAE of the naive baseline (each customer's past rate carried forward)
-- model_metrics.aggregate_error: predicted against actual repeat purchases over the holdout, as a share of actual
-- model_metrics.curve_error: the largest gap between the predicted and actual cumulative repeat purchases (tracking curve), as a share
-- model_metrics.calibration_error: the mean gap between predicted and actual buying-again rates by bucket of P(alive)
-- model_metrics.auc: early potential-VIP model: the area under the ROC curve on the test cohort
-- model_metrics.precision: early potential-VIP model: precision at its threshold on the test cohort
-- model_metrics.recall: early potential-VIP model: recall at its threshold on the test cohort
-- model_metrics.precision_top_1pct: early potential-VIP model: precision among the top 1% by probability
