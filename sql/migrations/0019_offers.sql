-- Each customer's recommended offer: none or a step of the configured
-- discount ladder, picked by the offer rules (segmentation.offers; README:
-- Offers), in the scores and beside best hour and channel in the members.
-- ClickHouse 18.16 drops the COMMENT of ADD COLUMN: COMMENT COLUMN sets it.
ALTER TABLE {db}.customer_scores
    ADD COLUMN offer String AFTER discount_sensitivity,
    ADD COLUMN offer_discount Float64 AFTER offer
;
ALTER TABLE {db}.customer_scores_staging
    ADD COLUMN offer String AFTER discount_sensitivity,
    ADD COLUMN offer_discount Float64 AFTER offer
;
ALTER TABLE {db}.segment_members
    ADD COLUMN offer String AFTER discount_sensitivity,
    ADD COLUMN offer_discount Float64 AFTER offer
;
ALTER TABLE {db}.segment_members_staging
    ADD COLUMN offer String AFTER discount_sensitivity,
    ADD COLUMN offer_discount Float64 AFTER offer
;
ALTER TABLE {db}.customer_scores
    COMMENT COLUMN offer 'recommended offer: none, or the discount of a step of the configured ladder (e.g. 10%), from the offer rules',
    COMMENT COLUMN offer_discount 'the recommended discount as a fraction; 0 for none'
;
ALTER TABLE {db}.customer_scores_staging
    COMMENT COLUMN offer 'recommended offer: none, or the discount of a step of the configured ladder (e.g. 10%), from the offer rules',
    COMMENT COLUMN offer_discount 'the recommended discount as a fraction; 0 for none'
;
ALTER TABLE {db}.segment_members
    COMMENT COLUMN offer 'customer_scores.offer: none, or the recommended discount',
    COMMENT COLUMN offer_discount 'customer_scores.offer_discount'
;
ALTER TABLE {db}.segment_members_staging
    COMMENT COLUMN offer 'customer_scores.offer: none, or the recommended discount',
    COMMENT COLUMN offer_discount 'customer_scores.offer_discount'
