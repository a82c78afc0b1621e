package pipeline

import (
	"context"
	"testing"
)

// TestExtractEventsFromClickHouse: a shop that keeps its click-stream in
// ClickHouse, in its own table and column names, maps it with a query in
// source.clickhouse; the events land as they would from files.
func TestExtractEventsFromClickHouse(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 1500, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	checksum := func() string {
		return queryStrings(t, wh, "SELECT concat(toString(count()), ' ', toString(groupBitXor(cityHash64(event_id, ts, customer_id, anonymous_id, session_id, type, product_id, category)))) FROM {db}.raw_events FINAL")[0]
	}
	fromFiles := checksum()
	for _, q := range []string{
		"CREATE TABLE {db}.clickstream (id String, at DateTime, user String, anon String, sess String, kind String, sku String, cat String) ENGINE = MergeTree ORDER BY id",
		"INSERT INTO {db}.clickstream SELECT event_id, ts, customer_id, anonymous_id, session_id, type, product_id, category FROM {db}.raw_events FINAL",
		"TRUNCATE TABLE {db}.raw_events",
	} {
		if err := wh.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Source.ClickHouse.DSN = "clickhouse://" + cfg.ClickHouse.Addr + "/" + wh.Database()
	cfg.Source.ClickHouse.Queries = map[string]string{"events": "SELECT id AS event_id, at AS ts, user AS customer_id, anon AS anonymous_id, sess AS session_id, kind AS type, sku AS product_id, cat AS category FROM clickstream"}
	if err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if fromCH := checksum(); fromCH != fromFiles {
		t.Errorf("events from ClickHouse: %s, from files: %s (count, checksum)", fromCH, fromFiles)
	}
}
