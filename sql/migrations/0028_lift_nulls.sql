-- Nothing measured is NULL, not 0: a segment too small to tell, or whose
-- window the extracts have not read to its end, has no difference. The arms
-- are the members held out all through the window and those never held out
-- (a control group replaced inside the window is in neither).
-- lift_by_label counts windows that do not overlap, and lifts that survive
-- the date's false-discovery control.
ALTER TABLE {db}.segment_lift MODIFY COLUMN treated_conversion Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN control_conversion Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN conversion_diff Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN treated_orders_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN control_orders_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN orders_diff Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN treated_revenue_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN control_revenue_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift MODIFY COLUMN revenue_diff Nullable(Float64)
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN treated_conversion 'treated_buyers / treated; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN control_conversion 'control_buyers / control; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN conversion_diff 'treated_conversion - control_conversion; NULL when not measured (too small to tell, window not over)'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN treated_orders_per_member 'orders in the window per treated member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN control_orders_per_member 'orders in the window per control member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN orders_diff 'treated_orders_per_member - control_orders_per_member; NULL when not measured'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN treated_revenue_per_member 'net revenue in the window per treated member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN control_revenue_per_member 'net revenue in the window per control member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN revenue_diff 'treated_revenue_per_member - control_revenue_per_member; NULL when not measured'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN treated 'members never held out in the window (not in the control group on any of its days)'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN control 'members held out every day of the window'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN treated_buyers 'treated members who ordered (not cancelled) in the window'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN control_buyers 'control members who ordered (not cancelled) in the window'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN conversion_diff_low '95% interval of conversion_diff, low end (Agresti and Caffo); NULL when not measured'
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN treated_conversion Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN control_conversion Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN conversion_diff Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN treated_orders_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN control_orders_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN orders_diff Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN treated_revenue_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN control_revenue_per_member Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging MODIFY COLUMN revenue_diff Nullable(Float64)
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN treated_conversion 'treated_buyers / treated; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN control_conversion 'control_buyers / control; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN conversion_diff 'treated_conversion - control_conversion; NULL when not measured (too small to tell, window not over)'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN treated_orders_per_member 'orders in the window per treated member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN control_orders_per_member 'orders in the window per control member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN orders_diff 'treated_orders_per_member - control_orders_per_member; NULL when not measured'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN treated_revenue_per_member 'net revenue in the window per treated member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN control_revenue_per_member 'net revenue in the window per control member; NULL when the arm is empty or the window not over'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN revenue_diff 'treated_revenue_per_member - control_revenue_per_member; NULL when not measured'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN treated 'members never held out in the window (not in the control group on any of its days)'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN control 'members held out every day of the window'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN treated_buyers 'treated members who ordered (not cancelled) in the window'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN control_buyers 'control members who ordered (not cancelled) in the window'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN conversion_diff_low '95% interval of conversion_diff, low end (Agresti and Caffo); NULL when not measured'
;
DROP TABLE IF EXISTS {db}.lift_by_label
;
CREATE VIEW IF NOT EXISTS {db}.lift_by_label AS
SELECT label, count() AS dates,
    uniqExact(intDiv(toUInt32(as_of), window_days)) AS windows,
    uniqExactIf(intDiv(toUInt32(as_of), window_days), verdict = 'lift' AND conversion_q_value < 0.05) AS windows_with_lift,
    uniqExactIf(intDiv(toUInt32(as_of), window_days), verdict = 'negative' AND conversion_q_value < 0.05) AS windows_negative,
    countIf(verdict IN ('too small to tell', 'window not over')) AS dates_unmeasured,
    avgIf(conversion_diff, conversion_diff IS NOT NULL) AS mean_conversion_diff,
    avgIf(revenue_diff, revenue_diff IS NOT NULL) AS mean_revenue_diff,
    min(as_of) AS first_as_of, max(as_of) AS last_as_of
FROM {db}.segment_lift
GROUP BY label
-- lift_by_label.dates: the measured dates of segments with the label (nightly dates' windows overlap)
-- lift_by_label.windows: the windows of window_days from 1970-01-01 those dates fall in: dates of one window share most of their days, so count them once
-- lift_by_label.windows_with_lift: windows with a date whose verdict was lift and whose q-value (conversion_q_value) is below 0.05
-- lift_by_label.windows_negative: windows with a date whose verdict was negative and whose q-value is below 0.05
-- lift_by_label.dates_unmeasured: dates too small to tell, or whose window was not over
-- lift_by_label.mean_conversion_diff: the mean conversion difference (treated − control) of the measured dates
-- lift_by_label.mean_revenue_diff: the mean revenue difference per member of the measured dates
-- lift_by_label.first_as_of: the first measured date
-- lift_by_label.last_as_of: the last measured date
;
