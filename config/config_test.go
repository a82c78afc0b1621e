package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func write(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The example file documents the defaults: loading it must give Default().
func TestExampleIsDefault(t *testing.T) {
	c, err := Load("../tessera.example.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.TimeZone != d.TimeZone || c.DataDir != d.DataDir || c.BatchRows != d.BatchRows || c.Log != d.Log ||
		c.ClickHouse != d.ClickHouse || !reflect.DeepEqual(withoutMapping(c.Source.Files), withoutMapping(d.Source.Files)) || len(c.Source.Files.Mapping) != 0 || c.Sample != d.Sample ||
		c.Source.MaxRejectedShare != d.Source.MaxRejectedShare || c.Source.UnknownProduct != d.Source.UnknownProduct ||
		c.LTV.HoldoutDays != d.LTV.HoldoutDays || strings.Join(c.LTV.Models, ",") != strings.Join(d.LTV.Models, ",") ||
		c.LTV.CLVMonths != d.LTV.CLVMonths || c.LTV.DiscountMonthly != d.LTV.DiscountMonthly || c.LTV.Penalty != d.LTV.Penalty {
		t.Errorf("example file gives %+v, defaults are %+v", c, d)
	}
}

func TestLoad(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		check func(Config) bool
		err   string
	}{
		{name: "file value", yaml: "clickhouse:\n  addr: ch:9000\n", check: func(c Config) bool { return c.ClickHouse.Addr == "ch:9000" }},
		{name: "env wins", yaml: "clickhouse:\n  addr: ch:9000\n", env: map[string]string{"TESSERA_CLICKHOUSE_ADDR": "other:9000"},
			check: func(c Config) bool { return c.ClickHouse.Addr == "other:9000" }},
		{name: "env int and duration", env: map[string]string{"TESSERA_BATCH_ROWS": "4096", "TESSERA_CLICKHOUSE_DIAL_TIMEOUT": "3s"},
			check: func(c Config) bool { return c.BatchRows == 4096 && c.ClickHouse.DialTimeout == 3*time.Second }},
		{name: "nested env", env: map[string]string{"TESSERA_SOURCE_FILES_FORMAT": "parquet"},
			check: func(c Config) bool { return c.Source.Files.Format == "parquet" }},
		{name: "password from env", env: map[string]string{"TESSERA_CLICKHOUSE_PASSWORD": "pw"},
			check: func(c Config) bool { return c.ClickHouse.Password == "pw" }},
		{name: "password from file", yaml: "clickhouse:\n  password_file: " + secret + "\n",
			check: func(c Config) bool { return c.ClickHouse.Password == "s3cret" }},
		{name: "password in the file is refused", yaml: "clickhouse:\n  password: pw\n", err: "field password not found"},
		{name: "unknown key", yaml: "clickhous:\n  addr: x\n", err: "field clickhous not found"},
		{name: "wrong type", yaml: "batch_rows: many\n", err: "cannot unmarshal"},
		{name: "bad env number", env: map[string]string{"TESSERA_BATCH_ROWS": "many"}, err: "TESSERA_BATCH_ROWS"},
		{name: "bad level", yaml: "log:\n  level: loud\n", err: "log.level"},
		{name: "bad zone", yaml: "time_zone: Mars/Olympus\n", err: "time_zone"},
		{name: "bad addr", yaml: "clickhouse:\n  addr: nohost\n", err: "host:port"},
		{name: "compression off", yaml: "clickhouse:\n  addr: ch:9000\n  compression: none\n", check: func(c Config) bool { return c.ClickHouse.Compression == "none" }},
		{name: "bad compression", yaml: "clickhouse:\n  addr: ch:9000\n  compression: zip\n", err: "clickhouse.compression must be lz4 or none"},
		{name: "bad entity", yaml: "source:\n  postgres:\n    queries:\n      clients: SELECT 1\n", env: map[string]string{"TESSERA_SOURCE_POSTGRES_DSN": "x"}, err: `"clients" is not an entity`},
		{name: "query without dsn", yaml: "source:\n  mysql:\n    queries:\n      orders: SELECT 1\n", err: "TESSERA_SOURCE_MYSQL_DSN"},
		{name: "missing password file", yaml: "clickhouse:\n  password_file: /nonexistent\n", err: "password_file"},
		{name: "env list", env: map[string]string{"TESSERA_LTV_MODELS": "bgnbd, pnbd"},
			check: func(c Config) bool { return len(c.LTV.Models) == 2 && c.LTV.Models[1] == "pnbd" }},
		{name: "bad model", yaml: "ltv:\n  models: [bgnbd, nbd]\n", err: `"nbd" is not one of`},
		{name: "ca file without secure", yaml: "clickhouse:\n  ca_file: /etc/ca.pem\n", err: "clickhouse.secure is not"},
		{name: "secure from env", env: map[string]string{"TESSERA_CLICKHOUSE_SECURE": "true", "TESSERA_CLICKHOUSE_CA_FILE": "/etc/ca.pem"},
			check: func(c Config) bool { return c.ClickHouse.Secure && c.ClickHouse.CAFile == "/etc/ca.pem" }},
		{name: "gate floor", yaml: "ltv:\n  gate:\n    min_buyers: 0\n", err: "ltv.gate: min_buyers"},
		{name: "gate from env", env: map[string]string{"TESSERA_LTV_GATE_MIN_BUYERS": "50"},
			check: func(c Config) bool { return c.LTV.Gate.MinBuyers == 50 && c.LTV.Gate.RecentDays == 30 }},
		{name: "early VIP label", yaml: "segmentation:\n  early_vip:\n    label: top_2\n", err: `early_vip.label: "top_2"`},
		{name: "early VIP top share", yaml: "segmentation:\n  early_vip:\n    label: top_share\n    top_share: 0.05\n",
			check: func(c Config) bool {
				return c.Segmentation.EarlyVIP.Label == "top_share" && c.Segmentation.EarlyVIP.TopShare == 0.05
			}},
		{name: "dedup window", env: map[string]string{"TESSERA_SOURCE_DEDUP_WINDOW": "200000"},
			check: func(c Config) bool { return c.Source.DedupWindow == 200000 }},
		{name: "dedup window below a batch", yaml: "batch_rows: 8192\nsource:\n  dedup_window: 8191\n", err: "source.dedup_window must be between batch_rows (8192)"},
		{name: "system database", yaml: "clickhouse:\n  addr: ch:9000\n  database: system\n", err: `clickhouse.database "system" is ClickHouse's own`},
		{name: "information_schema", env: map[string]string{"TESSERA_CLICKHOUSE_ADDR": "ch:9000", "TESSERA_CLICKHOUSE_DATABASE": "INFORMATION_SCHEMA"}, err: "is ClickHouse's own"},
		{name: "max amount", env: map[string]string{"TESSERA_SOURCE_MAX_AMOUNT": "1e9"}, check: func(c Config) bool { return c.Source.MaxAmount == 1e9 }},
		{name: "max amount zero", yaml: "source:\n  max_amount: 0\n", err: "source.max_amount must be a positive number"},
		{name: "empty file", yaml: "", check: func(c Config) bool { return c.BatchRows == Default().BatchRows }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(write(t, tt.yaml), env(tt.env))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

// FuzzConfig: any YAML and environment value gives a config that validates or
// an error, never a panic.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile("../tessera.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example, "")
	f.Add([]byte("clickhouse:\n  addr: a:1\n  database: \"x; DROP TABLE y\"\n"), "1")
	f.Add([]byte("source:\n  mysql:\n    preset: magento2\n    table_prefix: \"m_`\"\n"), "mysql://x")
	f.Fuzz(func(t *testing.T, in []byte, envValue string) {
		env := func(name string) string {
			if name == "TESSERA_BATCH_ROWS" || name == "TESSERA_SOURCE_MYSQL_DSN" {
				return envValue
			}
			return ""
		}
		c, err := Parse("fuzz.yaml", in, env)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("parsed but does not validate: %v", verr)
			}
		}
	})
}

// TestIdentifiersRejectInjection: names that go into SQL from the config are
// plain identifiers or the config is refused; values never go into SQL text.
func TestIdentifiersRejectInjection(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, says string
	}{
		{"database", "clickhouse:\n  addr: h:9000\n  database: \"tessera; DROP DATABASE tessera\"\n", "clickhouse.database"},
		{"database with a quote", "clickhouse:\n  addr: h:9000\n  database: \"t`x\"\n", "clickhouse.database"},
		{"table prefix", "source:\n  mysql:\n    preset: magento2\n    table_prefix: \"m_ UNION SELECT 1 --\"\n", "table_prefix"},
		{"watermark column", "source:\n  postgres:\n    queries:\n      customers: SELECT 1\n    watermarks:\n      customers: \"updated_at OR 1=1\"\n", "not a plain column name"},
		{"watermark column with a quote", "source:\n  postgres:\n    queries:\n      customers: SELECT 1\n    watermarks:\n      customers: \"x' --\"\n", "not a plain column name"},
		{"preset", "source:\n  postgres:\n    preset: \"magento2; DROP\"\n", "is not a preset"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.yaml), func(name string) string {
				if strings.HasSuffix(name, "_DSN") {
					return "dsn"
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one about %s", err, tt.says)
			}
		})
	}
}

