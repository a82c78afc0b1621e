-- Since publish is sharded (0022) each shard stamps its segment_changes rows
-- with the score run's id, and the publication names that run.
ALTER TABLE {db}.publications
    COMMENT COLUMN publish_run 'the run whose segment_changes rows the date holds: the publish run for dates published before migration 0022, the score run since'
