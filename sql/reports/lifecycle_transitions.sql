-- Lifecycle transition matrix between two published dates: customers by stage
-- at {from} (rows) and at {to} (columns); '(none)' for customers not scored at
-- {from} (registered since). Replace {db}, {from} and {to}. The subqueries
-- have aliases: current ClickHouse requires them in a JOIN (Code 206).
SELECT if(from_stage = '', '(none)', from_stage) AS from_lifecycle,
    countIf(to_stage = 'non_buyer') AS non_buyer, countIf(to_stage = 'new') AS new, countIf(to_stage = 'active') AS active,
    countIf(to_stage = 'at_risk') AS at_risk, countIf(to_stage = 'lost') AS lost, countIf(to_stage = 'reactivated') AS reactivated
FROM (
    SELECT customer_id, lifecycle_stage AS to_stage FROM {db}.customer_scores WHERE as_of = toDate('{to}')
) AS to_scores ANY LEFT JOIN (
    SELECT customer_id, lifecycle_stage AS from_stage FROM {db}.customer_scores WHERE as_of = toDate('{from}')
) AS from_scores USING customer_id
GROUP BY from_lifecycle ORDER BY from_lifecycle
