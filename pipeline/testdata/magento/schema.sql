-- The Magento 2 (Open Source) tables and columns Tessera's magento2 preset
-- reads, with Magento's own names and types; other columns are left out.
CREATE TABLE eav_entity_type (entity_type_id smallint unsigned PRIMARY KEY, entity_type_code varchar(50) NOT NULL);
CREATE TABLE eav_attribute (attribute_id smallint unsigned PRIMARY KEY, entity_type_id smallint unsigned NOT NULL,
  attribute_code varchar(255) NOT NULL, backend_type varchar(8) NOT NULL DEFAULT 'static');
CREATE TABLE eav_attribute_option_value (value_id int unsigned PRIMARY KEY, option_id int unsigned NOT NULL,
  store_id smallint unsigned NOT NULL DEFAULT 0, value varchar(255));
CREATE TABLE catalog_product_entity (entity_id int unsigned PRIMARY KEY, attribute_set_id smallint unsigned NOT NULL DEFAULT 4,
  type_id varchar(32) NOT NULL DEFAULT 'simple', sku varchar(64) NOT NULL, has_options smallint NOT NULL DEFAULT 0,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE catalog_product_entity_varchar (value_id int PRIMARY KEY AUTO_INCREMENT, attribute_id smallint unsigned NOT NULL,
  store_id smallint unsigned NOT NULL DEFAULT 0, entity_id int unsigned NOT NULL, value varchar(255));
CREATE TABLE catalog_product_entity_decimal (value_id int PRIMARY KEY AUTO_INCREMENT, attribute_id smallint unsigned NOT NULL,
  store_id smallint unsigned NOT NULL DEFAULT 0, entity_id int unsigned NOT NULL, value decimal(20,6));
CREATE TABLE catalog_product_entity_int (value_id int PRIMARY KEY AUTO_INCREMENT, attribute_id smallint unsigned NOT NULL,
  store_id smallint unsigned NOT NULL DEFAULT 0, entity_id int unsigned NOT NULL, value int unsigned);
CREATE TABLE catalog_product_super_link (link_id int unsigned PRIMARY KEY AUTO_INCREMENT, product_id int unsigned NOT NULL,
  parent_id int unsigned NOT NULL);
CREATE TABLE catalog_category_entity (entity_id int unsigned PRIMARY KEY, attribute_set_id smallint unsigned NOT NULL DEFAULT 3,
  parent_id int unsigned NOT NULL DEFAULT 0, path varchar(255) NOT NULL, position int NOT NULL DEFAULT 0,
  level int NOT NULL DEFAULT 0, children_count int NOT NULL DEFAULT 0);
CREATE TABLE catalog_category_entity_varchar (value_id int PRIMARY KEY AUTO_INCREMENT, attribute_id smallint unsigned NOT NULL,
  store_id smallint unsigned NOT NULL DEFAULT 0, entity_id int unsigned NOT NULL, value varchar(255));
CREATE TABLE catalog_category_product (entity_id int PRIMARY KEY AUTO_INCREMENT, category_id int unsigned NOT NULL,
  product_id int unsigned NOT NULL, position int NOT NULL DEFAULT 0);
CREATE TABLE customer_entity (entity_id int unsigned PRIMARY KEY, website_id smallint unsigned DEFAULT 1,
  email varchar(255), group_id smallint unsigned NOT NULL DEFAULT 1, store_id smallint unsigned DEFAULT 1,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  is_active smallint unsigned NOT NULL DEFAULT 1, firstname varchar(255), lastname varchar(255),
  default_billing int unsigned, default_shipping int unsigned);
CREATE TABLE customer_address_entity (entity_id int unsigned PRIMARY KEY, parent_id int unsigned,
  city varchar(255) NOT NULL, country_id varchar(255) NOT NULL, postcode varchar(255), street text NOT NULL);
CREATE TABLE newsletter_subscriber (subscriber_id int unsigned PRIMARY KEY, store_id smallint unsigned DEFAULT 1,
  customer_id int unsigned NOT NULL DEFAULT 0, subscriber_email varchar(150), subscriber_status int NOT NULL DEFAULT 0);
CREATE TABLE sales_order (entity_id int unsigned PRIMARY KEY, state varchar(32), status varchar(32),
  coupon_code varchar(255), store_id smallint unsigned, customer_id int unsigned, customer_email varchar(128),
  customer_is_guest smallint unsigned, increment_id varchar(32), order_currency_code varchar(255),
  base_currency_code varchar(3), subtotal decimal(20,4), discount_amount decimal(20,4), shipping_amount decimal(20,4),
  tax_amount decimal(20,4), grand_total decimal(20,4), total_refunded decimal(20,4), total_qty_ordered decimal(12,4),
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE sales_order_item (item_id int unsigned PRIMARY KEY, order_id int unsigned NOT NULL,
  parent_item_id int unsigned, store_id smallint unsigned, product_id int unsigned, product_type varchar(255),
  sku varchar(255), name varchar(255), qty_ordered decimal(12,4) DEFAULT 0, qty_refunded decimal(12,4) DEFAULT 0,
  qty_canceled decimal(12,4) DEFAULT 0, price decimal(20,4) NOT NULL DEFAULT 0, discount_amount decimal(20,4) DEFAULT 0,
  row_total decimal(20,4) NOT NULL DEFAULT 0,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
