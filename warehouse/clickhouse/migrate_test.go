package clickhouse

import (
	"context"
	"testing"
	"time"

	tsql "github.com/tessera-cdp/tessera/sql"
)

// migrateUpTo applies the migration files before the one named stop, as a
// warehouse made by an earlier release has them.
func migrateUpTo(t *testing.T, w *DB, stop string) {
	t.Helper()
	ctx := context.Background()
	if err := w.Exec(ctx, "CREATE DATABASE {db}"); err != nil {
		t.Fatal(err)
	}
	if err := w.Exec(ctx, `CREATE TABLE {db}.schema_migrations (name String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	entries, err := tsql.Migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() >= stop {
			break
		}
		runMigrationFile(t, w, e.Name())
		if err := w.insertRow(ctx, "INSERT INTO {db}.schema_migrations (name, applied_at) VALUES", e.Name(), time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
}

func runMigrationFile(t *testing.T, w *DB, name string) {
	t.Helper()
	src, err := tsql.Migrations.ReadFile("migrations/" + name)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range Statements(string(src)) {
		if err := w.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestMigrateEventsUnpartitioned: a warehouse of an earlier release, its site
// and campaign events partitioned by month, keeps every row through 0011, and
// the tables come out without partitions; running the migration's statements
// again (as after an interruption) loses and doubles nothing; an event whose
// time the source corrected is then one row.
func TestMigrateEventsUnpartitioned(t *testing.T) {
	w := testWarehouse(t)
	ctx := context.Background()
	const file = "0011_events_unpartitioned.sql"
	migrateUpTo(t, w, file)
	for _, stmt := range []string{
		`INSERT INTO {db}.raw_events SELECT concat('E', toString(number)), toDateTime('2025-01-01 00:00:00') + number * 3600,
			concat('C', toString(number % 7)), '', concat('S', toString(number)), 'product_view', 'P1', 'books', 'run-1', 1
			FROM system.numbers LIMIT 5000`,
		`INSERT INTO {db}.raw_campaign_events SELECT concat('email-', toString(number % 30)), concat('C', toString(number)), 'email',
			'open', toDateTime('2025-01-01 00:00:00') + number * 3600, 'run-1', 1 FROM system.numbers LIMIT 3000`,
	} {
		if err := w.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	count := func(table string) (n uint64, sum uint64) {
		t.Helper()
		if err := w.Conn().QueryRow(ctx, w.expand("SELECT count(), sum(cityHash64(*)) FROM {db}."+table+" FINAL")).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		return n, sum
	}
	partitioned := func(table string) string {
		t.Helper()
		var key string
		if err := w.Conn().QueryRow(ctx, "SELECT partition_key FROM system.tables WHERE database = ? AND name = ?", w.Database(), table).Scan(&key); err != nil {
			t.Fatal(err)
		}
		return key
	}
	evN, evSum := count("raw_events")
	caN, caSum := count("raw_campaign_events")
	if evN != 5000 || caN != 3000 || partitioned("raw_events") == "" || partitioned("raw_campaign_events") == "" {
		t.Fatalf("before: %d events, %d campaign events, partitioned by %q and %q", evN, caN, partitioned("raw_events"), partitioned("raw_campaign_events"))
	}
	applied, err := w.Migrate(ctx)
	if err != nil || len(applied) == 0 || applied[0] != file {
		t.Fatalf("migrate applied %v, %v", applied, err)
	}
	runMigrationFile(t, w, file) // again, as after an interruption
	for _, c := range []struct {
		table     string
		rows, sum uint64
	}{{"raw_events", evN, evSum}, {"raw_campaign_events", caN, caSum}} {
		n, sum := count(c.table)
		if n != c.rows || sum != c.sum {
			t.Errorf("%s: %d rows (checksum %d) after the migration, %d (%d) before", c.table, n, sum, c.rows, c.sum)
		}
		if key := partitioned(c.table); key != "" {
			t.Errorf("%s still partitioned by %s", c.table, key)
		}
	}
	var leftovers uint64
	if err := w.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name LIKE '%partitioned'", w.Database()).Scan(&leftovers); err != nil || leftovers != 0 {
		t.Errorf("%d tables of the migration left over (%v)", leftovers, err)
	}
	// A corrected time, landed later with a newer version, replaces the event
	// once parts merge (merges never cross partitions: partitioned by month,
	// both versions stayed; 18.16's FINAL hid that, current releases' does not).
	for _, stmt := range []string{
		`INSERT INTO {db}.raw_events SELECT 'E1', toDateTime('2026-03-01 00:00:00'), 'C1', '', 'S1', 'product_view', 'P1', 'books', 'run-2', 2 FROM system.one`,
		"OPTIMIZE TABLE {db}.raw_events FINAL",
	} {
		if err := w.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := w.Conn().QueryRow(ctx, w.expand("SELECT count() FROM {db}.raw_events WHERE event_id = 'E1'")).Scan(&n); err != nil || n != 1 {
		t.Errorf("event E1 with a corrected time: %d rows after merging (%v), want 1", n, err)
	}
}
