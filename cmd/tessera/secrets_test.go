package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/servicetest"
)

// TestSecretsStayOut: passwords given in the environment never appear in the
// output or logs, not even when the server rejects them or the connection
// fails (real ClickHouse, MariaDB and an unreachable PostgreSQL).
func TestSecretsStayOut(t *testing.T) {
	const secret = "S3cret-Pa55-q7Zx"
	ch := servicetest.ClickHouse(t)
	cfg := filepath.Join(t.TempDir(), "tessera.yaml")
	if err := os.WriteFile(cfg, []byte(`source:
  mysql:
    queries:
      customers: SELECT 1 AS customer_id
  postgres:
    queries:
      orders: SELECT 1 AS order_id
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"ClickHouse rejects the password", map[string]string{"TESSERA_CLICKHOUSE_ADDR": ch, "TESSERA_CLICKHOUSE_PASSWORD": secret},
			[]string{"migrate"}},
		{"MariaDB rejects the password", map[string]string{"TESSERA_SOURCE_MYSQL_DSN": "tessera:" + secret + "@tcp(127.0.0.1:13306)/tessera",
			"TESSERA_SOURCE_POSTGRES_DSN": "postgres://tessera@127.0.0.1:15432/tessera?sslmode=disable", "TESSERA_LOG_LEVEL": "debug"},
			[]string{"extract", "--config", cfg}},
		{"PostgreSQL does not answer", map[string]string{"TESSERA_SOURCE_POSTGRES_DSN": "postgres://tessera:" + secret + "@127.0.0.1:1/tessera?connect_timeout=2",
			"TESSERA_SOURCE_MYSQL_DSN": "tessera:tessera@tcp(127.0.0.1:13306)/tessera", "TESSERA_LOG_LEVEL": "debug"},
			[]string{"extract", "--config", cfg}},
		{"a malformed MySQL DSN", map[string]string{"TESSERA_SOURCE_MYSQL_DSN": "tessera:" + secret + "@tcpx(127.0.0.1:13306/tessera",
			"TESSERA_SOURCE_POSTGRES_DSN": "postgres://tessera@127.0.0.1:15432/tessera?sslmode=disable"},
			[]string{"extract", "--config", cfg}},
		{"a malformed PostgreSQL DSN", map[string]string{"TESSERA_SOURCE_POSTGRES_DSN": "postgres://tessera:" + secret + "@127.0.0.1:port/tessera",
			"TESSERA_SOURCE_MYSQL_DSN": "tessera:tessera@tcp(127.0.0.1:13306)/tessera"},
			[]string{"extract", "--config", cfg}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			t.Setenv("TESSERA_DATA_DIR", t.TempDir())
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code == 0 {
				t.Fatalf("exit 0; want a failure:\n%s", out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("the secret is in the output:\n%s", out)
			}
			if !strings.Contains(out, `"level":"error"`) {
				t.Errorf("no error logged:\n%s", out)
			}
			t.Logf("%s", out)
		})
	}
}
