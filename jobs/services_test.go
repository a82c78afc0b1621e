package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/warehouse"
)

// testClickHouse returns a config pointing at the test ClickHouse and a fresh
// database that is dropped when the test ends. The server is started by
// `make test` (scripts/services.sh up); a missing server fails the test.
func testClickHouse(t testing.TB) (config.Config, *warehouse.ClickHouse) {
	t.Helper()
	addr := os.Getenv("TESSERA_TEST_CLICKHOUSE")
	if addr == "" {
		addr = "127.0.0.1:19000"
	}
	var b [4]byte
	rand.Read(b[:])
	cfg := config.Default()
	cfg.ClickHouse.Addr = addr
	cfg.ClickHouse.Database = "tessera_test_" + hex.EncodeToString(b[:])
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wh, err := warehouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatalf("ClickHouse at %s: %v (start it with scripts/services.sh up, as make test does)", addr, err)
	}
	t.Cleanup(func() {
		wh.Exec(context.Background(), "DROP DATABASE IF EXISTS {db}")
		wh.Close()
	})
	return cfg, wh
}

func testLogger(t *testing.T) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(testWriter{t})
	l.SetLevel(logrus.WarnLevel)
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func testEmbeddedConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	return cfg
}

func randomName() string {
	var b [4]byte
	rand.Read(b[:])
	return "x" + hex.EncodeToString(b[:])
}
