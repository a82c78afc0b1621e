package pipeline

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/lookalike"
	tsql "github.com/tessera-cdp/tessera/sql"
	"github.com/tessera-cdp/tessera/warehouse"
	"github.com/tessera-cdp/tessera/warehouse/clickhouse"
)

// updateStatements rewrites the statements the code sends, for sql/chdb:
// go test ./pipeline -run TestStatementsSent -update-statements
var updateStatements = flag.Bool("update-statements", false, "rewrite sql/chdb/testdata/statements.sql")

const statementsFile = "../sql/chdb/testdata/statements.sql"

// sentStatement is one statement the code sends and the arguments of its
// first sending.
type sentStatement struct {
	sql  string
	args []any
}

var (
	spaces   = regexp.MustCompile(`\s+`)
	days     = regexp.MustCompile(`'\d{4}-\d{2}-\d{2}'`)
	unixTime = regexp.MustCompile(`toDateTime\(\d{4,}\)`)
	runIDs   = regexp.MustCompile(`'\d{8}T\d{6}Z-[0-9a-f]{6}'`)
)

// normalStatement is a statement as it is compared: the database as {db},
// white space collapsed, the dates and times written into it as one date
// and time (a statement of another day is the same statement), and so the
// run ids.
func normalStatement(db, q string) string {
	if db != "" {
		q = strings.ReplaceAll(q, db, "{db}")
	}
	q = spaces.ReplaceAllString(q, " ")
	q = days.ReplaceAllString(q, "'2026-10-01'")
	q = runIDs.ReplaceAllString(q, "'20261001T000000Z-000000'")
	return strings.TrimSpace(unixTime.ReplaceAllString(q, "toDateTime(1790812800)"))
}

