-- Grades against three rules of thumb (no purchase for anyone, each
-- customer's rate, the base's rate), by RMSE; a minimum grade below which a
-- model is not used; the early potential-VIP model beside the ranking by
-- first-week revenue.
ALTER TABLE {db}.models
    COMMENT COLUMN grade 'quality grade A-D from the holdout against the best rule of thumb (README: Model quality); empty when the model was not evaluated or refused',
    COMMENT COLUMN reason 'why the model is gated: the floors the history missed, a grade below ltv.min_grade (early_vip.min_grade), a degenerate fit, or a label with nothing to predict'
;
DROP TABLE IF EXISTS {db}.model_metrics
;
CREATE VIEW IF NOT EXISTS {db}.model_metrics AS
SELECT as_of, kind, model_id, trained_at, customers, log_likelihood, holdout_mae, holdout_rmse, status, grade, reason,
    toFloat64OrZero(extract(artefact, '"naive_mae": ([-0-9.eE+]+)')) AS naive_mae,
    toFloat64OrZero(extract(artefact, '"zero_rmse": ([-0-9.eE+]+)')) AS zero_rmse,
    toFloat64OrZero(extract(artefact, '"naive_rmse": ([-0-9.eE+]+)')) AS naive_rmse,
    toFloat64OrZero(extract(artefact, '"rate_rmse": ([-0-9.eE+]+)')) AS rate_rmse,
    extract(artefact, '"baseline": "([a-z]+)"') AS baseline,
    toFloat64OrZero(extract(artefact, '"aggregate_error": ([-0-9.eE+]+)')) AS aggregate_error,
    toFloat64OrZero(extract(artefact, '"curve_error": ([-0-9.eE+]+)')) AS curve_error,
    toFloat64OrZero(extract(artefact, '"calibration_error": ([-0-9.eE+]+)')) AS calibration_error,
    toFloat64OrZero(extract(artefact, '"auc": ([-0-9.eE+]+)')) AS auc,
    toFloat64OrZero(extract(artefact, '"first_week_ranking": [{][^}]*"auc": ([-0-9.eE+]+)')) AS first_week_auc,
    toFloat64OrZero(extract(artefact, '"precision": ([-0-9.eE+]+)')) AS precision,
    toFloat64OrZero(extract(artefact, '"recall": ([-0-9.eE+]+)')) AS recall,
    toFloat64OrZero(extract(artefact, '"precision_top_1pct": ([-0-9.eE+]+)')) AS precision_top_1pct
FROM {db}.models
-- model_metrics.naive_mae: the holdout MAE of the naive baseline (each customer's past rate carried forward)
-- model_metrics.zero_rmse: the holdout RMSE of predicting no purchase for anyone
-- model_metrics.naive_rmse: the holdout RMSE of carrying each customer's past rate forward
-- model_metrics.rate_rmse: the holdout RMSE of giving everyone the base's past rate
-- model_metrics.baseline: the best of those rules of thumb (zero, naive, rate): the grade needs holdout_rmse below its RMSE
-- model_metrics.aggregate_error: predicted against actual repeat purchases over the holdout, as a share of actual
-- model_metrics.curve_error: the largest gap between the predicted and actual cumulative repeat purchases (tracking curve), as a share
-- model_metrics.calibration_error: the mean gap between predicted and actual buying-again rates by bucket of P(alive)
-- model_metrics.auc: early potential-VIP model: the area under the ROC curve on the test cohort
-- model_metrics.first_week_auc: early potential-VIP model: the AUC of ranking the same test cohort by first-week revenue alone
-- model_metrics.precision: early potential-VIP model: precision at its threshold on the test cohort
-- model_metrics.recall: early potential-VIP model: recall at its threshold on the test cohort
-- model_metrics.precision_top_1pct: early potential-VIP model: precision among the top 1% by probability
;
