-- Magento 2 products as canonical products (MySQL/MariaDB); {p} is the table prefix.
SELECT CAST(e.entity_id AS CHAR) AS product_id, e.sku AS sku, n.value AS name,
  (SELECT CONCAT_WS('/', IF(c.level >= 3, pn.value, NULL), cn.value)
   FROM {p}catalog_category_product ccp
   JOIN {p}catalog_category_entity c ON c.entity_id = ccp.category_id
   LEFT JOIN {p}catalog_category_entity_varchar cn ON cn.entity_id = c.entity_id AND cn.store_id = 0
        AND cn.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'name'
            AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_category'))
   LEFT JOIN {p}catalog_category_entity_varchar pn ON pn.entity_id = c.parent_id AND pn.store_id = 0
        AND pn.attribute_id = cn.attribute_id
   WHERE ccp.product_id = e.entity_id
   ORDER BY c.level DESC, c.entity_id LIMIT 1) AS category,
  bo.value AS brand, pr.value AS list_price, e.updated_at AS _updated_at
FROM {p}catalog_product_entity e
LEFT JOIN {p}catalog_product_entity_varchar n ON n.entity_id = e.entity_id AND n.store_id = 0
     AND n.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'name'
         AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_product'))
LEFT JOIN {p}catalog_product_entity_decimal pr ON pr.entity_id = e.entity_id AND pr.store_id = 0
     AND pr.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'price'
         AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_product'))
LEFT JOIN {p}catalog_product_entity_int b ON b.entity_id = e.entity_id AND b.store_id = 0
     AND b.attribute_id = (SELECT attribute_id FROM {p}eav_attribute WHERE attribute_code = 'manufacturer'
         AND entity_type_id = (SELECT entity_type_id FROM {p}eav_entity_type WHERE entity_type_code = 'catalog_product'))
LEFT JOIN {p}eav_attribute_option_value bo ON bo.option_id = b.value AND bo.store_id = 0
ORDER BY e.entity_id
