-- Views for analysts. They run on ClickHouse 18.16 (no window functions):
-- trends are built with arrays.
CREATE VIEW IF NOT EXISTS {db}.latest_scores AS
SELECT * FROM {db}.customer_scores
WHERE as_of = (SELECT max(as_of) FROM {db}.customer_scores)
;
-- Each segment on each published date with its economics and its size and
-- revenue share at its previous appearance (0 for a new segment).
CREATE VIEW IF NOT EXISTS {db}.segment_trend AS
SELECT segment_id, d AS as_of, l AS label, s AS size, rs AS revenue_share, clv AS mean_clv, risk AS churn_risk,
    rar AS revenue_at_risk, st AS strategy,
    if(i > 1, sizes[i - 1], 0) AS previous_size, if(i > 1, shares[i - 1], 0) AS previous_revenue_share
FROM (
    SELECT segment_id,
        arraySort(groupArray(as_of)) AS dates,
        arraySort((x, t) -> t, groupArray(label), groupArray(as_of)) AS labels,
        arraySort((x, t) -> t, groupArray(size), groupArray(as_of)) AS sizes,
        arraySort((x, t) -> t, groupArray(revenue_share), groupArray(as_of)) AS shares,
        arraySort((x, t) -> t, groupArray(mean_clv), groupArray(as_of)) AS clvs,
        arraySort((x, t) -> t, groupArray(churn_risk), groupArray(as_of)) AS risks,
        arraySort((x, t) -> t, groupArray(revenue_at_risk), groupArray(as_of)) AS at_risk,
        arraySort((x, t) -> t, groupArray(strategy), groupArray(as_of)) AS strategies
    FROM {db}.segments GROUP BY segment_id
)
ARRAY JOIN dates AS d, labels AS l, sizes AS s, shares AS rs, clvs AS clv, risks AS risk, at_risk AS rar, strategies AS st, arrayEnumerate(dates) AS i
;
-- The VIP pipeline: customers and 12-month CLV per tier and date.
CREATE VIEW IF NOT EXISTS {db}.vip_pipeline AS
SELECT as_of, vip_tier, count() AS customers, sum(clv_12m) AS clv_12m, avg(p_alive) AS mean_p_alive
FROM {db}.customer_scores WHERE vip_tier != ''
GROUP BY as_of, vip_tier
;
-- The RFM grid: buyers, revenue value and churn risk per R and FM cell and date.
CREATE VIEW IF NOT EXISTS {db}.rfm_grid AS
SELECT as_of, rfm_r AS r, intDiv(rfm_f + rfm_m + 1, 2) AS fm, any(rfm_segment) AS segment, count() AS buyers,
    sum(clv_12m) AS clv_12m, 1 - avg(p_alive) AS churn_risk
FROM {db}.customer_scores WHERE rfm_r > 0
GROUP BY as_of, r, fm
;
-- Moves between lifecycle stages from one published date to the next (those
-- who stayed are in customer_scores; sql/reports/lifecycle_transitions.sql
-- gives the whole matrix between any two dates).
CREATE VIEW IF NOT EXISTS {db}.lifecycle_flows AS
SELECT as_of, previous_as_of, if(from_value = '', '(new)', from_value) AS from_stage, to_value AS to_stage, count() AS customers
FROM {db}.segment_changes WHERE dimension = 'lifecycle_stage'
GROUP BY as_of, previous_as_of, from_stage, to_stage
;
-- Model quality over time: the LTV models' holdout errors and the early
-- potential-VIP model's AUC and precision (from the stored documents).
CREATE VIEW IF NOT EXISTS {db}.model_metrics AS
SELECT as_of, kind, model_id, trained_at, customers, log_likelihood, holdout_mae, holdout_rmse,
    toFloat64OrZero(extract(artefact, '"auc": ([-0-9.eE+]+)')) AS auc,
    toFloat64OrZero(extract(artefact, '"precision": ([-0-9.eE+]+)')) AS precision,
    toFloat64OrZero(extract(artefact, '"recall": ([-0-9.eE+]+)')) AS recall,
    toFloat64OrZero(extract(artefact, '"precision_top_1pct": ([-0-9.eE+]+)')) AS precision_top_1pct
FROM {db}.models
