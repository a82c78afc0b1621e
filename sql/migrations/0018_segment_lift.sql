-- What each published segment's campaign did: its treated members against
-- the control group held out of it (segment_members.control_group), over a
-- window after the date (tessera lift --as-of DATE; README: Measured lift).
-- A re-run of a date replaces its partition.
CREATE TABLE IF NOT EXISTS {db}.segment_lift (
    as_of Date COMMENT 'the published date whose segments and control groups are measured',
    run_id String COMMENT 'the lift run that measured it',
    segment_id String COMMENT 'segments.segment_id',
    label String COMMENT 'segments.label',
    window_days Int32 COMMENT 'the outcome is counted over the days from as_of to as_of + window_days',
    treated Int32 COMMENT 'members not in the control group',
    control Int32 COMMENT 'members in the control group',
    treated_buyers Int32 COMMENT 'treated members who ordered (or converted on a campaign message) in the window',
    control_buyers Int32 COMMENT 'control members who ordered (or converted) in the window',
    treated_conversion Float64 COMMENT 'treated_buyers / treated',
    control_conversion Float64 COMMENT 'control_buyers / control',
    conversion_diff Float64 COMMENT 'treated_conversion - control_conversion',
    conversion_diff_low Nullable(Float64) COMMENT '95% interval of conversion_diff, low end (unpooled two-proportion); NULL when too small to tell',
    conversion_diff_high Nullable(Float64) COMMENT '95% interval of conversion_diff, high end',
    conversion_p_value Nullable(Float64) COMMENT 'two-sided p-value of the pooled two-proportion z-test',
    treated_orders_per_member Float64 COMMENT 'orders in the window per treated member',
    control_orders_per_member Float64 COMMENT 'orders in the window per control member',
    treated_revenue_per_member Float64 COMMENT 'net revenue in the window per treated member',
    control_revenue_per_member Float64 COMMENT 'net revenue in the window per control member',
    revenue_diff Float64 COMMENT 'treated_revenue_per_member - control_revenue_per_member',
    revenue_diff_low Nullable(Float64) COMMENT '95% interval of revenue_diff, low end (Welch)',
    revenue_diff_high Nullable(Float64) COMMENT '95% interval of revenue_diff, high end',
    revenue_relative Nullable(Float64) COMMENT 'revenue_diff / control_revenue_per_member; NULL when the control spent nothing',
    mde_conversion Nullable(Float64) COMMENT 'the smallest absolute conversion difference this segment could detect with 80% power at 5% (two-sided)',
    verdict String COMMENT 'lift, negative, no detectable effect, too small to tell (an arm under 20 members or nobody converted), window not over'
) ENGINE = MergeTree PARTITION BY as_of ORDER BY (as_of, segment_id)
;
CREATE TABLE IF NOT EXISTS {db}.segment_lift_staging AS {db}.segment_lift
;
-- Each segment label across measured dates: how often its campaign showed a
-- lift, and the mean measured differences.
CREATE VIEW IF NOT EXISTS {db}.lift_by_label AS
SELECT label, count() AS periods,
    countIf(verdict = 'lift') AS periods_with_lift,
    countIf(verdict = 'negative') AS periods_negative,
    countIf(verdict IN ('too small to tell', 'window not over')) AS periods_unmeasured,
    avgIf(conversion_diff, verdict NOT IN ('too small to tell', 'window not over')) AS mean_conversion_diff,
    avgIf(revenue_diff, verdict NOT IN ('too small to tell', 'window not over')) AS mean_revenue_diff,
    min(as_of) AS first_as_of, max(as_of) AS last_as_of
FROM {db}.segment_lift
GROUP BY label
-- lift_by_label.periods: the measured dates of segments with the label
-- lift_by_label.periods_with_lift: those whose verdict was lift
-- lift_by_label.periods_negative: those whose verdict was negative
-- lift_by_label.periods_unmeasured: those too small to tell, or whose window was not over
-- lift_by_label.mean_conversion_diff: the mean conversion difference (treated − control) of the measured dates
-- lift_by_label.mean_revenue_diff: the mean revenue difference per member of the measured dates
-- lift_by_label.first_as_of: the first measured date
-- lift_by_label.last_as_of: the last measured date