// migrationStatements are the statements of the migrations (checked on
// their own in sql/chdb), normalized.
func migrationStatements(t *testing.T) map[string]bool {
	names, err := fs.Glob(tsql.Migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{normalStatement("", tsql.SchemaMigrations): true, "CREATE DATABASE IF NOT EXISTS {db}": true}
	for _, n := range names {
		b, _ := tsql.Migrations.ReadFile(n)
		for _, st := range clickhouse.Statements(string(b)) {
			out[normalStatement("", st)] = true
		}
	}
	return out
}

// TestStatementsSent records every statement the warehouse code sends to
// ClickHouse 18.16 through the stages (a sharded score among them), export,
// report, lift, look-alike, watermarks and identities, and checks that sql/chdb's list holds
// exactly them: the chdb test runs that list on a current ClickHouse, so no
// statement the code sends goes unchecked there. A statement added to the
// code fails this test until the list is rewritten (-update-statements).
func TestStatementsSent(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 3000, 0.01, "csv")
	cfg.Source.Files.Dir = dir
	cfg.Kube.Wait = time.Minute
	ctx := context.Background()
	db := cfg.ClickHouse.Database
	var mu sync.Mutex
	sent := map[string]sentStatement{}
	migrations := migrationStatements(t)
	record := func(q string, args []any) {
		mu.Lock()
		defer mu.Unlock()
		n := normalStatement(db, q)
		if _, ok := sent[n]; !ok && !migrations[n] {
			sent[n] = sentStatement{n, jsonArgs(db, args)}
		}
	}
	runner := func() *Runner {
		p, err := Open(ctx, cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		p.Store.(*clickhouse.DB).Record(record)
		return p
	}
	d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 7)
	p := runner()
	if err := p.Run(ctx, d1, nil, NoShard); err != nil {
		t.Fatal(err)
	}
	seed, err := p.Seed(ctx, d1, "vip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Lookalike(ctx, d1, seed, 10, lookalike.Logistic, ""); err != nil {
		t.Fatal(err)
	}
	// An order moves to another customer: the second extract settles it.
	// (The file has malformed rows: edit its first order's line as text.)
	path := filepath.Join(dir, "orders.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	first := strings.Split(lines[1], ",")
	for _, l := range lines[2:] {
		if f := strings.Split(l, ","); len(f) > 1 && strings.HasPrefix(f[1], "C") && f[1] != first[1] {
			first[1] = f[1]
			break
		}
	}
	lines[1] = strings.Join(first, ",")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	shards := func(stages ...string) { // extract, features and score in two shards, each run from its own runner
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := 1; i >= 0; i-- { // shard 0 last: it waits for the other, then publishes
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				p := runner()
				defer p.Close()
				errs[i] = p.Run(ctx, d2, stages, Shard{Index: i, Of: 2, Job: "statements"})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%v shard %d: %v", stages, i, err)
			}
		}
	}
	shards("extract")
	if _, err := p.Lift(ctx, d1, 7); err != nil { // extracted through its window's end: measured
		t.Fatal(err)
	}
	shards("features")
	if err := p.Run(ctx, d2, []string{"train"}, NoShard); err != nil {
		t.Fatal(err)
	}
	p.Close()
	// Lengths a part recorded two days ago: the parts written next delete them.
	if err := wh.Exec(ctx, "INSERT INTO {db}.part_text_lengths (part, column, longest, saved_at) SELECT 'customer_profiles_part_old', 'customer_id', 1, now() - 2 * 86400"); err != nil {
		t.Fatal(err)
	}
	shards("score", "publish")
	p = runner()
	defer p.Close()
	if _, err := p.Export(ctx, d2, "csv", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Report(ctx, d2); err != nil {
		t.Fatal(err)
	}
	wh.Record(record)
	// What a pod does when its Job's other pods do not share their prices.
	if _, err := wh.JobMedians(ctx, d2, "statements-alone", "alone"); err != nil {
		t.Fatal(err)
	}
	unlock, _, err := wh.Lock(ctx, []string{"extract"}, d1, warehouse.LockOptions{Holder: "statements", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	// A new database: what migrating sends besides the migrations.
	fresh := cfg.ClickHouse
	fresh.Database = db + "_fresh"
	mw, err := clickhouse.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	defer mw.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS {db}")
	mw.Record(func(q string, args []any) { record(strings.ReplaceAll(q, fresh.Database, db), args) })
	if _, err := mw.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := wh.SaveWatermark(ctx, "postgres", "customers", d1, "statements"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wh.Watermark(ctx, "postgres", "customers"); err != nil {
		t.Fatal(err)
	}
	if err := wh.RawKeys(ctx, "orders", func(string) {}); err != nil {
		t.Fatal(err)
	}

	got := make([]sentStatement, 0, len(sent))
	for _, s := range sent {
		got = append(got, s)
	}
	slices.SortFunc(got, func(a, b sentStatement) int { return strings.Compare(a.sql, b.sql) })
	if *updateStatements {
		var b strings.Builder
		b.WriteString("-- Every statement Tessera's warehouse code sends to ClickHouse, recorded on\n" +
			"-- 18.16 by pipeline.TestStatementsSent (-update-statements rewrites it), with\n" +
			"-- the arguments of one sending; sql/chdb runs each on a current release.\n;\n")
		for _, s := range got {
			a, _ := json.Marshal(s.args)
			fmt.Fprintf(&b, "-- args: %s\n%s\n;\n", a, s.sql)
		}
		if err := os.WriteFile(statementsFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(statementsFile)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && line != ";" && !strings.HasPrefix(line, "--") {
			listed[line] = true
		}
	}
	for _, s := range got {
		if !listed[s.sql] {
			t.Errorf("a statement the code sends is not in %s (go test ./pipeline -run TestStatementsSent -update-statements):\n%s", statementsFile, s.sql)
		}
	}
	t.Logf("%d distinct statements sent, %d listed", len(got), len(listed))
}

// jsonArgs are a statement's arguments as the list keeps them: times as
// their UTC text, the database as {db}.
func jsonArgs(db string, args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			out[i] = v.UTC().Format(time.DateTime)
		case string:
			out[i] = strings.ReplaceAll(v, db, "{db}")
		default:
			out[i] = v
		}
	}
	return out
}
