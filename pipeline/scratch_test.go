package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/transform"
)

func TestScratchSummary(t *testing.T) {
	cfg := testEmbeddedConfig(t)
	cfg.Sample.Customers = 1500
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	st, _ := OpenStore(ctx, cfg.ClickHouse, cfg.DataDir, memoryForTest(t))
	defer st.Close()
	mem := memoryForTest(t)
	recs, _ := st.Read(ctx, mem, ordersBefore(asOf), 65536)
	defer release(recs)
	lastDay := asOf.Add(-day)
	calEnd := lastDay.AddDate(0, 0, -90)
	sum, s, err := summarise(mem, recs, transform.SummaryOptions{CalibrationEnd: calEnd, HoldoutEnd: lastDay, Unit: day})
	if err != nil {
		t.Fatal(err)
	}
	defer sum.Release()
	var b strings.Builder
	b.WriteString("frequency,recency,T\n")
	for i := range s.x {
		fmt.Fprintf(&b, "%v,%v,%v\n", s.x[i], s.tx[i], s.T[i])
	}
	os.WriteFile("/tmp/cal1500.csv", []byte(b.String()), 0o644)
}
