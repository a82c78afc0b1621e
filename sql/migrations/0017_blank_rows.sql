-- Wholly blank records (",,,," padding an export) are skipped and counted, not
-- rejected one by one; lines of an order that was itself rejected are
-- parent_rejected, told apart from orphans (unknown_order). ClickHouse 18.16
-- drops the COMMENT of ADD COLUMN: COMMENT COLUMN sets it.
ALTER TABLE {db}.runs ADD COLUMN rows_blank UInt64
;
ALTER TABLE {db}.runs
    COMMENT COLUMN rows_blank 'wholly blank records skipped by extract; rows_read = rows_landed + rows_rejected + rows_blank (detail has them per entity)',
    COMMENT COLUMN rows_rejected 'rows sent to rejected_rows'
