package pipeline

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExtractJSONLEvents: site events given as JSON Lines (with an extra
// tracker attribute on every line, one broken line and one of 20 MB) land
// like the CSV: every event in raw_events, the broken and the long line in
// rejected_rows, read = landed + rejected.
func TestExtractJSONLEvents(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 1500, 0, "csv")
	cfg.Source.Files.Dir = dir
	in, err := os.Open(filepath.Join(dir, "events.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(in).ReadAll()
	in.Close()
	if err != nil || len(rows) < 100 {
		t.Fatalf("%d rows: %v", len(rows), err)
	}
	out, err := os.Create(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(out)
	for i, r := range rows[1:] {
		obj := map[string]string{"user_agent": "Mozilla/5.0"}
		for k, h := range rows[0] {
			if r[k] != "" {
				obj[h] = r[k]
			}
		}
		b, _ := json.Marshal(obj)
		w.Write(append(b, '\n'))
		if i == 10 {
			w.WriteString("{\"event_id\": \"broken\n")
		}
		if i == 20 {
			w.WriteString(`{"event_id":"huge","type":"search","search":"` + strings.Repeat("x", 20<<20) + "\"}\n")
		}
	}
	w.Flush()
	out.Close()
	os.Remove(filepath.Join(dir, "events.csv"))
	if err := runStages(context.Background(), cfg, asOf, []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var landed, rejected uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_events FINAL", &landed)
	queryRow(t, wh, "SELECT count() FROM {db}.rejected_rows FINAL WHERE entity = 'events' AND rule = 'malformed_record' AND source = 'events.jsonl'", &rejected)
	if landed != uint64(len(rows)-1) || rejected != 2 {
		t.Errorf("%d events landed of %d, %d lines rejected (want 2)", landed, len(rows)-1, rejected)
	}
	if e := entityOf(t, wh, "events"); e != landed {
		t.Errorf("the run counted %d events landed, raw_events has %d", e, landed)
	}
	var read, runLanded, runRejected uint64
	queryRow(t, wh, "SELECT rows_read, rows_landed, rows_rejected FROM {db}.runs WHERE stage = 'extract'", &read, &runLanded, &runRejected)
	if read != runLanded+runRejected {
		t.Errorf("the run read %d, landed %d, rejected %d", read, runLanded, runRejected)
	}
}
