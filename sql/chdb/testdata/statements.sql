-- Every statement Tessera's warehouse code sends to ClickHouse, recorded on
-- 18.16 by pipeline.TestStatementsSent (-update-statements rewrites it), with
-- the arguments of one sending; sql/chdb runs each on a current release.
;
-- args: []
ALTER TABLE {db}.customer_features REPLACE PARTITION '2026-10-01' FROM {db}.customer_features_staging
;
-- args: []
ALTER TABLE {db}.customer_features_staging ATTACH PARTITION '2026-10-01' FROM {db}.customer_features_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
ALTER TABLE {db}.customer_features_staging ATTACH PARTITION '2026-10-01' FROM {db}.customer_features_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
ALTER TABLE {db}.customer_features_staging DROP PARTITION '2026-10-01'
;
-- args: []
ALTER TABLE {db}.customer_scores REPLACE PARTITION '2026-10-01' FROM {db}.customer_scores_staging
;
-- args: []
ALTER TABLE {db}.customer_scores_staging ATTACH PARTITION '2026-10-01' FROM {db}.customer_scores_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
ALTER TABLE {db}.customer_scores_staging ATTACH PARTITION '2026-10-01' FROM {db}.customer_scores_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
ALTER TABLE {db}.customer_scores_staging ATTACH PARTITION '2026-10-01' FROM {db}.customer_scores_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
ALTER TABLE {db}.customer_scores_staging DROP PARTITION '2026-10-01'
;
-- args: []
ALTER TABLE {db}.part_text_lengths DELETE WHERE startsWith(part, 'customer_profiles_part_') AND saved_at < now() - 86400
;
-- args: []
ALTER TABLE {db}.segment_changes REPLACE PARTITION '2026-10-01' FROM {db}.segment_changes_staging
;
-- args: []
ALTER TABLE {db}.segment_changes_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_changes_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
ALTER TABLE {db}.segment_changes_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_changes_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
ALTER TABLE {db}.segment_changes_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_changes_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
ALTER TABLE {db}.segment_changes_staging DROP PARTITION '2026-10-01'
;
-- args: []
ALTER TABLE {db}.segment_feed REPLACE PARTITION '2026-10-01' FROM {db}.segment_feed_staging
;
-- args: []
ALTER TABLE {db}.segment_feed_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_feed_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
ALTER TABLE {db}.segment_feed_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
ALTER TABLE {db}.segment_feed_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
ALTER TABLE {db}.segment_feed_staging DROP PARTITION '2026-10-01'
;
-- args: []
ALTER TABLE {db}.segment_lift REPLACE PARTITION '2026-10-01' FROM {db}.segment_lift_staging
;
-- args: []
ALTER TABLE {db}.segment_lift_staging DROP PARTITION '2026-10-01'
;
-- args: []
ALTER TABLE {db}.segment_members REPLACE PARTITION '2026-10-01' FROM {db}.segment_members_staging
;
-- args: []
ALTER TABLE {db}.segment_members_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_members_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
ALTER TABLE {db}.segment_members_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_members_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
ALTER TABLE {db}.segment_members_staging ATTACH PARTITION '2026-10-01' FROM {db}.segment_members_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
ALTER TABLE {db}.segment_members_staging DROP PARTITION '2026-10-01'
;
-- args: []
ALTER TABLE {db}.segments REPLACE PARTITION '2026-10-01' FROM {db}.segments_staging
;
-- args: []
ALTER TABLE {db}.segments_staging DROP PARTITION '2026-10-01'
;
-- args: []
CREATE TABLE {db}.customer_features_part_20261008_e78c7123eac78461_0_of_2_tmp AS {db}.customer_features_staging
;
-- args: []
CREATE TABLE {db}.customer_features_part_20261008_e78c7123eac78461_1_of_2_tmp AS {db}.customer_features_staging
;
-- args: []
CREATE TABLE {db}.customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1_tmp AS {db}.customer_plan_staging
;
-- args: []
CREATE TABLE {db}.customer_plan_part_20261008_e78c7123eac78461_0_of_2_tmp AS {db}.customer_plan_staging
;
-- args: []
CREATE TABLE {db}.customer_plan_part_20261008_e78c7123eac78461_1_of_2_tmp AS {db}.customer_plan_staging
;
-- args: []
CREATE TABLE {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1_tmp AS {db}.customer_profiles_staging
;
-- args: []
CREATE TABLE {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2_tmp AS {db}.customer_profiles_staging
;
-- args: []
CREATE TABLE {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2_tmp AS {db}.customer_profiles_staging
;
-- args: []
CREATE TABLE {db}.customer_scores_part_20261001_9ae16a3b2f90404f_0_of_1_tmp AS {db}.customer_scores_staging
;
-- args: []
CREATE TABLE {db}.customer_scores_part_20261008_e78c7123eac78461_0_of_2_tmp AS {db}.customer_scores_staging
;
-- args: []
CREATE TABLE {db}.customer_scores_part_20261008_e78c7123eac78461_1_of_2_tmp AS {db}.customer_scores_staging
;
-- args: []
CREATE TABLE {db}.segment_changes_part_20261001_9ae16a3b2f90404f_0_of_1_tmp AS {db}.segment_changes_staging
;
-- args: []
CREATE TABLE {db}.segment_changes_part_20261008_e78c7123eac78461_0_of_2_tmp AS {db}.segment_changes_staging
;
-- args: []
CREATE TABLE {db}.segment_changes_part_20261008_e78c7123eac78461_1_of_2_tmp AS {db}.segment_changes_staging
;
-- args: []
CREATE TABLE {db}.segment_feed_part_20261001_9ae16a3b2f90404f_0_of_1_tmp AS {db}.segment_feed_staging
;
-- args: []
CREATE TABLE {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2_tmp AS {db}.segment_feed_staging
;
-- args: []
CREATE TABLE {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2_tmp AS {db}.segment_feed_staging
;
-- args: []
CREATE TABLE {db}.segment_members_part_20261001_9ae16a3b2f90404f_0_of_1_tmp AS {db}.segment_members_staging
;
-- args: []
CREATE TABLE {db}.segment_members_part_20261008_e78c7123eac78461_0_of_2_tmp AS {db}.segment_members_staging
;
-- args: []
CREATE TABLE {db}.segment_members_part_20261008_e78c7123eac78461_1_of_2_tmp AS {db}.segment_members_staging
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_features_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_features_part_20261008_e78c7123eac78461_0_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_features_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_features_part_20261008_e78c7123eac78461_1_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_plan_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_plan_part_20261008_e78c7123eac78461_0_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_plan_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_plan_part_20261008_e78c7123eac78461_1_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_scores_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_scores_part_20261001_9ae16a3b2f90404f_0_of_1_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_scores_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_scores_part_20261008_e78c7123eac78461_0_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_scores_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.customer_scores_part_20261008_e78c7123eac78461_1_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_changes_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_changes_part_20261001_9ae16a3b2f90404f_0_of_1_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_changes_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_changes_part_20261008_e78c7123eac78461_0_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_changes_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_changes_part_20261008_e78c7123eac78461_1_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_feed_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_feed_part_20261001_9ae16a3b2f90404f_0_of_1_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_members_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_members_part_20261001_9ae16a3b2f90404f_0_of_1_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_members_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_members_part_20261008_e78c7123eac78461_0_of_2_tmp
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_members_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
DROP TABLE IF EXISTS {db}.segment_members_part_20261008_e78c7123eac78461_1_of_2_tmp
;
-- args: []
INSERT INTO {db}.category_medians (as_of, job, top_category, median_price, run_id, computed_at) VALUES
;
-- args: []
INSERT INTO {db}.category_prices (as_of, job, shard, run_id, top_category, unit_prices, lines, computed_at) VALUES
;
-- args: []
INSERT INTO {db}.customer_features_part_20261008_e78c7123eac78461_0_of_2_tmp (as_of, run_id, customer_id, orders, cancelled_orders, revenue, avg_check, items_per_order, return_rate, cancel_rate, discount_share, discount_depth, rating_mean, first_order_date, last_order_date, days_since_first, days_since_last, interorder_mean_days, interorder_std_days, product_views_30d, category_views_30d, searches_30d, cart_adds_30d, cart_removes_30d, favorites_30d, product_views_90d, category_views_90d, searches_90d, cart_adds_90d, cart_removes_90d, favorites_90d, cart_to_order_90d, preferred_hour, preferred_weekday, first_week_orders, first_week_revenue, first_week_items, first_week_discount_share, first_week_rating_mean, first_week_events, first_week_categories, email_open_rate, email_click_rate, push_open_rate, push_click_rate, sms_click_rate, preferred_channel, optin_email, optin_sms, optin_push, distinct_products, distinct_categories, price_level, top_category, top_category_share, second_category, second_category_share, top_brand, top_brand_share, revenue_12m, last_gap_days, basket) VALUES
;
-- args: []
INSERT INTO {db}.customer_features_part_20261008_e78c7123eac78461_1_of_2_tmp (as_of, run_id, customer_id, orders, cancelled_orders, revenue, avg_check, items_per_order, return_rate, cancel_rate, discount_share, discount_depth, rating_mean, first_order_date, last_order_date, days_since_first, days_since_last, interorder_mean_days, interorder_std_days, product_views_30d, category_views_30d, searches_30d, cart_adds_30d, cart_removes_30d, favorites_30d, product_views_90d, category_views_90d, searches_90d, cart_adds_90d, cart_removes_90d, favorites_90d, cart_to_order_90d, preferred_hour, preferred_weekday, first_week_orders, first_week_revenue, first_week_items, first_week_discount_share, first_week_rating_mean, first_week_events, first_week_categories, email_open_rate, email_click_rate, push_open_rate, push_click_rate, sms_click_rate, preferred_channel, optin_email, optin_sms, optin_push, distinct_products, distinct_categories, price_level, top_category, top_category_share, second_category, second_category_share, top_brand, top_brand_share, revenue_12m, last_gap_days, basket) VALUES
;
-- args: []
INSERT INTO {db}.customer_features_staging (as_of, run_id, customer_id, orders, cancelled_orders, revenue, avg_check, items_per_order, return_rate, cancel_rate, discount_share, discount_depth, rating_mean, first_order_date, last_order_date, days_since_first, days_since_last, interorder_mean_days, interorder_std_days, product_views_30d, category_views_30d, searches_30d, cart_adds_30d, cart_removes_30d, favorites_30d, product_views_90d, category_views_90d, searches_90d, cart_adds_90d, cart_removes_90d, favorites_90d, cart_to_order_90d, preferred_hour, preferred_weekday, first_week_orders, first_week_revenue, first_week_items, first_week_discount_share, first_week_rating_mean, first_week_events, first_week_categories, email_open_rate, email_click_rate, push_open_rate, push_click_rate, sms_click_rate, preferred_channel, optin_email, optin_sms, optin_push, distinct_products, distinct_categories, price_level, top_category, top_category_share, second_category, second_category_share, top_brand, top_brand_share, revenue_12m, last_gap_days, basket) VALUES
;
-- args: []
INSERT INTO {db}.customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1_tmp (as_of, run_id, customer_id, lifecycle_stage, vip_tier, value_tier, rfm_r, rfm_f, rfm_m, micro_segment, control_group) VALUES
;
-- args: []
INSERT INTO {db}.customer_plan_part_20261008_e78c7123eac78461_0_of_2_tmp (as_of, run_id, customer_id, lifecycle_stage, vip_tier, value_tier, rfm_r, rfm_f, rfm_m, micro_segment, control_group) VALUES
;
-- args: []
INSERT INTO {db}.customer_plan_part_20261008_e78c7123eac78461_1_of_2_tmp (as_of, run_id, customer_id, lifecycle_stage, vip_tier, value_tier, rfm_r, rfm_f, rfm_m, micro_segment, control_group) VALUES
;
-- args: []
INSERT INTO {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1_tmp (as_of, run_id, customer_id, model_id, buyer, orders, first_order_date, days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, potential_vip_probability, top_category, top_brand, preferred_channel, best_hour, best_weekday, discount_depth, price_level, email_click_rate, frequency, recency_days, age_days, expected_purchases_30d, expected_purchases_90d, expected_purchases_365d, expected_order_value, next_order_in_days, prediction_note, basket) VALUES
;
-- args: []
INSERT INTO {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2_tmp (as_of, run_id, customer_id, model_id, buyer, orders, first_order_date, days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, potential_vip_probability, top_category, top_brand, preferred_channel, best_hour, best_weekday, discount_depth, price_level, email_click_rate, frequency, recency_days, age_days, expected_purchases_30d, expected_purchases_90d, expected_purchases_365d, expected_order_value, next_order_in_days, prediction_note, basket) VALUES
;
-- args: []
INSERT INTO {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2_tmp (as_of, run_id, customer_id, model_id, buyer, orders, first_order_date, days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, potential_vip_probability, top_category, top_brand, preferred_channel, best_hour, best_weekday, discount_depth, price_level, email_click_rate, frequency, recency_days, age_days, expected_purchases_30d, expected_purchases_90d, expected_purchases_365d, expected_order_value, next_order_in_days, prediction_note, basket) VALUES
;
-- args: []
INSERT INTO {db}.customer_scores_part_20261001_9ae16a3b2f90404f_0_of_1_tmp (as_of, run_id, customer_id, model_id, frequency, recency_days, age_days, p_alive, expected_purchases_90d, expected_purchases_30d, expected_purchases_365d, next_order_in_days, next_order_date, expected_order_value, clv_12m, prediction_note, rfm_r, rfm_f, rfm_m, rfm_code, rfm_segment, rfm_cell, lifecycle_stage, vip_tier, vip_handling, potential_vip_probability, first_order_date, strategy, action, micro_segment, discount_sensitivity, offer, offer_discount, best_hour, best_weekday, preferred_channel, product_feed, early_vip_model_id) VALUES
;
-- args: []
INSERT INTO {db}.customer_scores_part_20261008_e78c7123eac78461_0_of_2_tmp (as_of, run_id, customer_id, model_id, frequency, recency_days, age_days, p_alive, expected_purchases_90d, expected_purchases_30d, expected_purchases_365d, next_order_in_days, next_order_date, expected_order_value, clv_12m, prediction_note, rfm_r, rfm_f, rfm_m, rfm_code, rfm_segment, rfm_cell, lifecycle_stage, vip_tier, vip_handling, potential_vip_probability, first_order_date, strategy, action, micro_segment, discount_sensitivity, offer, offer_discount, best_hour, best_weekday, preferred_channel, product_feed, early_vip_model_id) VALUES
;
-- args: []
INSERT INTO {db}.customer_scores_part_20261008_e78c7123eac78461_1_of_2_tmp (as_of, run_id, customer_id, model_id, frequency, recency_days, age_days, p_alive, expected_purchases_90d, expected_purchases_30d, expected_purchases_365d, next_order_in_days, next_order_date, expected_order_value, clv_12m, prediction_note, rfm_r, rfm_f, rfm_m, rfm_code, rfm_segment, rfm_cell, lifecycle_stage, vip_tier, vip_handling, potential_vip_probability, first_order_date, strategy, action, micro_segment, discount_sensitivity, offer, offer_discount, best_hour, best_weekday, preferred_channel, product_feed, early_vip_model_id) VALUES
;
-- args: []
INSERT INTO {db}.exports (as_of, exported_at, file, kind, segment_id, rows, sha256, previous_as_of, run_id) VALUES
;
-- args: []
INSERT INTO {db}.identities (kind, source, id, customer_id, linked_at, run_id) VALUES
;
-- args: ["extract-20261001","c789fedcdd5de45e","statements","extract-20261001","c789fedcdd5de45e",2]
INSERT INTO {db}.locks (name, token, holder, claimed_at, expires_at, held, version) SELECT ?, ?, ?, (SELECT any(claimed_at) FROM {db}.locks WHERE name = ? AND token = ? AND version = 1), now() + 60, 1, ?
;
-- args: ["extract-20261001","c789fedcdd5de45e","statements","extract-20261001","c789fedcdd5de45e",3]
INSERT INTO {db}.locks (name, token, holder, claimed_at, expires_at, held, version) SELECT ?, ?, ?, (SELECT any(claimed_at) FROM {db}.locks WHERE name = ? AND token = ? AND version = 1), toDateTime(0), 0, ?
;
-- args: ["extract-20261001","c789fedcdd5de45e","statements",1]
INSERT INTO {db}.locks (name, token, holder, claimed_at, expires_at, held, version) SELECT ?, ?, ?, toDateTime(1790812800), now() + 60, 0, ?
;
-- args: []
INSERT INTO {db}.models (model_id, as_of, kind, trained_at, customers, log_likelihood, holdout_mae, holdout_rmse, artefact, run_id, status, grade, reason) VALUES
;
-- args: []
INSERT INTO {db}.part_text_lengths (part, column, longest, saved_at) VALUES
;
-- args: []
INSERT INTO {db}.publications (as_of, score_run, publish_run, rows, published_at, version) VALUES
;
-- args: []
INSERT INTO {db}.raw_campaign_events (campaign_id, customer_id, channel, type, ts, run_id, _version) VALUES
;
-- args: []
INSERT INTO {db}.raw_customers (customer_id, email, email_hash, created_at, country, city, acquisition_source, optin_email, optin_sms, optin_push, updated_at, run_id, _version) VALUES
;
-- args: []
INSERT INTO {db}.raw_events (event_id, ts, customer_id, anonymous_id, session_id, type, product_id, category, run_id, _version) VALUES
;
-- args: []
INSERT INTO {db}.raw_order_lines (order_id, line_no, customer_hash, run_id, _version, _deleted) SELECT order_id, line_no, customer_hash, '20261001T000000Z-000000', _version, 1 FROM {db}.raw_order_lines FINAL WHERE _deleted = 0 AND (customer_hash, order_id) IN ((13251947925000174422, 'O00000002-1'))
;
-- args: []
INSERT INTO {db}.raw_order_lines (order_id, line_no, product_id, quantity, unit_price, discount, returned_quantity, shipping, customer_hash, run_id, _version, _deleted) SELECT order_id, line_no, product_id, quantity, unit_price, discount, returned_quantity, shipping, transform(order_id, ['O00000002-1'], [toUInt64(14907612921934213978)], toUInt64(0)), run_id, _version, 0 FROM {db}.raw_order_lines FINAL WHERE _deleted = 0 AND (customer_hash, order_id) IN ((13251947925000174422, 'O00000002-1'))
;
-- args: []
INSERT INTO {db}.raw_order_lines (order_id, line_no, product_id, quantity, unit_price, discount, returned_quantity, shipping, run_id, _version, customer_hash) VALUES
;
-- args: []
INSERT INTO {db}.raw_orders (order_id, customer_hash, run_id, _version, _deleted) SELECT order_id, customer_hash, '20261001T000000Z-000000', _version, 1 FROM {db}.raw_orders FINAL WHERE _deleted = 0 AND (customer_hash, order_id) IN ((13251947925000174422, 'O00000002-1'))
;
-- args: []
INSERT INTO {db}.raw_orders (order_id, customer_id, ordered_at, status, currency, gross_amount, discount_amount, net_amount, items_count, channel, promo_code, rating, updated_at, shipping_amount, run_id, _version, customer_hash) VALUES
;
-- args: []
INSERT INTO {db}.raw_products (product_id, sku, name, category, brand, list_price, run_id, _version) VALUES
;
-- args: []
INSERT INTO {db}.rejected_rows (source, entity, position, row_key, rule, detail, raw, run_id, rejected_at, _version) VALUES
;
-- args: []
INSERT INTO {db}.runs (run_id, stage, as_of, started_at, finished_at, status, rows_read, rows_landed, rows_rejected, rows_blank, message, detail, tessera_version, invocation_id) VALUES
;
-- args: []
INSERT INTO {db}.schema_migrations (name, applied_at) VALUES
;
-- args: []
INSERT INTO {db}.segment_changes_part_20261001_9ae16a3b2f90404f_0_of_1_tmp (as_of, run_id, previous_as_of, customer_id, dimension, change, from_value, to_value) VALUES
;
-- args: []
INSERT INTO {db}.segment_changes_part_20261008_e78c7123eac78461_0_of_2_tmp (as_of, run_id, previous_as_of, customer_id, dimension, change, from_value, to_value) VALUES
;
-- args: []
INSERT INTO {db}.segment_changes_part_20261008_e78c7123eac78461_1_of_2_tmp (as_of, run_id, previous_as_of, customer_id, dimension, change, from_value, to_value) VALUES
;
-- args: []
INSERT INTO {db}.segment_feed_part_20261001_9ae16a3b2f90404f_0_of_1_tmp (as_of, run_id, segment_id, rank, product_id, buyers, lift) VALUES
;
-- args: []
INSERT INTO {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2_tmp (as_of, run_id, segment_id, rank, product_id, buyers, lift) VALUES
;
-- args: []
INSERT INTO {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2_tmp (as_of, run_id, segment_id, rank, product_id, buyers, lift) VALUES
;
-- args: []
INSERT INTO {db}.segment_lift_staging (as_of, run_id, segment_id, label, window_days, treated, control, treated_buyers, control_buyers, treated_conversion, control_conversion, conversion_diff, conversion_diff_low, conversion_diff_high, conversion_p_value, conversion_q_value, conversion_relative, treated_orders_per_member, control_orders_per_member, orders_diff, treated_revenue_per_member, control_revenue_per_member, revenue_diff, revenue_diff_low, revenue_diff_high, revenue_relative, mde_conversion, verdict) VALUES
;
-- args: []
INSERT INTO {db}.segment_members_part_20261001_9ae16a3b2f90404f_0_of_1_tmp (as_of, run_id, segment_id, customer_id, lifecycle_stage, vip_tier, strategy, action, discount_sensitivity, offer, offer_discount, best_hour, best_weekday, preferred_channel, product_feed, control_group) VALUES
;
-- args: []
INSERT INTO {db}.segment_members_part_20261008_e78c7123eac78461_0_of_2_tmp (as_of, run_id, segment_id, customer_id, lifecycle_stage, vip_tier, strategy, action, discount_sensitivity, offer, offer_discount, best_hour, best_weekday, preferred_channel, product_feed, control_group) VALUES
;
-- args: []
INSERT INTO {db}.segment_members_part_20261008_e78c7123eac78461_1_of_2_tmp (as_of, run_id, segment_id, customer_id, lifecycle_stage, vip_tier, strategy, action, discount_sensitivity, offer, offer_discount, best_hour, best_weekday, preferred_channel, product_feed, control_group) VALUES
;
-- args: []
INSERT INTO {db}.segment_purchases (as_of, job, score_run, shard, run_id, segment_id, members, counts, product_ids, computed_at) VALUES
;
-- args: []
INSERT INTO {db}.segments_staging (as_of, run_id, segment_id, macro_group, label, size, revenue_12m, revenue_share, mean_clv, churn_risk, revenue_at_risk, strategy) VALUES
;
-- args: []
INSERT INTO {db}.text_lengths (entity, column, longest, saved_at) VALUES
;
-- args: []
INSERT INTO {db}.watermarks (source, entity, value, run_id, saved_at) VALUES
;
-- args: []
RENAME TABLE {db}.customer_features_part_20261008_e78c7123eac78461_0_of_2_tmp TO {db}.customer_features_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
RENAME TABLE {db}.customer_features_part_20261008_e78c7123eac78461_1_of_2_tmp TO {db}.customer_features_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
RENAME TABLE {db}.customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1_tmp TO {db}.customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
RENAME TABLE {db}.customer_plan_part_20261008_e78c7123eac78461_0_of_2_tmp TO {db}.customer_plan_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
RENAME TABLE {db}.customer_plan_part_20261008_e78c7123eac78461_1_of_2_tmp TO {db}.customer_plan_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
RENAME TABLE {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1_tmp TO {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
RENAME TABLE {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2_tmp TO {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
RENAME TABLE {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2_tmp TO {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
RENAME TABLE {db}.customer_scores_part_20261001_9ae16a3b2f90404f_0_of_1_tmp TO {db}.customer_scores_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
RENAME TABLE {db}.customer_scores_part_20261008_e78c7123eac78461_0_of_2_tmp TO {db}.customer_scores_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
RENAME TABLE {db}.customer_scores_part_20261008_e78c7123eac78461_1_of_2_tmp TO {db}.customer_scores_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
RENAME TABLE {db}.segment_changes_part_20261001_9ae16a3b2f90404f_0_of_1_tmp TO {db}.segment_changes_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
RENAME TABLE {db}.segment_changes_part_20261008_e78c7123eac78461_0_of_2_tmp TO {db}.segment_changes_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
RENAME TABLE {db}.segment_changes_part_20261008_e78c7123eac78461_1_of_2_tmp TO {db}.segment_changes_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
RENAME TABLE {db}.segment_feed_part_20261001_9ae16a3b2f90404f_0_of_1_tmp TO {db}.segment_feed_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
RENAME TABLE {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2_tmp TO {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
RENAME TABLE {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2_tmp TO {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
RENAME TABLE {db}.segment_members_part_20261001_9ae16a3b2f90404f_0_of_1_tmp TO {db}.segment_members_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
RENAME TABLE {db}.segment_members_part_20261008_e78c7123eac78461_0_of_2_tmp TO {db}.segment_members_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
RENAME TABLE {db}.segment_members_part_20261008_e78c7123eac78461_1_of_2_tmp TO {db}.segment_members_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
SELECT DISTINCT as_of FROM {db}.publications ORDER BY as_of
;
-- args: ["2026-09-30"]
SELECT argMax(score_run, version), argMax(publish_run, version), argMax(rows, version), max(published_at), count() FROM {db}.publications WHERE as_of = toDate(?)
;
-- args: ["20261208T000317Z-f4c3bf"]
SELECT argMax(stage, finished_at), argMax(as_of, finished_at), argMax(status, finished_at), argMax(message, finished_at), argMax(detail, finished_at), argMax(tessera_version, finished_at), argMax(invocation_id, finished_at), count() FROM {db}.runs WHERE run_id = ?
;
-- args: ["postgres","customers"]
SELECT argMax(value, (saved_at, value)), count() FROM {db}.watermarks WHERE source = ? AND entity = ?
;
-- args: ["customers"]
SELECT column, max(longest) FROM {db}.text_lengths WHERE entity = ? GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('customer_plan_part_20261008_e78c7123eac78461_0_of_2') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('customer_plan_part_20261008_e78c7123eac78461_1_of_2') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('customer_profiles_part_20261008_e78c7123eac78461_0_of_2') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('customer_profiles_part_20261008_e78c7123eac78461_0_of_2', 'customer_profiles_part_20261008_e78c7123eac78461_1_of_2') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('customer_profiles_part_20261008_e78c7123eac78461_1_of_2') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('segment_feed_part_20261008_e78c7123eac78461_0_of_2') GROUP BY column
;
-- args: []
SELECT column, max(longest), uniqExact(part) FROM {db}.part_text_lengths WHERE part IN ('segment_feed_part_20261008_e78c7123eac78461_1_of_2') GROUP BY column
;
-- args: ["",""]
SELECT concat(entity, ' ', rule), count() FROM {db}.rejected_rows FINAL WHERE ? = '' OR run_id = ? GROUP BY entity, rule ORDER BY entity, rule
;
-- args: ["{db}"]
SELECT count() FROM system.tables WHERE database = ? AND name IN ('customer_features_part_20261008_e78c7123eac78461_0_of_2', 'customer_features_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: ["{db}"]
SELECT count() FROM system.tables WHERE database = ? AND name IN ('customer_profiles_part_20261008_e78c7123eac78461_0_of_2', 'customer_profiles_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: ["{db}"]
SELECT count() FROM system.tables WHERE database = ? AND name IN ('customer_scores_part_20261008_e78c7123eac78461_0_of_2', 'customer_scores_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: ["{db}"]
SELECT count() FROM system.tables WHERE database = ? AND name IN ('segment_changes_part_20261008_e78c7123eac78461_0_of_2', 'segment_changes_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: ["{db}"]
SELECT count() FROM system.tables WHERE database = ? AND name IN ('segment_feed_part_20261008_e78c7123eac78461_0_of_2', 'segment_feed_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: ["{db}"]
SELECT count() FROM system.tables WHERE database = ? AND name IN ('segment_members_part_20261008_e78c7123eac78461_0_of_2', 'segment_members_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: []
SELECT count() FROM {db}.customer_features WHERE as_of = toDate('2026-10-01')
;
-- args: []
SELECT count() FROM {db}.customer_features_staging WHERE as_of = toDate('2026-10-01')
;
-- args: []
SELECT count() FROM {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1
;
-- args: []
SELECT count() FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2
;
-- args: []
SELECT count() FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2
;
-- args: []
SELECT count() FROM {db}.customer_scores_staging WHERE as_of = toDate('2026-10-01')
;
-- args: []
SELECT count() FROM {db}.part_text_lengths WHERE startsWith(part, 'customer_features_part_') AND saved_at < now() - 86400
;
-- args: []
SELECT count() FROM {db}.part_text_lengths WHERE startsWith(part, 'customer_plan_part_') AND saved_at < now() - 86400
;
-- args: []
SELECT count() FROM {db}.part_text_lengths WHERE startsWith(part, 'customer_profiles_part_') AND saved_at < now() - 86400
;
-- args: []
SELECT count() FROM {db}.part_text_lengths WHERE startsWith(part, 'customer_scores_part_') AND saved_at < now() - 86400
;
-- args: []
SELECT count() FROM {db}.part_text_lengths WHERE startsWith(part, 'segment_changes_part_') AND saved_at < now() - 86400
;
-- args: []
SELECT count() FROM {db}.part_text_lengths WHERE startsWith(part, 'segment_feed_part_') AND saved_at < now() - 86400
;
-- args: []
SELECT count() FROM {db}.part_text_lengths WHERE startsWith(part, 'segment_members_part_') AND saved_at < now() - 86400
;
-- args: []
SELECT count() FROM {db}.raw_campaign_events FINAL
;
-- args: []
SELECT count() FROM {db}.raw_customers FINAL
;
-- args: []
SELECT count() FROM {db}.raw_events FINAL
;
-- args: []
SELECT count() FROM {db}.raw_order_lines FINAL WHERE _deleted = 0
;
-- args: []
SELECT count() FROM {db}.raw_orders FINAL WHERE _deleted = 0
;
-- args: []
SELECT count() FROM {db}.raw_products FINAL
;
-- args: []
SELECT count() FROM {db}.segment_changes_staging WHERE as_of = toDate('2026-10-01')
;
-- args: []
SELECT count() FROM {db}.segment_feed_staging WHERE as_of = toDate('2026-10-01')
;
-- args: []
SELECT count() FROM {db}.segment_members_staging WHERE as_of = toDate('2026-10-01')
;
-- args: []
SELECT count() FROM {db}.segment_purchases WHERE computed_at < now() - 2 * 86400
;
-- args: ["2026-10-08","",""]
SELECT customer_id FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) AND cityHash64(customer_id) < 9223372036854775808 ORDER BY customer_id
;
-- args: ["2026-10-08","",""]
SELECT customer_id FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) AND cityHash64(customer_id) >= 9223372036854775808 ORDER BY customer_id
;
-- args: ["2026-10-01","",""]
SELECT customer_id FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-01","",""]
SELECT customer_id, first_order_date, toInt32(first_week_orders), first_week_revenue, toInt32(first_week_items), first_week_discount_share, first_week_rating_mean, toInt32(first_week_events), toInt32(first_week_categories) FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-08","",""]
SELECT customer_id, first_order_date, toInt32(first_week_orders), first_week_revenue, toInt32(first_week_items), first_week_discount_share, first_week_rating_mean, toInt32(first_week_events), toInt32(first_week_categories), toInt64(orders), revenue, avg_check, discount_share, days_since_first, days_since_last, interorder_mean_days, toInt32(preferred_hour), toInt32(preferred_weekday), preferred_channel, top_category, top_brand, revenue_12m, last_gap_days, discount_depth, price_level, email_click_rate, basket FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) AND cityHash64(customer_id) < 9223372036854775808 ORDER BY customer_id
;
-- args: ["2026-10-08","",""]
SELECT customer_id, first_order_date, toInt32(first_week_orders), first_week_revenue, toInt32(first_week_items), first_week_discount_share, first_week_rating_mean, toInt32(first_week_events), toInt32(first_week_categories), toInt64(orders), revenue, avg_check, discount_share, days_since_first, days_since_last, interorder_mean_days, toInt32(preferred_hour), toInt32(preferred_weekday), preferred_channel, top_category, top_brand, revenue_12m, last_gap_days, discount_depth, price_level, email_click_rate, basket FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) AND cityHash64(customer_id) >= 9223372036854775808 ORDER BY customer_id
;
-- args: ["2026-10-01","",""]
SELECT customer_id, first_order_date, toInt32(first_week_orders), first_week_revenue, toInt32(first_week_items), first_week_discount_share, first_week_rating_mean, toInt32(first_week_events), toInt32(first_week_categories), toInt64(orders), revenue, avg_check, discount_share, days_since_first, days_since_last, interorder_mean_days, toInt32(preferred_hour), toInt32(preferred_weekday), preferred_channel, top_category, top_brand, revenue_12m, last_gap_days, discount_depth, price_level, email_click_rate, basket FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-08","20261208T000321Z-4da707","20261208T000321Z-4da707"]
SELECT customer_id, isNull(clv_12m), ifNull(clv_12m, 0), isNull(p_alive), ifNull(p_alive, 0), isNull(next_order_date), ifNull(next_order_date, toDate(0)) FROM {db}.customer_scores WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-08","20261208T000321Z-4da707","20261208T000321Z-4da707"]
SELECT customer_id, lifecycle_stage, vip_tier, isNull(clv_12m), ifNull(clv_12m, 0), isNull(p_alive), ifNull(p_alive, 0), toInt32(rfm_r), toInt32(rfm_f), toInt32(rfm_m) FROM {db}.customer_scores WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-01","20261208T000317Z-f4c3bf","20261208T000317Z-f4c3bf"]
SELECT customer_id, micro_segment, rfm_segment, lifecycle_stage, vip_tier FROM {db}.customer_scores WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) AND cityHash64(customer_id) < 9223372036854775808 ORDER BY customer_id
;
-- args: ["2026-10-01","20261208T000317Z-f4c3bf","20261208T000317Z-f4c3bf"]
SELECT customer_id, micro_segment, rfm_segment, lifecycle_stage, vip_tier FROM {db}.customer_scores WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) AND cityHash64(customer_id) >= 9223372036854775808 ORDER BY customer_id
;
-- args: ["2026-10-08","",""]
SELECT customer_id, revenue FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-01","",""]
SELECT customer_id, toInt64(orders), revenue, avg_check, items_per_order, discount_share, days_since_last, toInt32(distinct_categories), price_level, revenue_12m FROM {db}.customer_features WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-01","",""]
SELECT customer_id, vip_tier FROM {db}.customer_scores WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY customer_id
;
-- args: ["2026-10-08","20261208T000321Z-4da707","20261208T000321Z-4da707"]
SELECT dimension, from_value, to_value, previous_as_of FROM {db}.segment_changes WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY dimension
;
-- args: []
SELECT kind, source, id, customer_id, linked_at FROM {db}.identities ORDER BY linked_at
;
-- args: ["2026-10-08"]
SELECT max(as_of), count() FROM {db}.exports WHERE kind = 'manifest' AND as_of < toDate(?)
;
-- args: []
SELECT max(as_of), count() FROM {db}.runs WHERE stage = 'extract' AND status = 'ok' AND (visitParamExtractString(detail, 'shard') = '' OR startsWith(visitParamExtractString(detail, 'shard'), '0/'))
;
-- args: []
SELECT max(length(campaign_id)), max(length(customer_id)), max(length(channel)), max(length(type)) FROM {db}.raw_campaign_events
;
-- args: []
SELECT max(length(customer_id)), max(length(email)), max(length(email_hash)), max(length(country)), max(length(city)), max(length(acquisition_source)) FROM {db}.raw_customers
;
-- args: []
SELECT max(length(event_id)), max(length(customer_id)), max(length(anonymous_id)), max(length(session_id)), max(length(type)), max(length(product_id)), max(length(category)) FROM {db}.raw_events
;
-- args: []
SELECT max(length(order_id)), max(length(customer_id)), max(length(status)), max(length(currency)), max(length(channel)), max(length(promo_code)) FROM {db}.raw_orders
;
-- args: []
SELECT max(length(order_id)), max(length(product_id)) FROM {db}.raw_order_lines
;
-- args: []
SELECT max(length(product_id)), max(length(sku)), max(length(name)), max(length(category)), max(length(brand)) FROM {db}.raw_products
;
-- args: ["2026-10-01","earlyvip"]
SELECT model_id, kind, as_of, artefact, status, reason FROM {db}.models WHERE as_of <= toDate(?) AND kind IN (?) ORDER BY as_of DESC, trained_at DESC, model_id DESC LIMIT 1
;
-- args: ["2026-10-01","bgnbd","mbgnbd","paretonbd","none"]
SELECT model_id, kind, as_of, artefact, status, reason FROM {db}.models WHERE as_of <= toDate(?) AND kind IN (?, ?, ?, ?) ORDER BY as_of DESC, trained_at DESC, model_id DESC LIMIT 1
;
-- args: ["{db}","customer_profiles_part_",86400]
SELECT name FROM system.tables WHERE database = ? AND startsWith(name, ?) AND metadata_modification_time > toDateTime(0) AND metadata_modification_time < now() - ?
;
-- args: []
SELECT name FROM {db}.schema_migrations
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('customer_plan_part_20261008_e78c7123eac78461_0_of_2')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('customer_plan_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('customer_profiles_part_20261008_e78c7123eac78461_0_of_2')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('customer_profiles_part_20261008_e78c7123eac78461_0_of_2', 'customer_profiles_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('customer_profiles_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('segment_feed_part_20261008_e78c7123eac78461_0_of_2')
;
-- args: []
SELECT name, sorting_key FROM system.tables WHERE database = '{db}' AND name IN ('segment_feed_part_20261008_e78c7123eac78461_1_of_2')
;
-- args: [["extract-20261001"]]
SELECT name, token, holder, held, toString(expires_at) FROM ( SELECT name, token, argMax(holder, version) AS holder, argMax(claimed_at, version) AS claimed_at, argMax(expires_at, version) AS expires_at, argMax(held, version) AS held FROM {db}.locks WHERE has(?, name) GROUP BY name, token ) WHERE expires_at > now() ORDER BY name, held DESC, claimed_at, token
;
-- args: ["{db}","raw_customers"]
SELECT name, type FROM system.columns WHERE database = ? AND table = ?
;
-- args: []
SELECT order_id, customer_hash FROM {db}.raw_orders FINAL WHERE _deleted = 0
;
-- args: []
SELECT order_id, groupArray(customer_hash), groupArray(_version), groupArray(run_id) FROM {db}.raw_orders FINAL WHERE _deleted = 0 AND cityHash64(order_id) IN ( SELECT cityHash64(order_id) AS h FROM {db}.raw_orders FINAL WHERE _deleted = 0 GROUP BY h HAVING count() > 1) GROUP BY order_id HAVING count() > 1 ORDER BY order_id
;
-- args: ["2026-10-01"]
SELECT run_id, count() FROM {db}.customer_scores WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-01"]
SELECT run_id, count() FROM {db}.customer_scores_staging WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-08"]
SELECT run_id, count() FROM {db}.segment_changes WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-08"]
SELECT run_id, count() FROM {db}.segment_feed WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-01"]
SELECT run_id, count() FROM {db}.segment_feed_staging WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-08"]
SELECT run_id, count() FROM {db}.segment_members WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-01"]
SELECT run_id, count() FROM {db}.segment_members_staging WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-08"]
SELECT run_id, count() FROM {db}.segments WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-01"]
SELECT run_id, count() FROM {db}.segments_staging WHERE as_of = toDate(?) GROUP BY run_id
;
-- args: ["2026-10-08","20261208T000321Z-4da707","20261208T000321Z-4da707"]
SELECT segment_id, customer_id, lifecycle_stage, vip_tier, strategy, action, discount_sensitivity, offer, offer_discount, toInt32(best_hour), toInt32(best_weekday), preferred_channel, product_feed, toUInt8(control_group) FROM {db}.segment_members WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY segment_id
;
-- args: ["2026-10-01","",""]
SELECT segment_id, customer_id, toUInt8(control_group) FROM {db}.segment_members WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY segment_id
;
-- args: ["2026-10-01","",""]
SELECT segment_id, label FROM {db}.segments WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY segment_id
;
-- args: ["2026-10-08","",""]
SELECT segment_id, label, toInt32(window_days), toInt32(treated), toInt32(control), isNull(treated_conversion), ifNull(treated_conversion, 0), isNull(conversion_q_value), ifNull(conversion_q_value, 0), isNull(control_conversion), ifNull(control_conversion, 0), isNull(conversion_diff), ifNull(conversion_diff, 0), isNull(conversion_diff_low), ifNull(conversion_diff_low, 0), isNull(conversion_diff_high), ifNull(conversion_diff_high, 0), isNull(revenue_diff), ifNull(revenue_diff, 0), isNull(mde_conversion), ifNull(mde_conversion, 0), verdict FROM {db}.segment_lift WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY segment_id
;
-- args: ["2026-10-08","20261208T000321Z-4da707","20261208T000321Z-4da707"]
SELECT segment_id, macro_group, label, toInt32(size), revenue_12m, revenue_share, mean_clv, churn_risk, revenue_at_risk, strategy FROM {db}.segments WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY segment_id
;
-- args: ["2026-10-08","statements","20261208T000321Z-4da707"]
SELECT shard, run_id, max(computed_at) FROM {db}.segment_purchases WHERE as_of = toDate(?) AND job = ? AND score_run = ? GROUP BY shard, run_id
;
-- args: ["2026-10-08","statements","20261208T000321Z-4da707"]
SELECT shard, run_id, segment_id, members, counts, product_ids FROM {db}.segment_purchases FINAL WHERE as_of = toDate(?) AND job = ? AND score_run = ? AND (segment_id = '' OR cityHash64(segment_id) < 9223372036854775808) ORDER BY segment_id, shard
;
-- args: ["2026-10-08","statements","20261208T000321Z-4da707"]
SELECT shard, run_id, segment_id, members, counts, product_ids FROM {db}.segment_purchases FINAL WHERE as_of = toDate(?) AND job = ? AND score_run = ? AND (segment_id = '' OR cityHash64(segment_id) >= 9223372036854775808) ORDER BY segment_id, shard
;
-- args: ["2026-10-08","statements"]
SELECT shard, run_id, top_category, unit_prices, lines, computed_at FROM {db}.category_prices FINAL WHERE as_of = toDate(?) AND job = ?
;
-- args: ["{db}","raw_order_lines"]
SELECT sorting_key FROM system.tables WHERE database = ? AND name = ?
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('customer_plan_part_20261008_e78c7123eac78461_0_of_2') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('customer_plan_part_20261008_e78c7123eac78461_1_of_2') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('customer_profiles_part_20261008_e78c7123eac78461_0_of_2') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('customer_profiles_part_20261008_e78c7123eac78461_0_of_2', 'customer_profiles_part_20261008_e78c7123eac78461_1_of_2') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('customer_profiles_part_20261008_e78c7123eac78461_1_of_2') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('segment_feed_part_20261008_e78c7123eac78461_0_of_2') AND active ORDER BY table, name
;
-- args: []
SELECT table, name, rows FROM system.parts WHERE database = '{db}' AND table IN ('segment_feed_part_20261008_e78c7123eac78461_1_of_2') AND active ORDER BY table, name
;
-- args: []
SELECT toFixedString(customer_id, 9), email_hash, optin_email FROM {db}.raw_customers FINAL WHERE created_at < toDateTime(1790812800)
;
-- args: []
SELECT toFixedString(customer_id, 9), optin_email, optin_sms, optin_push FROM {db}.raw_customers FINAL
;
-- args: []
SELECT toFixedString(customer_id, 9), optin_email, optin_sms, optin_push FROM {db}.raw_customers FINAL WHERE cityHash64(customer_id) < 9223372036854775808
;
-- args: []
SELECT toFixedString(customer_id, 9), optin_email, optin_sms, optin_push FROM {db}.raw_customers FINAL WHERE cityHash64(customer_id) >= 9223372036854775808
;
-- args: []
SELECT toFixedString(customer_id, 9), toFixedString(channel, 5), toFixedString(type, 11), toUInt32(ts) FROM {db}.raw_campaign_events FINAL WHERE ts < toDateTime(1790812800) AND type IN ('delivered', 'open', 'click')
;
-- args: []
SELECT toFixedString(customer_id, 9), toFixedString(channel, 5), toFixedString(type, 11), toUInt32(ts) FROM {db}.raw_campaign_events FINAL WHERE ts < toDateTime(1790812800) AND type IN ('delivered', 'open', 'click') AND cityHash64(customer_id) < 9223372036854775808
;
-- args: []
SELECT toFixedString(customer_id, 9), toFixedString(channel, 5), toFixedString(type, 11), toUInt32(ts) FROM {db}.raw_campaign_events FINAL WHERE ts < toDateTime(1790812800) AND type IN ('delivered', 'open', 'click') AND cityHash64(customer_id) >= 9223372036854775808
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(lifecycle_stage, 11), toFixedString(vip_tier, 11), toFixedString(value_tier, 10), toInt32(rfm_r), toInt32(rfm_f), toInt32(rfm_m), toFixedString(micro_segment, 16), toUInt8(control_group), run_id FROM {db}.customer_plan_part_20261008_e78c7123eac78461_1_of_2 WHERE _part = ?
;
-- args: ["20261001_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(lifecycle_stage, 11), toFixedString(vip_tier, 13), toFixedString(value_tier, 10), toInt32(rfm_r), toInt32(rfm_f), toInt32(rfm_m), toFixedString(micro_segment, 16), toUInt8(control_group), run_id FROM {db}.customer_plan_part_20261001_9ae16a3b2f90404f_0_of_1 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(lifecycle_stage, 11), toFixedString(vip_tier, 13), toFixedString(value_tier, 10), toInt32(rfm_r), toInt32(rfm_f), toInt32(rfm_m), toFixedString(micro_segment, 16), toUInt8(control_group), run_id FROM {db}.customer_plan_part_20261008_e78c7123eac78461_0_of_2 WHERE _part = ?
;
-- args: ["20261001_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(model_id, 30), toUInt8(buyer), toInt32(orders), days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, toFixedString(top_category, 11), toFixedString(top_brand, 8), toFixedString(preferred_channel, 5), expected_purchases_365d, isNull(next_order_in_days), ifNull(next_order_in_days, 0), toFixedString(prediction_note, 1) FROM {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(model_id, 30), toUInt8(buyer), toInt32(orders), days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, toFixedString(top_category, 11), toFixedString(top_brand, 8), toFixedString(preferred_channel, 5), expected_purchases_365d, isNull(next_order_in_days), ifNull(next_order_in_days, 0), toFixedString(prediction_note, 1) FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(model_id, 30), toUInt8(buyer), toInt32(orders), days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, toFixedString(top_category, 11), toFixedString(top_brand, 8), toFixedString(preferred_channel, 5), expected_purchases_365d, isNull(next_order_in_days), ifNull(next_order_in_days, 0), toFixedString(prediction_note, 1) FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2 WHERE _part = ?
;
-- args: ["20261001_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(model_id, 30), toUInt8(buyer), toInt32(orders), isNull(first_order_date), ifNull(first_order_date, toDate(0)), days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, potential_vip_probability, toFixedString(top_category, 11), toFixedString(top_brand, 8), toFixedString(preferred_channel, 5), toInt32(best_hour), toInt32(best_weekday), discount_depth, price_level, email_click_rate, frequency, recency_days, age_days, expected_purchases_30d, expected_purchases_90d, expected_purchases_365d, expected_order_value, isNull(next_order_in_days), ifNull(next_order_in_days, 0), toFixedString(prediction_note, 1), basket, run_id FROM {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(model_id, 30), toUInt8(buyer), toInt32(orders), isNull(first_order_date), ifNull(first_order_date, toDate(0)), days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, potential_vip_probability, toFixedString(top_category, 11), toFixedString(top_brand, 8), toFixedString(preferred_channel, 5), toInt32(best_hour), toInt32(best_weekday), discount_depth, price_level, email_click_rate, frequency, recency_days, age_days, expected_purchases_30d, expected_purchases_90d, expected_purchases_365d, expected_order_value, isNull(next_order_in_days), ifNull(next_order_in_days, 0), toFixedString(prediction_note, 1), basket, run_id FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toFixedString(model_id, 30), toUInt8(buyer), toInt32(orders), isNull(first_order_date), ifNull(first_order_date, toDate(0)), days_since_first, days_since_last, last_gap_days, interorder_mean_days, revenue, revenue_12m, avg_check, discount_share, p_alive, clv_12m, early_vip, potential_vip_probability, toFixedString(top_category, 11), toFixedString(top_brand, 8), toFixedString(preferred_channel, 5), toInt32(best_hour), toInt32(best_weekday), discount_depth, price_level, email_click_rate, frequency, recency_days, age_days, expected_purchases_30d, expected_purchases_90d, expected_purchases_365d, expected_order_value, isNull(next_order_in_days), ifNull(next_order_in_days, 0), toFixedString(prediction_note, 1), basket, run_id FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2 WHERE _part = ?
;
-- args: []
SELECT toFixedString(customer_id, 9), toFixedString(type, 11), toUInt32(ts) FROM {db}.raw_campaign_events FINAL WHERE ts < toDateTime(1790812800) AND customer_id != ''
;
-- args: []
SELECT toFixedString(customer_id, 9), toFixedString(type, 16), toUInt32(ts) FROM {db}.raw_events FINAL WHERE ts < toDateTime(1790812800) AND customer_id != ''
;
-- args: []
SELECT toFixedString(customer_id, 9), toUInt32(created_at) FROM {db}.raw_customers FINAL WHERE created_at < toDateTime(1790812800)
;
-- args: []
SELECT toFixedString(customer_id, 9), toUInt32(created_at) FROM {db}.raw_customers FINAL WHERE created_at < toDateTime(1790812800) AND cityHash64(customer_id) < 9223372036854775808
;
-- args: []
SELECT toFixedString(customer_id, 9), toUInt32(created_at) FROM {db}.raw_customers FINAL WHERE created_at < toDateTime(1790812800) AND cityHash64(customer_id) >= 9223372036854775808
;
-- args: []
SELECT toFixedString(customer_id, 9), toUInt32(ordered_at), toFixedString(status, 18), net_amount FROM {db}.raw_orders FINAL WHERE _deleted = 0
;
-- args: []
SELECT toFixedString(customer_id, 9), toUInt32(ts), toFixedString(if(ts >= toDateTime(1790812800) AND type = 'add_to_cart', session_id, ''), 12), toFixedString(if(ts >= toDateTime(1790812800), type, ''), 16) FROM {db}.raw_events FINAL WHERE ts < toDateTime(1790812800) AND customer_id != ''
;
-- args: []
SELECT toFixedString(customer_id, 9), toUInt32(ts), toFixedString(if(ts >= toDateTime(1790812800) AND type = 'add_to_cart', session_id, ''), 12), toFixedString(if(ts >= toDateTime(1790812800), type, ''), 16) FROM {db}.raw_events FINAL WHERE ts < toDateTime(1790812800) AND customer_id != '' AND cityHash64(customer_id) < 9223372036854775808
;
-- args: []
SELECT toFixedString(customer_id, 9), toUInt32(ts), toFixedString(if(ts >= toDateTime(1790812800) AND type = 'add_to_cart', session_id, ''), 12), toFixedString(if(ts >= toDateTime(1790812800), type, ''), 16) FROM {db}.raw_events FINAL WHERE ts < toDateTime(1790812800) AND customer_id != '' AND cityHash64(customer_id) >= 9223372036854775808
;
-- args: ["20261001_1_1_0"]
SELECT toFixedString(customer_id, 9), toUInt8(buyer), basket FROM {db}.customer_profiles_part_20261001_9ae16a3b2f90404f_0_of_1 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toUInt8(buyer), basket FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_0_of_2 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(customer_id, 9), toUInt8(buyer), basket FROM {db}.customer_profiles_part_20261008_e78c7123eac78461_1_of_2 WHERE _part = ?
;
-- args: []
SELECT toFixedString(order_id, 13), toFixedString(customer_id, 9), toUInt32(ordered_at), toFixedString(status, 18), gross_amount, discount_amount, net_amount, toInt32(items_count), toInt32(rating) FROM {db}.raw_orders FINAL WHERE ordered_at < toDateTime(1790812800) AND _deleted = 0
;
-- args: []
SELECT toFixedString(order_id, 13), toFixedString(customer_id, 9), toUInt32(ordered_at), toFixedString(status, 18), gross_amount, discount_amount, net_amount, toInt32(items_count), toInt32(rating) FROM {db}.raw_orders FINAL WHERE ordered_at < toDateTime(1790812800) AND _deleted = 0 AND customer_hash < 9223372036854775808
;
-- args: []
SELECT toFixedString(order_id, 13), toFixedString(customer_id, 9), toUInt32(ordered_at), toFixedString(status, 18), gross_amount, discount_amount, net_amount, toInt32(items_count), toInt32(rating) FROM {db}.raw_orders FINAL WHERE ordered_at < toDateTime(1790812800) AND _deleted = 0 AND customer_hash >= 9223372036854775808
;
-- args: []
SELECT toFixedString(order_id, 13), toFixedString(product_id, 7), toInt32(quantity), unit_price, discount FROM {db}.raw_order_lines FINAL WHERE _deleted = 0
;
-- args: []
SELECT toFixedString(order_id, 13), toFixedString(product_id, 7), toInt32(quantity), unit_price, discount FROM {db}.raw_order_lines FINAL WHERE _deleted = 0 AND customer_hash < 9223372036854775808
;
-- args: []
SELECT toFixedString(order_id, 13), toFixedString(product_id, 7), toInt32(quantity), unit_price, discount FROM {db}.raw_order_lines FINAL WHERE _deleted = 0 AND customer_hash >= 9223372036854775808
;
-- args: []
SELECT toFixedString(product_id, 7), toFixedString(category, 22), toFixedString(brand, 8) FROM {db}.raw_products FINAL
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(segment_id, 16), toInt32(rank), toFixedString(product_id, 7) FROM {db}.segment_feed_part_20261008_e78c7123eac78461_0_of_2 WHERE _part = ?
;
-- args: ["20261008_1_1_0"]
SELECT toFixedString(segment_id, 16), toInt32(rank), toFixedString(product_id, 7) FROM {db}.segment_feed_part_20261008_e78c7123eac78461_1_of_2 WHERE _part = ?
;
-- args: ["2026-10-01","20261208T000317Z-f4c3bf","20261208T000317Z-f4c3bf"]
SELECT toInt32(size), revenue_12m FROM {db}.segments WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY size
;
-- args: []
SELECT toUInt32(now())
;
-- args: ["2026-10-08","statements"]
SELECT top_category, argMax(median_price, computed_at) FROM {db}.category_medians WHERE as_of = toDate(?) AND job = ? GROUP BY top_category
;
-- args: []
SELECT top_category, quantileExact(unit_price) FROM ( SELECT product_id, unit_price FROM {db}.raw_order_lines FINAL WHERE _deleted = 0 AND order_id IN (SELECT order_id FROM {db}.raw_orders FINAL WHERE _deleted = 0 AND ordered_at < toDateTime(1790812800) AND status != 'cancelled') ) AS l ANY LEFT JOIN (SELECT product_id, splitByChar('/', category)[1] AS top_category FROM {db}.raw_products FINAL) AS p USING (product_id) GROUP BY top_category
;
-- args: []
SELECT uniqExact(customer_id) FROM {db}.raw_orders FINAL WHERE ordered_at < toDateTime(1790812800) AND _deleted = 0
;
-- args: ["2026-10-08","statements"]
SELECT uniqExact(shard), countIf(top_category != '') FROM {db}.category_prices WHERE as_of = toDate(?) AND job = ?
;
-- args: ["extract","statements",["1/2"]]
SELECT uniqExact(visitParamExtractString(detail, 'shard')) FROM {db}.runs WHERE stage = ? AND status = 'ok' AND visitParamExtractString(detail, 'job') = ? AND has(?, visitParamExtractString(detail, 'shard'))
;
-- args: ["2026-10-01","20261208T000317Z-f4c3bf","20261208T000317Z-f4c3bf"]
SELECT vip_tier FROM {db}.customer_scores WHERE as_of = toDate(?) AND (? = '' OR run_id = ?) ORDER BY vip_tier
;
