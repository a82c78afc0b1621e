package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/servicetest"
)

// TestIncrementalExtract: customers read from PostgreSQL with a watermark on
// updated_at. A second run reads nothing old and lands nothing new; after ten
// rows change in the source, a run reads and lands exactly those ten new
// versions; --full reads everything again.
func TestIncrementalExtract(t *testing.T) {
	cfg, wh := testClickHouse(t)
	ctx := context.Background()
	if _, err := wh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dir, _ := generateShop(t, 1500, 0, "csv")
	pg := connectPG(t)
	schema := "crm_w" + strings.TrimPrefix(randomName(), "x")
	loadContacts(t, pg, schema, dir)
	var total uint64
	if err := pg.QueryRow(ctx, "SELECT count(*) FROM "+schema+".contacts").Scan(&total); err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.Dir = dir
	cfg.Source.Postgres.DSN = servicetest.Postgres(t)
	cfg.Source.Postgres.Queries = map[string]string{"customers": contactsQuery(schema)}
	cfg.Source.Postgres.Watermarks = map[string]string{"customers": "updated_at"}
	versions := func() map[string]uint64 { return finalVersions(t, wh, "raw_customers", "customer_id") }
	run := func() *ExtractResult { return extractOnce(t, cfg, wh) }
	customersRead := func(res *ExtractResult) int64 {
		for _, e := range res.Entities {
			if e.Entity == "customers" {
				return e.Read
			}
		}
		return -1
	}
	if n := customersRead(run()); n != int64(total) {
		t.Fatalf("first run read %d customers, the source has %d", n, total)
	}
	v1 := versions()
	// Rows in the overlap window before the watermark are read again (late
	// commits land there); they land the same versions, so nothing new.
	var window uint64
	overlapQuery := "SELECT count(*) FROM " + schema + ".contacts WHERE modified_at >= (SELECT max(modified_at) FROM " + schema + ".contacts) - interval '1 hour'"
	if err := pg.QueryRow(ctx, overlapQuery).Scan(&window); err != nil {
		t.Fatal(err)
	}
	second := run()
	if n := customersRead(second); n != int64(window) {
		t.Errorf("a second run read %d customers, want the %d of the overlap window", n, window)
	}
	// Orders, read in full from the files, refer to customers landed by the
	// first run: none is rejected for an unknown customer.
	for _, e := range second.Entities {
		if e.Entity != "customers" && e.Rejected != 0 {
			t.Errorf("a second run rejected %d %s", e.Rejected, e.Entity)
		}
	}
	if c, a, g := newVersions(v1, versions()); c+a+g != 0 {
		t.Errorf("a second run with nothing changed: %d customers with a new version, %d new, %d lost", c, a, g)
	}
	mustPG(t, pg, "UPDATE "+schema+".contacts SET city = 'Changed', modified_at = now() WHERE id IN (SELECT id FROM "+schema+".contacts ORDER BY id LIMIT 10)")
	if n := customersRead(run()); n < 10 || n > int64(window)+10 {
		t.Errorf("after ten changes a run read %d customers: want the ten and at most the %d of the overlap window", n, window)
	}
	c, a, g := newVersions(v1, versions())
	var changed uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_customers FINAL WHERE city = 'Changed'", &changed)
	if c != 10 || a+g != 0 || changed != 10 {
		t.Errorf("%d customers with a new version, %d new, %d lost, %d changed: want exactly ten new versions", c, a, g, changed)
	}
	cfg.Source.Full = true
	if n := customersRead(run()); n != int64(total) {
		t.Errorf("--full read %d customers, the source has %d", n, total)
	}
}
