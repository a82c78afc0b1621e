package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cdnowCSV writes CDNOW_sample.txt as a transactions CSV.
func cdnowCSV(t *testing.T) string {
	in, err := os.Open("../../testdata/cdnow/CDNOW_sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(t.TempDir(), "cdnow.csv")
	out, _ := os.Create(path)
	w := csv.NewWriter(out)
	w.Write([]string{"cust", "day", "dollars"})
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		w.Write([]string{f[1], f[2], f[4]})
	}
	w.Flush()
	out.Close()
	return path
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("tessera %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestLTVFit(t *testing.T) {
	summary := "../../testdata/cdnow/cdnow_customers_summary.csv"
	btyd := "../../testdata/cdnow/cdnow_customers_summary_with_transactions.csv"
	txns := cdnowCSV(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--model", "bgnbd", "--summary", summary}, []string{"r          0.2426", "alpha      4.4135", "a          0.7929", "log-likelihood -9582.4"}},
		{[]string{"--model", "mbgnbd", "--summary", btyd}, []string{"r          0.5248", "alpha      6.1830"}},
		{[]string{"--model", "pnbd", "--summary", summary}, []string{"r          0.5533", "s          0.6062", "log-likelihood -9594.97"}},
		{[]string{"--model", "gg", "--summary", btyd}, []string{"p          6.24", "q          3.74", "log-likelihood -4055.92"}},
		// From the transactions: the unrounded summary gives the published fit.
		{[]string{"--model", "bgnbd", "--transactions", txns, "--customer-col", "cust", "--date-col", "day", "--calibration-end", "1997-09-30"},
			[]string{"bgnbd fitted on 2357 customers", "r          0.2426", "b          2.4259", "log-likelihood -9582.429"}},
	}
	for _, tt := range tests {
		out := runOK(t, append([]string{"ltv", "fit"}, tt.args...)...)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("ltv fit %v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}

func TestLTVPredict(t *testing.T) {
	dir := t.TempDir()
	btyd := "../../testdata/cdnow/cdnow_customers_summary_with_transactions.csv"
	os.WriteFile(filepath.Join(dir, "bg.json"), []byte(runOK(t, "ltv", "fit", "--model", "bgnbd", "--summary", btyd, "--json")), 0o644)
	os.WriteFile(filepath.Join(dir, "gg.json"), []byte(runOK(t, "ltv", "fit", "--model", "gg", "--summary", btyd, "--json")), 0o644)
	out := runOK(t, "ltv", "predict", "--model-file", filepath.Join(dir, "bg.json"), "--spend-file", filepath.Join(dir, "gg.json"),
		"--summary", btyd, "--horizon", "39")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2358 || strings.Join(recs[0], ",") != "customer_id,p_alive,expected_purchases,next_order_in,expected_value,clv" {
		t.Fatalf("%d rows, header %v", len(recs), recs[0])
	}
	// Customer 1: x=2, t_x=30.43, T=38.86 expects 1.226 purchases in 39 weeks (published).
	if recs[1][0] != "1" || !strings.HasPrefix(recs[1][2], "1.22") {
		t.Errorf("customer 1: %v", recs[1])
	}
	for _, r := range recs[1:] {
		for _, v := range r[1:] {
			if v == "" || strings.Contains(v, "NaN") || strings.Contains(v, "Inf") {
				t.Fatalf("row %v", r)
			}
		}
	}
}

func TestLTVUsage(t *testing.T) {
	for _, args := range [][]string{{"ltv"}, {"ltv", "fit", "--model", "nbd", "--summary", "x"}, {"ltv", "fit", "--model", "bgnbd"},
		{"ltv", "predict", "--summary", "x"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"ltv", "fit", "--model", "bgnbd", "--summary", "/nonexistent.csv"}, &stdout, &stderr); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}
