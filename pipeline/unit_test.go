package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// TestNightIsOneUnit: whatever cuts a publish short (between any two swaps,
// before its record, or a staging insert cut short), readers see the night
// before whole or nothing, never a mix; export fails rather than exit 0 on
// such a date; publish alone, or a full re-run, then publishes what one run
// does. On ClickHouse, a replaced part brought back (as a restart right after
// a re-publish does) is not read either.
func TestNightIsOneUnit(t *testing.T) {
	dir, _ := generateShop(t, 2500, 0, "csv")
	d := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	eachStore(t, func(t *testing.T, cfg config.Config) {
		cfg.Source.Files.Dir = dir
		ctx := context.Background()
		if err := runStages(ctx, cfg, d, nil, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		want, err := publishedSums(cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []string{"segments", "segment_members", "segment_feed", "segment_changes", "publications"} {
			failBefore := func(o *Options) {
				o.Publish.BeforeSwap = func(table string) error {
					if table == cut {
						return errors.New("killed")
					}
					return nil
				}
			}
			if err := runStages(ctx, cfg, d, []string{"score", "publish"}, testLogger(t), failBefore); err == nil {
				t.Fatalf("publish cut before %s did not fail", cut)
			}
			// Some tables swapped (all, when cut before the record), the
			// publication still the night before's: no night reads, and no
			// mix of two.
			if got, err := publishedSums(cfg, d); !errors.Is(err, warehouse.ErrIncomplete) {
				t.Errorf("cut before %s: readers got\n%s(%v), want the date read as incomplete", cut, got, err)
			}
			if err := exportDate(ctx, cfg, d, "csv", t.TempDir(), testLogger(t)); !errors.Is(err, warehouse.ErrIncomplete) {
				t.Errorf("cut before %s: export %v, want a failure naming the incomplete date", cut, err)
			}
			if err := runStages(ctx, cfg, d, []string{"publish"}, testLogger(t)); err != nil {
				t.Fatalf("publish again after the cut before %s: %v", cut, err)
			}
			if got, err := publishedSums(cfg, d); err != nil || got != want {
				t.Errorf("publish again after the cut before %s: readers see\n%s(%v)\nwant\n%s", cut, got, err, want)
			}
		}
		// A staging insert cut short: publish refuses naming the table, a
		// full re-run publishes the night. Customer scores, members and the
		// feeds are staged by publish itself (from its shards' parts, from
		// its shards' counts of the baskets): what was staged before is
		// replaced, and the night published whole.
		st, err := OpenStore(ctx, cfg.ClickHouse, cfg.DataDir, memoryForTest(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := runStages(ctx, cfg, d, []string{"score"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		for _, tbl := range []warehouse.Table{warehouse.CustomerScores, warehouse.Segments, warehouse.SegmentMembers, warehouse.SegmentFeed} {
			halfStage(t, st, tbl, d)
			err = runStages(ctx, cfg, d, []string{"publish"}, testLogger(t))
			if tbl.Name != warehouse.Segments.Name {
				if err != nil {
					t.Errorf("publish over a half-staged %s: %v, want the night built again and published", tbl.Name, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), "staged "+tbl.Name) {
				t.Errorf("publish of a half-staged %s: %v, want a refusal naming it", tbl.Name, err)
			}
			if got, err := publishedSums(cfg, d); err != nil || got != want {
				t.Errorf("after the refusal, readers see\n%s(%v)\nwant\n%s", got, err, want)
			}
			if err := runStages(ctx, cfg, d, []string{"score"}, testLogger(t)); err != nil {
				t.Fatal(err)
			}
		}
		if err := runStages(ctx, cfg, d, nil, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		if got, err := publishedSums(cfg, d); err != nil || got != want {
			t.Errorf("after a full re-run, readers see\n%s(%v)\nwant\n%s", got, err, want)
		}
		if w, ok := st.(*clickhouse.DB); ok {
			partBroughtBack(t, w, d, want, cfg)
		}
	})
}

// halfStage replaces a staged table's partition of the date with the first
// half of its rows, as a staging insert cut short leaves it.
func halfStage(t *testing.T, st warehouse.Store, tbl warehouse.Table, d time.Time) {
	t.Helper()
	ctx := context.Background()
	runs, err := st.PartitionRuns(ctx, tbl.Name+"_staging", d)
	if err != nil || len(runs) != 1 {
		t.Fatalf("staged %s: runs %v, %v", tbl.Name, runs, err)
	}
	var scoreRun string
	for r := range runs {
		scoreRun = r
	}
	mem := memoryForTest(t)
	part, err := st.ReadRun(ctx, mem, tbl.Name+"_staging", tbl.Schema, d, scoreRun)
	if err != nil {
		t.Fatal(err)
	}
	defer part.Release()
	half := part.NewSlice(0, part.NumRows()/2)
	defer half.Release()
	if err := st.Stage(ctx, tbl.Name, d, scoreRun, half); err != nil {
		t.Fatal(err)
	}
}

// partBroughtBack puts an older run's rows back beside the published ones,
// as ClickHouse 18.16 does when it restarts right after REPLACE PARTITION
// (both parts active): readers, the views and export still see one night.
func partBroughtBack(t *testing.T, w *clickhouse.DB, d time.Time, want string, cfg config.Config) {
	ctx := context.Background()
	day := d.Format(time.DateOnly)
	for _, tbl := range []string{"customer_scores", "segments", "segment_members", "segment_feed"} {
		cols := queryStrings(t, w, "SELECT name FROM system.columns WHERE database = '"+w.Database()+"' AND table = '"+tbl+"'")
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = c
			if c == "run_id" {
				exprs[i] = "'an-older-run'"
			}
		}
		q := fmt.Sprintf("INSERT INTO {db}.%s (%s) SELECT %s FROM {db}.%s WHERE as_of = '%s'", tbl, strings.Join(cols, ", "), strings.Join(exprs, ", "), tbl, day)
		if err := w.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var doubled, view uint64
	queryRow(t, w, "SELECT count() FROM {db}.customer_scores WHERE as_of = '"+day+"'", &doubled)
	queryRow(t, w, "SELECT count() FROM {db}.latest_scores", &view)
	if got, err := publishedSums(cfg, d); err != nil || got != want {
		t.Errorf("with an older part back, readers see\n%s(%v)\nwant\n%s", got, err, want)
	}
	if view*2 != doubled {
		t.Errorf("with an older part back, latest_scores has %d rows, the table %d", view, doubled)
	}
	out := t.TempDir()
	if err := exportDate(ctx, cfg, d, "csv", out, testLogger(t)); err != nil {
		t.Errorf("export with an older part back: %v", err)
	}
}

// publishedSums are the row count and a content checksum of each published
// table of the date as readers read it (through its publication), every
// column but run and model ids.
func publishedSums(cfg config.Config, asOf time.Time) (string, error) {
	return tableSums(cfg, warehouse.Published, func(st warehouse.Store, tbl string, schema *arrow.Schema) (arrow.Record, error) {
		return warehouse.ReadPublished(context.Background(), st, memory.DefaultAllocator, tbl, schema, asOf)
	})
}

// TestRestartAfterRepublish: a ClickHouse of the test's own is killed and
// started again right after a date is published again (ClickHouse 18.16 may
// then bring the replaced part back beside the new one): readers and export
// see one night, every time.
func TestRestartAfterRepublish(t *testing.T) {
	addr, restart := servicetest.PrivateClickHouse(t)
	cfg := config.Default()
	cfg.ClickHouse.Addr, cfg.DataDir = addr, t.TempDir()
	dir, _ := generateShop(t, 1500, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	d := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if err := runStages(ctx, cfg, d, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	want, err := publishedSums(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	broughtBack := 0
	for try := 1; try <= 4; try++ {
		if err := runStages(ctx, cfg, d, []string{"score", "publish"}, testLogger(t)); err != nil {
			t.Fatal(err)
		}
		restart()
		w, err := clickhouse.Open(ctx, cfg.ClickHouse)
		if err != nil {
			t.Fatal(err)
		}
		var runs uint64
		queryRow(t, w, "SELECT uniqExact(run_id) FROM {db}.customer_scores WHERE as_of = '"+d.Format(time.DateOnly)+"'", &runs)
		w.Close()
		if runs > 1 {
			broughtBack++
		}
		if got, err := publishedSums(cfg, d); err != nil || got != want {
			t.Errorf("try %d (%d runs in customer_scores after the restart): readers see\n%s(%v)\nwant\n%s", try, runs, got, err, want)
		}
		if err := exportDate(ctx, cfg, d, "csv", t.TempDir(), testLogger(t)); err != nil {
			t.Errorf("try %d: export after the restart: %v", try, err)
		}
		if rep := reportCustomers(t, cfg, d); !strings.Contains(want, fmt.Sprintf("customer_scores %d ", rep)) {
			t.Errorf("try %d: the report counts %d customers after the restart; one night is\n%s", try, rep, want)
		}
	}
	t.Logf("%d of 4 restarts right after a re-publish left customer_scores with the rows of more than one run; readers saw one night every time", broughtBack)
}

// reportCustomers is how many customers the report of a date counts.
func reportCustomers(t *testing.T, cfg config.Config, d time.Time) int {
	t.Helper()
	p, err := Open(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	data, err := p.Report(context.Background(), d)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	return data.Customers
}

// signalCause is a cancellation's cause as os/signal.NotifyContext gives
// it: errors.Is takes it for context.Canceled, its text does not say so.
type signalCause string

func (s signalCause) Error() string        { return string(s) }
func (s signalCause) Is(target error) bool { return target == context.Canceled }

// TestSaysStopped: a stage's error says it was stopped when its context is
// done, also when the step it stopped in gave the cancellation's cause (a
// SIGTERM's "terminated signal received"), and only then.
func TestSaysStopped(t *testing.T) {
	live := context.Background()
	stopped, cancel := context.WithCancelCause(live)
	cause := signalCause("terminated signal received")
	cancel(cause)
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"no error", stopped, nil, "<nil>"},
		{"not stopped", live, errors.New("bad row"), "bad row"},
		{"stopped, saying so", stopped, fmt.Errorf("land: %w", context.Canceled), "land: context canceled"},
		{"stopped, giving the cause", stopped, fmt.Errorf("record the text lengths: %w", cause), "record the text lengths: terminated signal received (stopped: context canceled)"},
		{"stopped, another error", stopped, errors.New("connection reset"), "connection reset (stopped: context canceled)"},
	} {
		if got := fmt.Sprint(saysStopped(c.ctx, c.err)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
