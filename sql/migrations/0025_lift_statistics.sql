-- The lift's p-value is now of Agresti and Caffo's statistic (the verdict's),
-- its revenue interval a t interval on the arms' pooled variance.
ALTER TABLE {db}.segment_lift COMMENT COLUMN conversion_p_value 'two-sided p-value of Agresti and Caffo''s statistic, the one the verdict reads: p < 0.05 exactly when the verdict is lift or negative'
;
ALTER TABLE {db}.segment_lift COMMENT COLUMN revenue_diff_low '95% interval of revenue_diff, low end (t on the arms'' pooled variance); NULL when the control could hold fewer than one buyer'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN conversion_p_value 'two-sided p-value of Agresti and Caffo''s statistic, the one the verdict reads: p < 0.05 exactly when the verdict is lift or negative'
;
ALTER TABLE {db}.segment_lift_staging COMMENT COLUMN revenue_diff_low '95% interval of revenue_diff, low end (t on the arms'' pooled variance); NULL when the control could hold fewer than one buyer'
;
