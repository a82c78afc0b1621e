-- The preferred hour and weekday are on the wall clock of the configured
-- time_zone (they were UTC), and so are the scores' and members' best hour and
-- weekday: the comments say so.
ALTER TABLE {db}.customer_features
    COMMENT COLUMN preferred_hour 'hour of the day (0-23, in the configured time_zone) with the most orders, site events and campaign opens and clicks before as_of; the earliest on ties',
    COMMENT COLUMN preferred_weekday 'day of the week (1 Monday - 7 Sunday, in the configured time_zone) with the most orders, site events and campaign opens and clicks before as_of; the earliest on ties'
;
ALTER TABLE {db}.customer_features_staging
    COMMENT COLUMN preferred_hour 'hour of the day (0-23, in the configured time_zone) with the most orders, site events and campaign opens and clicks before as_of; the earliest on ties',
    COMMENT COLUMN preferred_weekday 'day of the week (1 Monday - 7 Sunday, in the configured time_zone) with the most orders, site events and campaign opens and clicks before as_of; the earliest on ties'
;
ALTER TABLE {db}.customer_scores
    COMMENT COLUMN best_hour 'hour of day (0-23, in the configured time_zone) with the most activity; NULL for non-buyers',
    COMMENT COLUMN best_weekday 'day of week (1 Monday - 7 Sunday, in the configured time_zone) with the most activity; NULL for non-buyers'
;
ALTER TABLE {db}.customer_scores_staging
    COMMENT COLUMN best_hour 'hour of day (0-23, in the configured time_zone) with the most activity; NULL for non-buyers',
    COMMENT COLUMN best_weekday 'day of week (1 Monday - 7 Sunday, in the configured time_zone) with the most activity; NULL for non-buyers'
;
ALTER TABLE {db}.segment_members
    COMMENT COLUMN best_hour 'hour of day (0-23, in the configured time_zone) to send at: the one with the most activity',
    COMMENT COLUMN best_weekday 'day of week (1 Monday - 7 Sunday, in the configured time_zone) to send on'
;
ALTER TABLE {db}.segment_members_staging
    COMMENT COLUMN best_hour 'hour of day (0-23, in the configured time_zone) to send at: the one with the most activity',
    COMMENT COLUMN best_weekday 'day of week (1 Monday - 7 Sunday, in the configured time_zone) to send on'
