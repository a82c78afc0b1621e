package pipeline

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
)

// crmCustomers has cfg read a generated shop's customers from a PostgreSQL
// schema of their own, with a watermark on updated_at, and the rest from its
// files; it returns the connection, the schema and its customers.
func crmCustomers(t *testing.T, cfg *config.Config) (*pgx.Conn, string, uint64) {
	t.Helper()
	dir, _ := generateShop(t, 1500, 0, "csv")
	pg := connectPG(t)
	schema := "crm_w" + strings.TrimPrefix(randomName(), "x")
	loadContacts(t, pg, schema, dir)
	var total uint64
	if err := pg.QueryRow(context.Background(), "SELECT count(*) FROM "+schema+".contacts").Scan(&total); err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.Dir = dir
	cfg.Source.Postgres.DSN = servicetest.Postgres(t)
	cfg.Source.Postgres.Queries = map[string]string{"customers": contactsQuery(schema)}
	cfg.Source.Postgres.Watermarks = map[string]string{"customers": "updated_at"}
	return pg, schema, total
}

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
	pg, schema, total := crmCustomers(t, &cfg)
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

// TestIncrementalExtractShards: the same source read by an extract Job of 2
// pods. The customers, which pod 0 lands, are read from pod 0's watermark:
// after a Job whose pod 0 never came, and with pod 0 run after pod 1 has
// ended, both read every customer; a second Job reads only the
// overlap window in each pod (pod 0 lands it, pod 1 counts it as other
// pods'), a third lands exactly the ten rows changed; a run in one process,
// which has no watermark of its own yet, reads everything once.
func TestIncrementalExtractShards(t *testing.T) {
	cfg, wh := testClickHouse(t)
	ctx := context.Background()
	pg, schema, total := crmCustomers(t, &cfg)
	var window uint64
	cfg.Kube.Wait = time.Minute // pod 0's wait for a pod that failed
	// customers gives each pod's customers read and counted as other pods'.
	customers := func(res *ExtractResult) (read, others int64) {
		for _, e := range res.Entities {
			if e.Entity == "customers" {
				return e.Read, e.OtherPods
			}
		}
		t.Fatal("no customers in the run")
		return
	}
	// job runs pods of a Job of 2, at once or (oneByOne) each to its end in
	// turn, as when pod 0 is restarted after the other ended.
	job := func(name string, oneByOne bool, pods ...int) [2]*ExtractResult {
		var out [2]*ExtractResult
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for _, i := range pods {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := Open(ctx, cfg, testLogger(t))
				if err != nil {
					errs[i] = err
					return
				}
				defer p.Close()
				p.Done = func(r Result) { out[i] = r.Extract }
				errs[i] = p.Run(ctx, asOf, []string{"extract"}, Shard{Index: i, Of: 2, Job: name})
			}()
			if oneByOne {
				wg.Wait()
			}
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("job %s pod %d: %v", name, i, err)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		return out
	}
	check := func(name string, oneByOne bool, want int64) {
		t.Helper()
		pods := job(name, oneByOne, 1, 0)
		if r, o := customers(pods[0]); r != want || o != 0 {
			t.Errorf("%s: pod 0 read %d customers, %d of other pods; want %d of its own", name, r, o, want)
		}
		if r, o := customers(pods[1]); r != 0 || o != want {
			t.Errorf("%s: pod 1 read %d customers, %d of other pods; want %d of pod 0's", name, r, o, want)
		}
	}
	// A Job whose pod 0 never came: pod 1 lands its orders and no customer,
	// and leaves their watermark where pod 0 left it.
	job("lost", false, 1)
	check("first", true, int64(total)) // pod 1 first, to its end
	v1 := finalVersions(t, wh, "raw_customers", "customer_id")
	overlapQuery := "SELECT count(*) FROM " + schema + ".contacts WHERE modified_at >= (SELECT max(modified_at) FROM " + schema + ".contacts) - interval '1 hour'"
	if err := pg.QueryRow(ctx, overlapQuery).Scan(&window); err != nil {
		t.Fatal(err)
	}
	check("second", false, int64(window))
	mustPG(t, pg, "UPDATE "+schema+".contacts SET city = 'Changed', modified_at = now() WHERE id IN (SELECT id FROM "+schema+".contacts ORDER BY id LIMIT 10)")
	pods := job("third", false, 0, 1)
	if r, _ := customers(pods[0]); r < 10 || r > int64(window)+10 {
		t.Errorf("after ten changes pod 0 read %d customers: want the ten and at most the %d of the overlap window", r, window)
	}
	c, a, g := newVersions(v1, finalVersions(t, wh, "raw_customers", "customer_id"))
	if c != 10 || a+g != 0 {
		t.Errorf("%d customers with a new version, %d new, %d lost: want exactly ten new versions", c, a, g)
	}
	if n, _ := customers(extractOnce(t, cfg, wh)); n != int64(total) {
		t.Errorf("one process after the pods read %d customers, want all %d (no watermark of its own yet)", n, total)
	}
}