func TestCheckEnv(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		says string
	}{
		{[]string{"TESSERA_CLICKHOUSE_ADDR=ch:9000", "TESSERA_SOURCE_MAX_AMOUNT=1e9", "TESSERA_KUBE_WAIT=1m", "HOME=/root"}, ""},
		{[]string{"TESSERA_CLICKHOUSE_PASSWORD=x", "TESSERA_TEST_CLICKHOUSE=x", "TESSERA_SHARD_JOB=j"}, ""},
		{[]string{"TESSERA_CLICKHOUSE_ADRR=ch:9000"}, "TESSERA_CLICKHOUSE_ADRR is not one Tessera reads: did you mean TESSERA_CLICKHOUSE_ADDR?"},
		{[]string{"TESSERA_LOG_FORMATS=text"}, "did you mean TESSERA_LOG_FORMAT?"},
	} {
		err := CheckEnv(tt.env)
		if (tt.says == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.says)) {
			t.Errorf("%v: %v, want %q", tt.env, err, tt.says)
		}
	}
	names := EnvNames()
	for _, want := range []string{"TESSERA_SEGMENTATION_VIP_REVENUE_SHARE", "TESSERA_KUBE_LEASE_SECONDS", "TESSERA_SOURCE_POSTGRES_OVERLAP"} {
		if !slices.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
}

