-- Lineage: which Tessera made each run, and which runs one command made
-- (the stages of one `tessera run` share an invocation id). ClickHouse 18.16
-- drops the COMMENT of ADD COLUMN: COMMENT COLUMN sets it.
ALTER TABLE {db}.runs ADD COLUMN tessera_version String
;
ALTER TABLE {db}.runs ADD COLUMN invocation_id String
;
ALTER TABLE {db}.runs
    COMMENT COLUMN tessera_version 'the version of Tessera that made the run',
    COMMENT COLUMN invocation_id 'the command the run was part of: the stages of one tessera run share it'
