package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// otherEnv are the TESSERA_ variables that are no config key: secrets, the
// run of a sharded Job, and the project's own scripts and tests.
var otherEnv = []string{"TESSERA_CLICKHOUSE_PASSWORD", "TESSERA_SOURCE_POSTGRES_DSN", "TESSERA_SOURCE_MYSQL_DSN",
	"TESSERA_SOURCE_CLICKHOUSE_DSN", "TESSERA_SHARD_JOB", "TESSERA_SERVICES_DIR", "TESSERA_CACHE", "TESSERA_REPORT_SCREENSHOT"}

// otherPrefixes name the variables of the tests and benchmarks.
var otherPrefixes = []string{"TESSERA_TEST_", "TESSERA_BENCH_"}

// EnvNames are every TESSERA_ variable Tessera reads.
func EnvNames() []string {
	names := slices.Clone(otherEnv)
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "-" || tag == "" {
				continue
			}
			name := prefix + "_" + strings.ToUpper(tag)
			if f.Type.Kind() == reflect.Struct && f.Type.String() != "time.Duration" {
				walk(f.Type, name)
				continue
			}
			if f.Type.Kind() != reflect.Map {
				names = append(names, name)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "TESSERA")
	slices.Sort(names)
	return names
}

// CheckEnv fails on a TESSERA_ variable of environ (NAME=value lines) that
// Tessera does not read, naming the closest one it does: a misspelt
// TESSERA_CLICKHOUSE_ADRR would otherwise be ignored and the run go embedded.
func CheckEnv(environ []string) error {
	known := EnvNames()
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "TESSERA_") || slices.Contains(known, name) ||
			slices.ContainsFunc(otherPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		return fmt.Errorf("environment variable %s is not one Tessera reads: did you mean %s? (tessera --help lists how keys map to variables)", name, Closest(name, known))
	}
	return nil
}

// Closest is the candidate nearest to name (edit distance, ignoring case):
// what a "did you mean" names. "" without candidates.
func Closest(name string, candidates []string) string {
	best, dist := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < dist {
			best, dist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
