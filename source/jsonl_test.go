package source

import (
	"slices"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/canon"
)

func TestJSONL(t *testing.T) {
	events, _ := canon.Lookup(canon.Events)
	col := func(f []string, name string) string { return f[events.Index(name)] }
	for _, c := range []struct {
		name     string
		in       string
		rows     int
		problems []canon.Rule
		check    func(t *testing.T, fields [][]string)
	}{
		{name: "events", in: `{"event_id":"e1","ts":"2026-10-01 10:00:00","customer_id":"C1","session_id":"s1","type":"product_view","product_id":"P9","browser":"firefox"}
{"event_id":"e2","ts":1790000000,"anonymous_id":"a7","session_id":"s2","type":"search","customer_id":null}
`, rows: 2, check: func(t *testing.T, f [][]string) {
			if col(f[0], "product_id") != "P9" || col(f[0], "customer_id") != "C1" || col(f[1], "ts") != "1790000000" || col(f[1], "customer_id") != "" || col(f[1], "anonymous_id") != "a7" {
				t.Errorf("fields %q", f)
			}
		}},
		{name: "BOM, CRLF, blank lines", in: "\xef\xbb\xbf{\"event_id\":\"e1\",\"type\":\"search\"}\r\n\r\n{\"event_id\":\"e2\",\"type\":\"search\"}\r\n", rows: 2},
		{name: "broken line kept as a rejection", in: `{"event_id":"e1","type":"search"}
{"event_id":"e2","type":
[1,2]
{"event_id":{"nested":true},"type":"search"}
{"event_id":"e5","type":"search"}
`, rows: 5, problems: []canon.Rule{canon.MalformedRecord, canon.MalformedRecord, canon.MalformedRecord}},
		{name: "a 20 MB line is one rejected record, reading goes on", in: `{"event_id":"e1","type":"search"}` + "\n" +
			`{"event_id":"e2","type":"search","search":"` + strings.Repeat("x", 20<<20) + `"}` + "\n" + `{"event_id":"e3","type":"search"}` + "\n",
			rows: 3, problems: []canon.Rule{canon.MalformedRecord}},
		{name: "a long last line without its end", in: `{"event_id":"e1","type":"search"}` + "\n" + strings.Repeat("y", MaxLine+1),
			rows: 2, problems: []canon.Rule{canon.MalformedRecord}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := readAll(t, NewJSONL("events.jsonl", strings.NewReader(c.in), events))
			if res.rows != c.rows || !slices.Equal(res.problems, c.problems) {
				t.Errorf("%d rows, problems %v; want %d, %v", res.rows, res.problems, c.rows, c.problems)
			}
			if c.check != nil {
				c.check(t, res.fields)
			}
		})
	}
	r := NewJSONL("events.jsonl", strings.NewReader("{\"event_id\":\"e1\"}\n\nnot json\n"), events)
	for r.Next() {
	}
	if r.Position() != 3 || r.Raw() != "not json" {
		t.Errorf("position %d, raw %q: want line 3 as read", r.Position(), r.Raw())
	}
}
