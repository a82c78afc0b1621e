-- The run lock without Kubernetes: claims on a stage (or score shard) and
-- as-of date. A claimant that finds no other held claim and its own first
-- (by the server's clock, then by token) marks its claim held, and holds the
-- name if its claim is still the first held one; renewals and the release
-- are newer versions of a claim.
CREATE TABLE IF NOT EXISTS {db}.locks (
    name String COMMENT 'what is locked: a stage (or score shard) and an as-of date, e.g. score-20261101',
    token String COMMENT 'one acquisition: a holder that lost its claim cannot renew it under another',
    holder String COMMENT 'who claims it: the pod, or host, process and command',
    claimed_at DateTime COMMENT 'when the claim was made, by the server clock, UTC',
    expires_at DateTime COMMENT 'the claim lapses unless renewed by then, UTC; 1970-01-01 once released',
    held UInt8 COMMENT '1 once the claimant found its claim first and took the name',
    version UInt64 COMMENT 'renewals and the release replace the claim: the largest version wins'
) ENGINE = ReplacingMergeTree(version) ORDER BY (name, token)
