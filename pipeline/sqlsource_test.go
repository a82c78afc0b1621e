package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// TestExtractFromDatabases reads customers from a CRM schema in PostgreSQL and
// orders with their lines from a shop schema in MariaDB, each mapped onto the
// canonical model by the queries of the config, and checks that ClickHouse ends
// up with exactly what the same shop gives when read from files; bad rows in the
// databases are rejected with their rule.
func TestExtractFromDatabases(t *testing.T) {
	ctx := context.Background()
	dir, _ := generateShop(t, 3000, 0, "csv")
	suffix := strings.TrimPrefix(randomName(), "x")

	// PostgreSQL: a CRM with its own column names.
	pg := connectPG(t)
	schema := "crm_" + suffix
	loadContacts(t, pg, schema, dir)
	mustPG(t, pg, `INSERT INTO `+schema+`.contacts (id, email, modified_at) VALUES ('CBAD-1', 'x@y.example', now())`) // no registration time

	// MariaDB: a shop with its own column names.
	my := connectMy(t)
	orders, items := "shop_orders_"+suffix, "shop_order_items_"+suffix
	mustMy(t, my, `CREATE TABLE `+orders+` (entity_id varchar(40) PRIMARY KEY, customer_ref varchar(40), created_at datetime,
		state varchar(32), currency_code char(3), subtotal decimal(12,2), discount decimal(12,2), grand_total decimal(12,2),
		qty int, channel varchar(16), coupon varchar(32), rating tinyint NULL, updated_at datetime, shipping decimal(12,2) NULL)`)
	mustMy(t, my, `CREATE TABLE `+items+` (order_ref varchar(40), line_number int, product_ref varchar(40), qty int,
		price decimal(12,2), line_discount decimal(12,2), qty_returned int, freight decimal(12,2) NULL, PRIMARY KEY (order_ref, line_number))`)
	t.Cleanup(func() { my.Exec("DROP TABLE IF EXISTS " + orders + ", " + items) })
	loadMy(t, my, filepath.Join(dir, "orders.csv"), orders)
	loadMy(t, my, filepath.Join(dir, "order_lines.csv"), items)
	mustMy(t, my, "INSERT INTO "+items+" VALUES ('O-NOT-THERE', 1, 'P000001', 1, 9.99, 0, 0, NULL), ('O00000002-1', 99, 'P000001', -2, 9.99, 0, 0, NULL)")

	cfg, wh := testClickHouse(t)
	cfg.Source.Files.Dir = dir // products, events and campaign events
	cfg.Source.Postgres.DSN = servicetest.Postgres(t) + "&timezone=UTC"
	cfg.Source.Postgres.Queries = map[string]string{"customers": contactsQuery(schema)}
	cfg.Source.MySQL.DSN = servicetest.MySQL(t)
	cfg.Source.MySQL.Queries = map[string]string{
		"orders": `SELECT entity_id AS order_id, customer_ref AS customer_id, created_at AS ordered_at, state AS status,
			currency_code AS currency, subtotal AS gross_amount, discount AS discount_amount, grand_total AS net_amount,
			qty AS items_count, channel, coupon AS promo_code, rating, updated_at FROM ` + orders,
		"order_lines": `SELECT order_ref AS order_id, line_number AS line_no, product_ref AS product_id, qty AS quantity,
			price AS unit_price, line_discount AS discount, qty_returned AS returned_quantity FROM ` + items,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := runStages(ctx, cfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}

	// The same shop read from files, in another database.
	fileCfg, fileWH := testClickHouse(t)
	fileCfg.Source.Files.Dir = dir
	if err := runStages(ctx, fileCfg, asOf, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range canon.Tables {
		got, want := contentSum(t, wh, tbl), contentSum(t, fileWH, tbl)
		if got != want {
			t.Errorf("%s from the databases: %s; from files: %s", tbl.Entity, got, want)
		}
	}
	rejected := queryStrings(t, wh, "SELECT concat(source, ' ', rule) FROM {db}.rejected_rows FINAL ORDER BY source, rule")
	want := []string{"mysql:order_lines negative_quantity", "mysql:order_lines unknown_order", "postgres:customers missing_field"}
	if strings.Join(rejected, "|") != strings.Join(want, "|") {
		t.Errorf("rejected %q, want %q", rejected, want)
	}
}

// contentSum is the row count and an order-independent checksum of a raw table's
// canonical columns.
func contentSum(t *testing.T, wh *clickhouse.DB, tbl *canon.Table) string {
	var cols []string
	for _, c := range tbl.Columns {
		cols = append(cols, "toString("+c.Name+")")
	}
	var n, sum uint64
	queryRow(t, wh, fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM {db}.%s FINAL", strings.Join(cols, ", "), warehouse.RawTable(tbl.Entity)), &n, &sum)
	return fmt.Sprintf("%d rows, checksum %x", n, sum)
}

func mustPG(t *testing.T, c *pgx.Conn, q string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func mustMy(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// loadMy inserts a canonical CSV file into a table with the same column order,
// empty values as NULL.
func loadMy(t *testing.T, db *sql.DB, path, table string) {
	t.Helper()
	_, recs := readCSV(t, path)
	for len(recs) > 0 {
		n := min(len(recs), 1000)
		var q strings.Builder
		var args []any
		fmt.Fprintf(&q, "INSERT INTO %s VALUES ", table)
		for i, r := range recs[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(" + strings.TrimSuffix(strings.Repeat("?,", len(r)), ",") + ")")
			for _, v := range r {
				if v == "" {
					args = append(args, nil)
				} else {
					args = append(args, v)
				}
			}
		}
		if _, err := db.Exec(q.String(), args...); err != nil {
			t.Fatalf("load %s: %v", table, err)
		}
		recs = recs[n:]
	}
}

// loadContacts creates schema with a CRM contacts table of its own column
// names holding the generated shop's customers; the schema is dropped at the end.
func loadContacts(t *testing.T, pg *pgx.Conn, schema, dir string) {
	t.Helper()
	ctx := context.Background()
	mustPG(t, pg, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { pg.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	mustPG(t, pg, `CREATE TABLE `+schema+`.contacts (id text PRIMARY KEY, email text, email_sha256 text,
		registered_at timestamptz, country_code char(2), city text, source text, email_ok boolean, sms_ok boolean,
		push_ok boolean, modified_at timestamptz NOT NULL)`)
	f, err := os.Open(filepath.Join(dir, "customers.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := pg.PgConn().CopyFrom(ctx, f, `COPY `+schema+`.contacts (id, email, email_sha256, registered_at,
		country_code, city, source, email_ok, sms_ok, push_ok, modified_at) FROM STDIN WITH (FORMAT csv, HEADER true)`); err != nil {
		t.Fatal(err)
	}
}

// contactsQuery maps the CRM contacts table of loadContacts onto customers.
func contactsQuery(schema string) string {
	return `SELECT id AS customer_id, email, email_sha256 AS email_hash, registered_at AS created_at,
		country_code AS country, city, source AS acquisition_source, email_ok AS optin_email, sms_ok AS optin_sms,
		push_ok AS optin_push, modified_at AS updated_at FROM ` + schema + `.contacts`
}

// connectPG connects to the test PostgreSQL, in UTC.
func connectPG(t testing.TB) *pgx.Conn {
	t.Helper()
	pg, err := pgx.Connect(context.Background(), servicetest.Postgres(t)+"&timezone=UTC")
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it with scripts/services.sh up, as make test does)", servicetest.Postgres(t), err)
	}
	t.Cleanup(func() { pg.Close(context.Background()) })
	return pg
}

// connectMy connects to the test MariaDB.
func connectMy(t testing.TB) *sql.DB {
	t.Helper()
	my, err := sql.Open("mysql", servicetest.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { my.Close() })
	if err := my.Ping(); err != nil {
		t.Fatalf("MariaDB at %s: %v (start it with scripts/services.sh up, as make test does)", servicetest.MySQL(t), err)
	}
	return my
}
