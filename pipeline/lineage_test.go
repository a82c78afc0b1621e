package pipeline

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/config"
)

// TestRunLineage: the stages of one run share an invocation id and carry
// Tessera's version in runs; a stage that runs longer than the progress
// interval says it still runs.
func TestRunLineage(t *testing.T) {
	dir, _ := generateShop(t, 1500, 0, "csv")
	eachStore(t, func(t *testing.T, cfg config.Config) {
		cfg.Source.Files.Dir = dir
		ctx := context.Background()
		var logs bytes.Buffer
		log := logrus.New()
		log.SetOutput(&logs)
		log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
		p, err := Open(ctx, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Version, p.Progress = "v-test", 5e6 // 5 ms
		var ids []string
		p.Done = func(r Result) { ids = append(ids, r.Run.ID) }
		if err := p.Run(ctx, asOf, nil, NoShard); err != nil {
			t.Fatal(err)
		}
		invocations := map[string]bool{}
		for _, id := range ids {
			r, ok, err := p.Store.RunRecord(ctx, id)
			if err != nil || !ok || r.Version != "v-test" || r.Invocation == "" {
				t.Errorf("run %s: %+v (%v, %v)", id, r, ok, err)
			}
			invocations[r.Invocation] = true
		}
		if len(ids) != len(Stages) || len(invocations) != 1 {
			t.Errorf("%d runs in %d invocations, want %d in one", len(ids), len(invocations), len(Stages))
		}
		for _, stage := range []string{"extract", "features", "score"} {
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				found = found || (strings.Contains(line, `msg="still running"`) && slices.Contains(strings.Fields(line), "stage="+stage))
			}
			if !found {
				t.Errorf("no progress line of %s:\n%.2000s", stage, logs.String())
			}
		}
	})
}
