package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/warehouse"
)

// TestStoreLock: the warehouse's run lock, on the in-process store and on
// ClickHouse alike: one holder at a time per name and date, the loser fails
// at once naming the holder or waits for the release; another date or stage
// is another lock.
func TestStoreLock(t *testing.T) {
	eachStore(t, func(t *testing.T, cfg config.Config) {
		ctx := context.Background()
		st, err := OpenStore(ctx, cfg.ClickHouse, cfg.DataDir, memoryForTest(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		o := func(holder string, wait time.Duration) warehouse.LockOptions {
			return warehouse.LockOptions{Holder: holder, TTL: 15 * time.Second, Wait: wait, Poll: 100 * time.Millisecond}
		}
		unlockA, where, err := st.Lock(ctx, []string{"extract", "features"}, lockDay, o("runner-a", 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Log(where)
		if _, _, err := st.Lock(ctx, []string{"features"}, lockDay, o("runner-b", 0)); !errors.Is(err, warehouse.ErrLocked) || !strings.Contains(err.Error(), "runner-a") {
			t.Fatalf("a second runner: %v, want ErrLocked naming runner-a", err)
		}
		other, _, err := st.Lock(ctx, []string{"features"}, lockDay.AddDate(0, 0, 1), o("runner-b", 0))
		if err != nil {
			t.Fatalf("another date: %v", err)
		}
		other(ctx)
		got := make(chan error, 1)
		go func() {
			unlock, _, err := st.Lock(ctx, []string{"features"}, lockDay, o("runner-b", time.Minute))
			if err == nil {
				err = unlock(ctx)
			}
			got <- err
		}()
		time.Sleep(time.Second)
		select {
		case err := <-got:
			t.Fatalf("runner b got the lock while a held it: %v", err)
		default:
		}
		if err := unlockA(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("runner b after the release: %v", err)
		}
		// The pods of one Job share a holder: each takes the names, another
		// holder is refused while any of them holds them.
		var pods []func(context.Context) error
		for i := range 3 {
			unlock, _, err := st.Lock(ctx, []string{"features", "score"}, lockDay, o("job j", 0))
			if err != nil {
				t.Fatalf("pod %d of job j: %v", i, err)
			}
			pods = append(pods, unlock)
		}
		for i, unlock := range pods {
			if _, _, err := st.Lock(ctx, []string{"score"}, lockDay, o("job k", 0)); !errors.Is(err, warehouse.ErrLocked) || !strings.Contains(err.Error(), "job j") {
				t.Fatalf("job k while %d of job j's pods hold the names: %v, want ErrLocked naming job j", len(pods)-i, err)
			}
			if err := unlock(ctx); err != nil {
				t.Fatal(err)
			}
		}
		unlockK, _, err := st.Lock(ctx, []string{"score"}, lockDay, o("job k", 0))
		if err != nil {
			t.Fatalf("job k once job j's pods are done: %v", err)
		}
		unlockK(ctx)
	})
}

// TestConcurrentRuns: three `tessera run` for one date at once, with no
// Kubernetes: without waiting one proceeds and the others fail naming the
// holder; waiting, they run one after another. Either way the published
// night is what one run publishes.
func TestConcurrentRuns(t *testing.T) {
	dir, _ := generateShop(t, 3000, 0, "csv")
	d := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	eachStore(t, func(t *testing.T, cfg config.Config) {
		cfg.Source.Files.Dir = dir
		ctx := context.Background()
		ref := cfg
		ref.DataDir = t.TempDir()
		if ref.ClickHouse.Addr != "" {
			refCfg, _ := testClickHouse(t)
			ref.ClickHouse = refCfg.ClickHouse
		}
		if err := runStages(ctx, ref, d, nil, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		want := nightSums(t, ref, d)
		// The warehouse is migrated before (by the chart's migration hook):
		// runs that race on a fresh database's migrations are another matter.
		if st, err := OpenStore(ctx, cfg.ClickHouse, cfg.DataDir, memoryForTest(t)); err != nil {
			t.Fatal(err)
		} else {
			st.Close()
		}
		for _, wait := range []time.Duration{0, 10 * time.Minute} {
			errs := make([]error, 3)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p, err := Open(ctx, cfg, testLogger(t))
					if err != nil {
						errs[i] = err
						return
					}
					defer p.Close()
					p.Locker = StoreLock{Store: p.Store, Options: warehouse.LockOptions{Holder: fmt.Sprintf("runner-%d", i), TTL: 15 * time.Second, Wait: wait, Poll: 200 * time.Millisecond}}
					errs[i] = p.Run(ctx, d, nil, NoShard)
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case wait > 0 || !errors.Is(err, warehouse.ErrLocked) || !strings.Contains(err.Error(), "held by runner-"):
					t.Errorf("wait %s: %v", wait, err)
				}
			}
			if (wait == 0 && ok != 1) || (wait > 0 && ok != 3) {
				t.Errorf("wait %s: %d of 3 runs completed (%v)", wait, ok, errs)
			}
			if got := nightSums(t, cfg, d); got != want {
				t.Errorf("wait %s: the night published is\n%s\none run publishes\n%s", wait, got, want)
			}
		}
	})
}

// nightSums are the row count and a content checksum of each published
// table of the date, every column but run and model ids, read through the
// store as it is (not through the date's publication).
func nightSums(t *testing.T, cfg config.Config, asOf time.Time) string {
	t.Helper()
	tables := append([]warehouse.Table{warehouse.CustomerFeatures}, warehouse.Published...)
	out, err := tableSums(cfg, tables, func(st warehouse.Store, tbl string, schema *arrow.Schema) (arrow.Record, error) {
		return st.ReadPartition(context.Background(), memory.DefaultAllocator, tbl, schema, asOf)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tableSums are the row count and a content checksum of each table as read
// reads it, every column but run and model ids.
func tableSums(cfg config.Config, tables []warehouse.Table, read func(st warehouse.Store, table string, schema *arrow.Schema) (arrow.Record, error)) (string, error) {
	st, err := OpenStore(context.Background(), cfg.ClickHouse, cfg.DataDir, memory.DefaultAllocator)
	if err != nil {
		return "", err
	}
	defer st.Close()
	var b strings.Builder
	for _, tbl := range tables {
		var cols []string
		for _, f := range tbl.Schema.Fields() {
			if f.Name != "model_id" && f.Name != "early_vip_model_id" {
				cols = append(cols, f.Name)
			}
		}
		rec, err := read(st, tbl.Name, tbl.Columns(cols...))
		if err != nil {
			return b.String(), err
		}
		var sum uint64
		for i := 0; i < int(rec.NumRows()); i++ {
			h := fnv.New64a()
			for _, c := range rec.Columns() {
				fmt.Fprint(h, c.(interface{ ValueStr(int) string }).ValueStr(i), "\x00")
			}
			sum += h.Sum64()
		}
		fmt.Fprintf(&b, "%s %d %d\n", tbl.Name, rec.NumRows(), sum)
		rec.Release()
	}
	return b.String(), nil
}
