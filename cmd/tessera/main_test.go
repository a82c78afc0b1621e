package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("no_such_key: 1\n"), 0o600)
	out := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no command", nil, 2, "Usage: tessera COMMAND"},
		{"help", []string{"--help"}, 0, "generate"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"command help", []string{"generate", "--help"}, 0, "-bad-rows"},
		{"run help", []string{"run", "--help"}, 0, "-as-of"},
		{"unknown flag", []string{"generate", "--colour"}, 2, "colour"},
		{"missing out", []string{"generate"}, 2, "--out is required"},
		{"bad value", []string{"generate", "--out", out, "--format", "xlsx"}, 2, "format must be csv or parquet"},
		{"bad date", []string{"run", "--as-of", "yesterday"}, 2, "want YYYY-MM-DD"},
		{"bad config", []string{"run", "--config", bad}, 2, "no_such_key"},
		{"missing config", []string{"run", "--config", "/nonexistent.yaml"}, 2, "read config"},
		{"migrate without clickhouse", []string{"migrate"}, 1, "needs a ClickHouse"},
		{"version", []string{"version"}, 0, "tessera"},
		{"lift with a bad window", []string{"lift", "--window-days", "-3"}, 2, "--window-days -3: want at least 1"},
		{"lift help", []string{"lift", "--help"}, 0, "control group"},
		{"lookalike without a seed", []string{"lookalike", "--out", out + "/a.csv"}, 2, "--seed is required"},
		{"lookalike with a bad method", []string{"lookalike", "--seed", "vip", "--method", "knn", "--out", out + "/a.csv"}, 2, "knn\\\": want logistic or centroid"},
		{"generate", []string{"generate", "--customers", "50", "--out", out}, 0, "Wrote a shop of 50 customers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if all := stdout.String() + stderr.String(); !strings.Contains(all, tt.says) {
				t.Errorf("output lacks %q:\n%s", tt.says, all)
			}
		})
	}
}

// The last log line of a failure says why, as JSON when not on a terminal.
func TestFailureLogIsJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run([]string{"migrate"}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "{") || !strings.Contains(last, `"level":"error"`) || !strings.Contains(last, "ClickHouse") {
		t.Errorf("last log line %q", last)
	}
}

// TestRunSummary: `tessera run` embedded, on the sample shop, prints what
// each stage did.
func TestRunSummary(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TESSERA_DATA_DIR", dir)
	t.Setenv("TESSERA_SAMPLE_CUSTOMERS", "500")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--as-of", "2026-10-31"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{"Extracted into embedded warehouse", "raw_orders", "Rejected rows by entity and reason", "Features as of 2026-10-31",
		"Model: ", "Early potential-VIP model", "Scores as of 2026-10-31", "Published 2026-10-31",
		// 500 customers are fewer buyers than the gate asks: exit 0, and the summary says why nothing is predicted.
		"Model: none passed its gate", "(ltv.gate.min_buyers)", "NO PREDICTIONS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestMisspeltVariable: a TESSERA_ variable Tessera does not read is bad
// configuration (exit 2) naming the closest one, not silently ignored.
func TestMisspeltVariable(t *testing.T) {
	t.Setenv("TESSERA_CLICKHOUSE_ADRR", "127.0.0.1:9000")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--as-of", "2026-10-31"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr.String())
	}
	want := "environment variable TESSERA_CLICKHOUSE_ADRR is not one Tessera reads: did you mean TESSERA_CLICKHOUSE_ADDR?"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}

// TestHelpAndVersion: help asked for goes to stdout, usage errors to
// stderr; --version prints the version.
func TestHelpAndVersion(t *testing.T) {
	for _, tt := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--help"}, 0, "Usage: tessera COMMAND [flags]", ""},
		{[]string{"run", "--help"}, 0, "Usage: tessera run [flags]", ""},
		{[]string{"ltv", "--help"}, 0, "tessera ltv fit --model", ""},
		{[]string{"--version"}, 0, "tessera dev\n", ""},
		{nil, 2, "", "Usage: tessera COMMAND [flags]"},
		{[]string{"run", "--colour"}, 2, "", "flag provided but not defined: -colour"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) ||
			(tt.stdout == "" && stdout.Len() > 0) || (tt.stderr == "" && stderr.Len() > 0) {
			t.Errorf("%v: exit %d\nstdout: %q\nstderr: %q", tt.args, code, stdout.String(), stderr.String())
		}
	}
}

