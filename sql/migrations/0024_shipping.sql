-- Shipping: what a customer was charged for delivery, for an order and for a
-- line (a marketplace's freight), optional in every source.
ALTER TABLE {db}.raw_orders ADD COLUMN shipping_amount Float64 AFTER updated_at
;
ALTER TABLE {db}.raw_orders COMMENT COLUMN shipping_amount 'what the customer was charged for delivery, apart from gross_amount; 0 when the source does not say'
;
ALTER TABLE {db}.raw_order_lines ADD COLUMN shipping Float64 AFTER returned_quantity
;
ALTER TABLE {db}.raw_order_lines COMMENT COLUMN shipping 'delivery charged for the line (a marketplace''s freight); 0 when the source does not say'
;
