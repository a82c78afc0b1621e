package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/pipeline"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/parquetdir"
)

// rawCounted is a store that counts its counts of the raw tables.
type rawCounted struct {
	*parquetdir.Dir
	counted int
}

func (r *rawCounted) RawCounts(ctx context.Context) ([]warehouse.Count, error) {
	r.counted++
	return r.Dir.RawCounts(ctx)
}

// TestPrintExtractRawCounts: one process and pod 0 of a sharded extract
// print the raw tables' rows; the other pods do not count them (a count by
// key reads every raw table whole), and say who does.
func TestPrintExtractRawCounts(t *testing.T) {
	dir, err := parquetdir.Open(t.TempDir(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		shard   string
		counted bool
	}{{"", true}, {"0/4", true}, {"1/4", false}, {"3/4", false}} {
		st := &rawCounted{Dir: dir}
		var out bytes.Buffer
		res := pipeline.Result{Run: pipeline.Run{ID: "run"}, Extract: &pipeline.ExtractResult{Shard: c.shard, Job: "job"}}
		if err := printExtract(context.Background(), &out, st, res); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		if got := st.counted == 1 && strings.Contains(text, "raw_orders"); got != c.counted || st.counted > 1 {
			t.Errorf("shard %q: counted the raw tables %d times, printed them %v; want %v:\n%s", c.shard, st.counted, strings.Contains(text, "raw_orders"), c.counted, text)
		}
		if says := strings.Contains(text, "pod 0 counts them"); says == c.counted {
			t.Errorf("shard %q: says pod 0 counts the raw tables: %v:\n%s", c.shard, says, text)
		}
	}
}
