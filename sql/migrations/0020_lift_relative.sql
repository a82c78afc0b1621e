-- The lift's differences in conversion and orders, relative and absolute, as
-- the revenue's are. ClickHouse 18.16 drops the COMMENT of ADD COLUMN:
-- COMMENT COLUMN sets it.
ALTER TABLE {db}.segment_lift
    ADD COLUMN conversion_relative Nullable(Float64) AFTER conversion_p_value,
    ADD COLUMN orders_diff Float64 AFTER control_orders_per_member
;
ALTER TABLE {db}.segment_lift_staging
    ADD COLUMN conversion_relative Nullable(Float64) AFTER conversion_p_value,
    ADD COLUMN orders_diff Float64 AFTER control_orders_per_member
;
ALTER TABLE {db}.segment_lift
    COMMENT COLUMN conversion_relative 'conversion_diff / control_conversion; NULL when no control member bought',
    COMMENT COLUMN orders_diff 'treated_orders_per_member - control_orders_per_member'
;
ALTER TABLE {db}.segment_lift_staging
    COMMENT COLUMN conversion_relative 'conversion_diff / control_conversion; NULL when no control member bought',
    COMMENT COLUMN orders_diff 'treated_orders_per_member - control_orders_per_member'
