package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/report"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// testClickHouse returns a config pointing at the test ClickHouse and a fresh
// database that is dropped when the test ends. The server is started by
// `make test` (scripts/services.sh up); a missing server fails the test.
func testClickHouse(t testing.TB) (config.Config, *clickhouse.DB) {
	t.Helper()
	addr := servicetest.ClickHouse(t)
	var b [4]byte
	rand.Read(b[:])
	cfg := config.Default()
	cfg.ClickHouse.Addr = addr
	cfg.ClickHouse.Database = "tessera_test_" + hex.EncodeToString(b[:])
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wh, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatalf("ClickHouse at %s: %v (start it with scripts/services.sh up, as make test does)", addr, err)
	}
	t.Cleanup(func() {
		wh.Exec(context.Background(), "DROP DATABASE IF EXISTS {db}")
		wh.Close()
	})
	return cfg, wh
}

func testLogger(t testing.TB) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(testWriter{t})
	l.SetLevel(logrus.WarnLevel)
	return l
}

type testWriter struct{ t testing.TB }

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

// runStages runs stages (all when nil) for a date against the configured
// warehouse, as `tessera run` does outside Kubernetes, with the warehouse's
// run lock as the config has it (a holder of its own); set changes the
// options the config gave.
func runStages(ctx context.Context, cfg config.Config, asOf time.Time, stages []string, log *logrus.Logger, set ...func(*Options)) error {
	return runShard(ctx, cfg, asOf, stages, NoShard, log, set...)
}

func runShard(ctx context.Context, cfg config.Config, asOf time.Time, stages []string, sh Shard, log *logrus.Logger, set ...func(*Options)) error {
	p, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	p.Locker = NewStoreLock(p.Store, cfg.Kube, "test-"+randomName())
	for _, f := range set {
		f(&p.Options)
	}
	return p.Run(ctx, asOf, stages, sh)
}

// runShards runs stages for a date split over n shards of one job, all at
// once as the pods of an Indexed Job run, and fails the test if any fails.
func runShards(t *testing.T, cfg config.Config, asOf time.Time, stages []string, n int, job string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = runShard(context.Background(), cfg, asOf, stages, Shard{Index: i, Of: n, Job: job}, testLogger(t))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s shard %d of %d: %v", job, i, n, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// exportDate exports a published date as `tessera export` does.
func exportDate(ctx context.Context, cfg config.Config, asOf time.Time, format, dir string, log *logrus.Logger) error {
	p, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	_, err = p.Export(ctx, asOf, format, dir)
	return err
}

// reportDate writes the report of a published date as `tessera report` does.
func reportDate(ctx context.Context, cfg config.Config, asOf time.Time, path string, log *logrus.Logger) error {
	p, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	d, err := p.Report(ctx, asOf)
	if err != nil {
		return err
	}
	return report.WriteFile(path, d)
}

// extractOnce runs extract alone, as of asOf, with the config's options; a
// failure fails the test.
func extractOnce(t testing.TB, cfg config.Config, st warehouse.Store) *ExtractResult {
	t.Helper()
	res, err := Extract(context.Background(), NewRun(testLogger(t), memory.DefaultAllocator, "extract", asOf), st, OptionsFrom(cfg).Extract)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// eachStore runs a test against the in-process store (the embedded Parquet
// folder) and against the real ClickHouse: the same suite for both.
func eachStore(t *testing.T, test func(t *testing.T, cfg config.Config)) {
	t.Run("embedded", func(t *testing.T) { test(t, testEmbeddedConfig(t)) })
	t.Run("clickhouse", func(t *testing.T) {
		cfg, _ := testClickHouse(t)
		test(t, cfg)
	})
}

// memoryForTest is an allocator that fails the test if anything allocated
// from it is not released by the test's end.
func memoryForTest(t *testing.T) memory.Allocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}
