-- Each buyer's products, computed by features from the order lines it reads
-- anyway, so that score reads no order line (it built the baskets from every
-- line again: a third of its time and half the marks it read).
ALTER TABLE {db}.customer_features
    ADD COLUMN basket String AFTER last_gap_days
;
ALTER TABLE {db}.customer_features
    COMMENT COLUMN basket 'the different products bought in the orders, their ids sorted and joined by the control character 0x1F (splitByChar(''\\x1F'', basket)); empty without lines'
;
ALTER TABLE {db}.customer_features_staging
    ADD COLUMN basket String AFTER last_gap_days
;
ALTER TABLE {db}.customer_features_staging
    COMMENT COLUMN basket 'the different products bought in the orders, their ids sorted and joined by the control character 0x1F (splitByChar(''\\x1F'', basket)); empty without lines'
;
