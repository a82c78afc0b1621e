-- One night is one unit: publish records, last, the runs whose rows each
-- published table holds for a date, and every reader (the views below,
-- export, report, the next night's publish and score) reads only those rows.
-- A night is then one run or none, even after a publish cut short between two
-- swaps, or a ClickHouse restart that brings a replaced part back.
CREATE TABLE IF NOT EXISTS {db}.publications (
    as_of Date COMMENT 'the published date',
    score_run String COMMENT 'the score run whose customer_scores, segments, segment_members and segment_feed rows the date holds',
    publish_run String COMMENT 'the publish run whose segment_changes rows the date holds',
    rows String COMMENT 'rows of each table as published, JSON ({} for dates published before this table)',
    published_at DateTime COMMENT 'when, UTC',
    version UInt64 COMMENT 'when, in nanoseconds since 1970: the publication of a date with the largest holds'
) ENGINE = ReplacingMergeTree(version) ORDER BY as_of
;
-- Dates published before: the newest run of each (ids sort by time).
INSERT INTO {db}.publications (as_of, score_run, publish_run, rows, published_at, version)
SELECT as_of, score_run, publish_run, '{}', toDateTime(0), 0
FROM (SELECT as_of, max(run_id) AS score_run FROM {db}.customer_scores GROUP BY as_of) AS s
ANY LEFT JOIN (SELECT as_of, max(run_id) AS publish_run FROM {db}.segment_changes GROUP BY as_of) AS c USING as_of
WHERE as_of NOT IN (SELECT as_of FROM {db}.publications)
;
-- The runs each published date holds, as its newest publication names them.
CREATE VIEW IF NOT EXISTS {db}.published_runs AS
SELECT as_of, tupleElement(runs, 1) AS score_run, tupleElement(runs, 2) AS publish_run, newest AS published_at
FROM (
    SELECT as_of, argMax((score_run, publish_run), version) AS runs, max(published_at) AS newest
    FROM {db}.publications GROUP BY as_of
)
;
-- The views read published rows only.
DROP TABLE IF EXISTS {db}.latest_scores
;
CREATE VIEW IF NOT EXISTS {db}.latest_scores AS
SELECT * FROM {db}.customer_scores
WHERE (as_of, run_id) IN (SELECT as_of, score_run FROM {db}.published_runs WHERE as_of = (SELECT max(as_of) FROM {db}.published_runs))
;
DROP TABLE IF EXISTS {db}.segment_trend
;
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
    FROM {db}.segments WHERE (as_of, run_id) IN (SELECT as_of, score_run FROM {db}.published_runs)
    GROUP BY segment_id
)
ARRAY JOIN dates AS d, labels AS l, sizes AS s, shares AS rs, clvs AS clv, risks AS risk, at_risk AS rar, strategies AS st, arrayEnumerate(dates) AS i
;
DROP TABLE IF EXISTS {db}.vip_pipeline
;
CREATE VIEW IF NOT EXISTS {db}.vip_pipeline AS
SELECT as_of, vip_tier, count() AS customers, sum(clv_12m) AS clv_12m, avg(p_alive) AS mean_p_alive
FROM {db}.customer_scores
WHERE vip_tier != '' AND (as_of, run_id) IN (SELECT as_of, score_run FROM {db}.published_runs)
GROUP BY as_of, vip_tier
;
DROP TABLE IF EXISTS {db}.rfm_grid
;
CREATE VIEW IF NOT EXISTS {db}.rfm_grid AS
SELECT as_of, rfm_r AS r, intDiv(rfm_f + rfm_m + 1, 2) AS fm, any(rfm_segment) AS segment, count() AS buyers,
    sum(clv_12m) AS clv_12m, 1 - avg(p_alive) AS churn_risk
FROM {db}.customer_scores
WHERE rfm_r > 0 AND (as_of, run_id) IN (SELECT as_of, score_run FROM {db}.published_runs)
GROUP BY as_of, r, fm
;
DROP TABLE IF EXISTS {db}.lifecycle_flows
;
CREATE VIEW IF NOT EXISTS {db}.lifecycle_flows AS
SELECT as_of, previous_as_of, if(from_value = '', '(new)', from_value) AS from_stage, to_value AS to_stage, count() AS customers
FROM {db}.segment_changes
WHERE dimension = 'lifecycle_stage' AND (as_of, run_id) IN (SELECT as_of, publish_run FROM {db}.published_runs)
GROUP BY as_of, previous_as_of, from_stage, to_stage
-- The views' columns (the table reference reads these lines; a column named
-- like a table's means what it does there):
-- lifecycle_flows.from_stage: the lifecycle stage on the previous published date ((new): a customer without one)
-- lifecycle_flows.to_stage: the lifecycle stage on the date
-- rfm_grid.r: the RFM recency score (1-5)
-- rfm_grid.fm: the frequency and monetary scores together, ⌈(F + M) / 2⌉ (1-5)
-- rfm_grid.segment: the RFM segment of the cell
-- segment_trend.previous_size: the segment's members on its previous published date (0: none)
-- segment_trend.previous_revenue_share: its share of the buyers' 12-month revenue on that date
-- vip_pipeline.mean_p_alive: the mean P(alive) of the tier's customers