// TestConfigErrorInTextLog: with TESSERA_LOG_FORMAT=text, an error in the
// config file is logged as text, not JSON.
func TestConfigErrorInTextLog(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("no_such_key: 1\n"), 0o600)
	t.Setenv("TESSERA_LOG_FORMAT", "text")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--config", bad}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if got := stderr.String(); strings.HasPrefix(got, "{") || !strings.Contains(got, "level=error") || !strings.Contains(got, "field no_such_key not found") {
		t.Errorf("stderr %q, want a text log line saying what is wrong", got)
	}
}

// TestExportDatesThatDoNotRead: extract of an export none of whose order
// dates read exits 1 naming the entity, the rule and an example, not 0.
func TestExportDatesThatDoNotRead(t *testing.T) {
	for _, tt := range []struct {
		fixture, layouts, without string
		says                      []string
	}{
		{"accounting-ru", `date_layouts: ["02.01.2006 15:04:05", "02.01.2006"]`, `date_layouts: ["02.01.2006"]`,
			[]string{"orders: none of the 4827 rows read landed", "bad_timestamp", `\"09.04.2023 13:30:49\" is not a time`}},
		{"marketplace", `date_layouts: ["1/2/2006 15:04"]`, "",
			[]string{"open customers", "ordered_at of none of 2259 orders of olist_orders_dataset.csv reads", "source.files.mapping.orders"}},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			fixture, _ := filepath.Abs("../../testdata/byo/" + tt.fixture)
			b, err := os.ReadFile(filepath.Join(fixture, "tessera.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			yaml := strings.Replace(string(b), "dir: testdata/byo/"+tt.fixture, "dir: "+fixture, 1)
			if !strings.Contains(yaml, tt.layouts) {
				t.Fatalf("the fixture's config has no %s", tt.layouts)
			}
			yaml = strings.Replace(yaml, tt.layouts, tt.without, 1)
			yaml += "data_dir: " + t.TempDir() + "\n"
			path := filepath.Join(t.TempDir(), "tessera.yaml")
			os.WriteFile(path, []byte(yaml), 0o600)
			var stdout, stderr bytes.Buffer
			if code := run([]string{"extract", "--config", path, "--as-of", "2026-01-01"}, &stdout, &stderr); code != 1 {
				t.Errorf("exit code %d, want 1\n%s%s", code, stdout.String(), stderr.String())
			}
			for _, s := range tt.says {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("the output lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

// TestSampledExportByConfig: a marketplace export whose files were sampled
// apart (most orders without items, payments for some, one repeat buyer)
// runs by its configuration alone, embedded, as a new user runs it: the
// summary warns that most orders are worth 0 and most buyers bought for 0,
// and neither it nor the report prints NaN.
func TestSampledExportByConfig(t *testing.T) {
	fixture, err := filepath.Abs("../../testdata/byo/marketplace-sampled")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TESSERA_DATA_DIR", t.TempDir())
	t.Setenv("TESSERA_SOURCE_FILES_DIR", fixture)
	t.Setenv("TESSERA_LOG_LEVEL", "error")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--config", filepath.Join(fixture, "tessera.yaml"), "--as-of", "2018-09-01"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if code := run([]string{"report", "--config", filepath.Join(fixture, "tessera.yaml"), "--as-of", "2018-09-01", "--out", page}, &stdout, &stderr); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr.String())
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WARNING: ", "orders landed (", "are worth 0", "bought for 0 in all"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout.String())
		}
	}
	t.Log(stdout.String())
	if strings.Contains(stdout.String(), "NaN") || strings.Contains(string(html), "NaN") {
		t.Errorf("NaN in the summary or the report:\n%s", stdout.String())
	}
	var help bytes.Buffer
	run([]string{"run", "--help"}, &help, &help)
	if strings.Contains(help.String(), "runs embedded on a generated sample shop") || !strings.Contains(help.String(), "reading the configured sources") {
		t.Errorf("run --help does not say embedded mode reads the configured sources:\n%s", help.String())
	}
}
