package pipeline

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
)

// TestSourceQueriesReadOnly: a configured source query that would write
// (DELETE … RETURNING, a CREATE) fails extract saying so, and the source
// keeps every row: Tessera only reads a shop's databases.
func TestSourceQueriesReadOnly(t *testing.T) {
	ctx := context.Background()
	name := randomName()
	pg, err := sql.Open("pgx", servicetest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	my := connectMy(t)
	for _, db := range []*sql.DB{pg, my} {
		for _, q := range []string{"CREATE TABLE " + name + " (customer_id VARCHAR(20), created_at VARCHAR(20), updated_at VARCHAR(20))",
			"INSERT INTO " + name + " VALUES ('C1', '2025-01-01', '2025-01-01'), ('C2', '2025-01-01', '2025-01-01')"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { db.Exec("DROP TABLE " + name) })
	}
	deleting := "DELETE FROM " + name + " RETURNING customer_id, created_at, updated_at"
	for _, tt := range []struct {
		source string
		db     *sql.DB
		set    func(cfg *config.Config)
		says   string
	}{
		{"postgres", pg, func(c *config.Config) {
			c.Source.Postgres.DSN = servicetest.Postgres(t)
			c.Source.Postgres.Queries = map[string]string{"customers": deleting}
		}, "read-only transaction"},
		{"mysql", my, func(c *config.Config) {
			c.Source.MySQL.DSN = servicetest.MySQL(t)
			c.Source.MySQL.Queries = map[string]string{"customers": deleting}
		}, "READ ONLY transaction"},
	} {
		t.Run(tt.source, func(t *testing.T) {
			cfg, _ := testClickHouse(t)
			cfg.Source.Files.Dir = t.TempDir() // nothing else to read
			tt.set(&cfg)
			err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t))
			if err == nil || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "queries run read-only") {
				t.Errorf("extract with a deleting query: %v, want an error saying %q", err, tt.says)
			}
			var n int
			if err := tt.db.QueryRowContext(ctx, "SELECT count(*) FROM "+name).Scan(&n); err != nil || n != 2 {
				t.Errorf("the source table has %d rows (%v), want its 2", n, err)
			}
		})
	}
	t.Run("clickhouse", func(t *testing.T) {
		cfg, wh := testClickHouse(t)
		cfg.Source.Files.Dir = t.TempDir()
		cfg.Source.ClickHouse.DSN = "clickhouse://" + cfg.ClickHouse.Addr + "/" + wh.Database()
		cfg.Source.ClickHouse.Queries = map[string]string{"customers": "CREATE TABLE " + wh.Database() + "." + name + " ENGINE = Memory AS SELECT 'C1' AS customer_id"}
		err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t))
		if err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("extract with a query that creates a table: %v, want it refused in readonly mode", err)
		}
		if got := queryStrings(t, wh, "SELECT name FROM system.tables WHERE database = '"+wh.Database()+"' AND name = '"+name+"'"); len(got) != 0 {
			t.Errorf("the query created %v", got)
		}
	})
}
