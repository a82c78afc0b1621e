package main

import (
	"strings"
	"testing"
	"time"
)

func TestReadSummaryCSV(t *testing.T) {
	tests := []struct {
		name, in, err string
		rows          int
		money         bool
	}{
		{name: "lifetimes", in: "ID,frequency,recency,T\n1,2,30.43,38.86\n2,0,0,38.86\n", rows: 2},
		{name: "lifetimes with money, unnamed index", in: ",frequency,recency,T,monetary_value\n0,1,2,3,9.5\n", rows: 1, money: true},
		{name: "BTYD", in: "ID,x,t_x,T,zbar\n1,2,30.43,38.86,22.35\n", rows: 1, money: true},
		{name: "unknown columns", in: "a,b,c\n1,2,3\n", err: "neither lifetimes"},
		{name: "no recency", in: "frequency,T\n1,2\n", err: "recency missing"},
		{name: "not a number", in: "frequency,recency,T\n1,x,3\n", err: `line 2: recency "x"`},
		{name: "no rows", in: "frequency,recency,T\n", err: "no rows"},
		{name: "empty", in: "", err: "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ReadSummaryCSV(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.X) != tt.rows || (s.Money != nil) != tt.money {
				t.Errorf("%d rows, money %v", len(s.X), s.Money != nil)
			}
		})
	}
}

func TestSummaryFromTransactionsErrors(t *testing.T) {
	end := time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)
	cols := TransactionColumns{Customer: "c", Date: "d", Amount: "a"}
	for _, c := range []struct{ in, err string }{
		{"c,d\n1,2025-01-01\n", "lacks"},
		{"c,d,a\n1,31/01/2025,5\n", "is not a date"},
		{"c,d,a\n1,2025-01-01,five\n", "is not a number"},
		{"c,d,a\n1,2025-03-01,5\n", "no purchase on or before 2025-01-31"},
	} {
		if _, err := SummaryFromTransactions(strings.NewReader(c.in), cols, end, 24*time.Hour); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: error %v, want one with %q", c.in, err, c.err)
		}
	}
}
