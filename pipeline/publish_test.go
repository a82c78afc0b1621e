package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tesserasql "github.com/tessera-cdp/tessera/sql"
)

// TestPublish: publishing a date twice leaves one copy of it; a publish that
// dies between two tables leaves each table's partition one complete night
// (the new one where it was swapped in, the previous one elsewhere); with two
// dates published, segment_changes is exactly the set difference between them.
func TestPublish(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 4000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 30)
	day1, day2 := d1.Format(time.DateOnly), d2.Format(time.DateOnly)
	if err := runStages(ctx, cfg, d1, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	counts := func(day string) (rows, distinct, runs uint64) {
		queryRow(t, wh, "SELECT count(), uniqExact(customer_id), uniqExact(run_id) FROM {db}.customer_scores WHERE as_of = toDate('"+day+"')", &rows, &distinct, &runs)
		return
	}
	first, _, _ := counts(day1)
	if err := runStages(ctx, cfg, d1, []string{"score", "publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if rows, distinct, runs := counts(day1); rows != first || distinct != rows || runs != 1 {
		t.Errorf("published twice: %d rows (%d customers, %d runs), first time %d", rows, distinct, runs, first)
	}
	// runs records what each publish swapped in.
	details := queryStrings(t, wh, "SELECT detail FROM {db}.runs WHERE stage = 'publish' AND as_of = toDate('"+day1+"') AND status = 'ok'")
	if len(details) != 2 || !strings.Contains(details[0], `"tables":["customer_scores","segments","segment_members","segment_feed","segment_changes"]`) {
		t.Errorf("publish runs recorded: %q", details)
	}

	// A publish that dies after customer_scores: the other tables keep the
	// night before, whole; customer_scores has the new night, whole.
	runsOf := func(table string) []string {
		return queryStrings(t, wh, "SELECT DISTINCT run_id FROM {db}."+table+" WHERE as_of = toDate('"+day1+"') ORDER BY run_id")
	}
	before := map[string][]string{}
	for _, table := range publishedNames() {
		before[table] = runsOf(table)
	}
	var segmentsBefore uint64
	queryRow(t, wh, "SELECT count() FROM {db}.segment_members WHERE as_of = toDate('"+day1+"')", &segmentsBefore)
	failBeforeSegments := func(o *Options) {
		o.Publish.BeforeSwap = func(table string) error {
			if table == "segments" {
				return errors.New("injected failure")
			}
			return nil
		}
	}
	err := runStages(ctx, cfg, d1, []string{"score", "publish"}, testLogger(t), failBeforeSegments)
	if err == nil {
		t.Fatal("the injected failure did not stop publish")
	}
	for _, table := range publishedNames() {
		got := runsOf(table)
		switch {
		case len(got) != 1:
			t.Errorf("%s mixes runs %v after the failed publish", table, got)
		case table == "customer_scores" && got[0] == before[table][0]:
			t.Errorf("customer_scores still has run %s: the swap before the failure did not happen", got[0])
		case table != "customer_scores" && got[0] != before[table][0]:
			t.Errorf("%s has run %s after the failed publish, want the previous night's %s", table, got[0], before[table][0])
		}
	}
	var segmentsAfter uint64
	queryRow(t, wh, "SELECT count() FROM {db}.segment_members WHERE as_of = toDate('"+day1+"')", &segmentsAfter)
	if segmentsAfter != segmentsBefore {
		t.Errorf("segment_members has %d rows after the failed publish, %d before", segmentsAfter, segmentsBefore)
	}
	if err := runStages(ctx, cfg, d1, []string{"publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}

	// Two dates: segment_changes of the second is the set difference.
	if err := runStages(ctx, cfg, d2, []string{"features", "train", "score", "publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	for _, dim := range changeDimensions {
		pairs := func(day string) string {
			return "SELECT customer_id, " + dim + " FROM {db}.customer_scores WHERE as_of = toDate('" + day + "') AND " + dim + " != ''"
		}
		diff := func(a, b string) []string { // pairs of a not in b
			return queryStrings(t, wh, "SELECT concat(customer_id, '|', "+dim+") FROM ("+pairs(a)+") WHERE (customer_id, "+dim+") NOT IN ("+pairs(b)+") ORDER BY customer_id")
		}
		changed := func(side, changes string) []string {
			return queryStrings(t, wh, "SELECT concat(customer_id, '|', "+side+") FROM {db}.segment_changes WHERE as_of = toDate('"+day2+"') AND dimension = '"+dim+
				"' AND change IN ("+changes+") AND previous_as_of = toDate('"+day1+"') ORDER BY customer_id")
		}
		entered, left := diff(day2, day1), diff(day1, day2)
		gotEntered, gotLeft := changed("to_value", "'joined', 'moved'"), changed("from_value", "'left', 'moved'")
		t.Logf("%s: %d entered a value, %d left one", dim, len(entered), len(left))
		if !equal(entered, gotEntered) || !equal(left, gotLeft) {
			t.Errorf("%s: segment_changes has %d entries and %d exits, the set difference %d and %d", dim, len(gotEntered), len(gotLeft), len(entered), len(left))
		}
		if dim == "micro_segment" && len(entered) == 0 {
			t.Error("no customer changed micro-segment in 30 days: the check checks nothing")
		}
	}

	// The analysts' views and the transition report agree with the tables.
	for _, c := range []struct{ view, table string }{
		{"SELECT count() FROM {db}.latest_scores", "SELECT count() FROM {db}.customer_scores WHERE as_of = toDate('" + day2 + "')"},
		{"SELECT count() FROM {db}.segment_trend", "SELECT count() FROM {db}.segments"},
		{"SELECT sum(customers) FROM {db}.vip_pipeline WHERE as_of = toDate('" + day2 + "')", "SELECT countIf(vip_tier != '') FROM {db}.customer_scores WHERE as_of = toDate('" + day2 + "')"},
		{"SELECT sum(buyers) FROM {db}.rfm_grid WHERE as_of = toDate('" + day2 + "')", "SELECT countIf(rfm_r > 0) FROM {db}.customer_scores WHERE as_of = toDate('" + day2 + "')"},
		{"SELECT sum(customers) FROM {db}.lifecycle_flows WHERE as_of = toDate('" + day2 + "')", "SELECT count() FROM {db}.segment_changes WHERE as_of = toDate('" + day2 + "') AND dimension = 'lifecycle_stage'"},
		{"SELECT countIf(auc > 0.5) FROM {db}.model_metrics WHERE kind = 'earlyvip'", "SELECT countIf(kind = 'earlyvip') FROM {db}.models"},
		{"SELECT sum(previous_size > 0) FROM {db}.segment_trend WHERE as_of = toDate('" + day2 + "')", "SELECT count() FROM {db}.segments WHERE as_of = toDate('" + day2 + "') AND segment_id IN (SELECT segment_id FROM {db}.segments WHERE as_of < toDate('" + day2 + "'))"},
	} {
		var got, want uint64
		queryRow(t, wh, "SELECT toUInt64(("+c.view+"))", &got)
		queryRow(t, wh, "SELECT toUInt64(("+c.table+"))", &want)
		if got != want {
			t.Errorf("%s: %d, the tables say %d", c.view, got, want)
		}
	}
	report, err := tesserasql.Reports.ReadFile("reports/lifecycle_transitions.sql")
	if err != nil {
		t.Fatal(err)
	}
	q := strings.NewReplacer("{from}", day1, "{to}", day2).Replace(string(report))
	rows := queryStrings(t, wh, "SELECT toString(sum(non_buyer + new + active + at_risk + lost + reactivated)) FROM ("+q+")")
	var scored uint64
	queryRow(t, wh, "SELECT count() FROM {db}.customer_scores WHERE as_of = toDate('"+day2+"')", &scored)
	if len(rows) != 1 || rows[0] != fmt.Sprint(scored) {
		t.Errorf("the transition matrix holds %v customers, %d were scored", rows, scored)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