func withoutMapping(f Files) Files { f.Mapping = nil; return f }

// TestMappingFiles: testdata/*.good.yml load; each *.bad.yml fails with the
// error its first line names ("# error: ...").
func TestMappingFiles(t *testing.T) {
	good, _ := filepath.Glob("testdata/*.good.yml")
	bad, _ := filepath.Glob("testdata/*.bad.yml")
	if len(good) == 0 || len(bad) == 0 {
		t.Fatal("no test files")
	}
	for _, path := range good {
		c, err := Load(path, env(nil))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		m, _ := c.Source.Files.Resolved("customers")
		if m.Delimiter != ";" || m.Encoding != "windows-1251" || m.DecimalComma == nil || !*m.DecimalComma {
			t.Errorf("%s: customers did not take the defaults' format: %+v", path, m.FileFormat)
		}
		if tx, _ := c.Source.Files.Resolved(Transactions); tx.Delimiter != "," || len(tx.Columns["Invoice"]) != 2 {
			t.Errorf("%s: transactions: %+v", path, tx)
		}
	}
	for _, path := range bad {
		b, _ := os.ReadFile(path)
		first, _, _ := strings.Cut(string(b), "\n")
		want := strings.TrimPrefix(first, "# error: ")
		_, err := Load(path, env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", path, err, want)
		}
	}
}
