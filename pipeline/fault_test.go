package pipeline

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse"
)

// outage is a TCP proxy in front of the test ClickHouse that can fail as a
// stopped server does: it drops every connection and refuses new ones (they
// are closed at once) when a statement containing cutAt goes through, for
// down (forever when 0), then serves again.
type outage struct {
	ln     net.Listener
	target string
	cutAt  []byte
	down   time.Duration

	mu    sync.Mutex
	armed bool
	// afterBytes: when set, cut once the server has sent this much more.
	afterBytes int64
	until      time.Time // refusing until then; zero time with forever
	forever    bool
	conns      []net.Conn
	cuts       int
}

func newOutage(t *testing.T, target string) *outage {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outage{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); o.dropAll() })
	go o.serve()
	return o
}

func (o *outage) addr() string { return o.ln.Addr().String() }

// arm makes the next statement holding cutAt take the server down.
func (o *outage) arm(cutAt string, down time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cutAt, o.down, o.armed = []byte(cutAt), down, true
}

func (o *outage) refusing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.forever || time.Now().Before(o.until)
}

func (o *outage) dropAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.conns {
		c.Close()
	}
	o.conns = nil
}

func (o *outage) serve() {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		if o.refusing() {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", o.target)
		if err != nil {
			c.Close()
			continue
		}
		o.mu.Lock()
		o.conns = append(o.conns, c, s)
		o.mu.Unlock()
		go o.downstream(c, s)
		go o.upstream(c, s)
	}
}

// armBytes makes the connections drop once the server has sent n more bytes.
func (o *outage) armBytes(n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.afterBytes = n
}

// downstream copies what the server sends, counting it for armBytes.
func (o *outage) downstream(c, s net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			o.mu.Lock()
			cut := false
			if o.afterBytes > 0 {
				o.afterBytes -= int64(n)
				cut = o.afterBytes <= 0
				if cut {
					o.afterBytes, o.cuts = 0, o.cuts+1
				}
			}
			o.mu.Unlock()
			if cut {
				o.dropAll()
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// upstream copies what the client sends, watching for the statement to cut at.
func (o *outage) upstream(c, s net.Conn) {
	defer s.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			o.mu.Lock()
			cut := o.armed && bytes.Contains(buf[:n], o.cutAt)
			if cut {
				o.armed, o.cuts = false, o.cuts+1
				o.forever = o.down == 0
				o.until = time.Now().Add(o.down)
			}
			o.mu.Unlock()
			if cut { // the statement never reaches the server
				o.dropAll()
				return
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestPublishWhileClickHouseIsDown: ClickHouse goes away as publish swaps the
// first partition in. Back after 3 s: publish retries with backoff and
// completes. Gone for good: publish fails saying so, and every published
// partition is the night before, whole.
func TestPublishWhileClickHouseIsDown(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 2000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if err := runStages(ctx, cfg, asOf, []string{"extract", "features", "train", "score"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	day := asOf.Format(time.DateOnly)
	published := func() string { // scores first; UNION ALL parts come in any order
		s := queryStrings(t, wh, `SELECT concat('1 scores ', toString(count()), ' ', toString(sum(cityHash64(customer_id, run_id)))) FROM {db}.customer_scores WHERE as_of = toDate('`+day+`')
			UNION ALL SELECT concat('2 segments ', toString(count()), ' ', toString(sum(cityHash64(segment_id, run_id)))) FROM {db}.segments WHERE as_of = toDate('`+day+`')
			UNION ALL SELECT concat('3 members ', toString(count()), ' ', toString(sum(cityHash64(segment_id, customer_id, run_id)))) FROM {db}.segment_members WHERE as_of = toDate('`+day+`')`)
		sort.Strings(s)
		return strings.Join(s, " | ")
	}
	// The customers score planned: publish builds their rows.
	planned := 0
	if err := wh.EachPart(ctx, memoryForTest(t), warehouse.CustomerPlan.Name, warehouse.CustomerPlan.Columns("customer_id"), asOf, "", []warehouse.Slice{{Index: 0, Of: 1}}, 1<<16,
		func(rec arrow.Record) error { planned += int(rec.NumRows()); return nil }); err != nil {
		t.Fatal(err)
	}
	staged := strconv.Itoa(planned)

	proxy := newOutage(t, cfg.ClickHouse.Addr)
	viaProxy := cfg
	viaProxy.ClickHouse.Addr = proxy.addr()

	// Back after 3 s: retried, done.
	proxy.arm("REPLACE PARTITION", 3*time.Second)
	start := time.Now()
	if err := runStages(ctx, viaProxy, asOf, []string{"publish"}, testLogger(t)); err != nil {
		t.Fatalf("publish with ClickHouse back after 3 s: %v", err)
	}
	if proxy.cuts != 1 {
		t.Fatalf("the outage happened %d times", proxy.cuts)
	}
	t.Logf("published after an outage of 3 s in %s", time.Since(start).Round(time.Millisecond))
	night1 := published()
	if !strings.HasPrefix(night1, "1 scores "+staged+" ") {
		t.Errorf("published %s; %s customers were planned", night1, staged)
	}

	// Gone for good during the next night's publish.
	if err := runStages(ctx, cfg, asOf, []string{"score"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	proxy.arm("REPLACE PARTITION", 0)
	err := runStages(ctx, viaProxy, asOf, []string{"publish"}, testLogger(t),
		func(o *Options) { o.Publish.Backoff = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} })
	if err == nil || !strings.Contains(err.Error(), "ClickHouse did not answer in 3 attempts") {
		t.Fatalf("publish with ClickHouse gone: %v", err)
	}
	t.Logf("the failure says: %v", err)
	if got := published(); got != night1 {
		t.Errorf("after the failed publish the partitions hold %s, the night before %s", got, night1)
	}
}

// TestPostgresDropsDuringExtract: the PostgreSQL connection is terminated in
// the middle of an incremental read of changed customers. The run fails
// saying so and keeps the old watermark; the next run reads from it again
// and every change lands, once, with every other customer as it was.
func TestPostgresDropsDuringExtract(t *testing.T) {
	cfg, wh := testClickHouse(t)
	ctx := context.Background()
	if _, err := wh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dir, _ := generateShop(t, 20000, 0, "csv")
	pg := connectPG(t)
	schema := "crm_d" + strings.TrimPrefix(randomName(), "x")
	loadContacts(t, pg, schema, dir)
	var total int64
	if err := pg.QueryRow(ctx, "SELECT count(*) FROM "+schema+".contacts").Scan(&total); err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.Dir = dir
	cfg.Source.Postgres.DSN = servicetest.Postgres(t) + "&timezone=UTC"
	cfg.Source.Postgres.Queries = map[string]string{"customers": contactsQuery(schema)}
	cfg.Source.Postgres.Watermarks = map[string]string{"customers": "updated_at"}
	extractOnce := func() error {
		_, err := Extract(ctx, NewRun(testLogger(t), memory.DefaultAllocator, "extract", asOf), wh, OptionsFrom(cfg).Extract)
		return err
	}
	if err := extractOnce(); err != nil {
		t.Fatal(err)
	}
	mark, _, err := wh.Watermark(ctx, "postgres", "customers")
	if err != nil {
		t.Fatal(err)
	}
	mustPG(t, pg, "UPDATE "+schema+".contacts SET city = 'Moved', modified_at = now() WHERE id IN (SELECT id FROM "+schema+".contacts ORDER BY id LIMIT 15000)")

	// The connection to PostgreSQL drops after 1 MB of the changed rows.
	proxy := newOutage(t, "127.0.0.1:15432")
	direct := cfg.Source.Postgres.DSN
	cfg.Source.Postgres.DSN = strings.Replace(direct, "127.0.0.1:15432", proxy.addr(), 1)
	cfg.BatchRows = 500
	proxy.armBytes(1 << 20)
	err = extractOnce()
	if proxy.cuts != 1 || err == nil || !strings.Contains(err.Error(), "postgres:customers") {
		t.Fatalf("%d cuts; the run says %v", proxy.cuts, err)
	}
	cfg.Source.Postgres.DSN = direct
	var partial uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_customers WHERE city = 'Moved'", &partial)
	t.Logf("the connection dropped after %d of 15000 changed customers landed: %v", partial, err)
	if partial >= 15000 {
		t.Fatal("the read was over before the connection dropped")
	}
	if m, _, _ := wh.Watermark(ctx, "postgres", "customers"); !m.Equal(mark) {
		t.Errorf("the failed run moved the watermark from %s to %s", mark, m)
	}
	if err := extractOnce(); err != nil {
		t.Fatal(err)
	}
	var rows, keys, moved uint64
	queryRow(t, wh, "SELECT count(), uniqExact(customer_id), countIf(city = 'Moved') FROM {db}.raw_customers FINAL", &rows, &keys, &moved)
	if int64(rows) != total || keys != rows || moved != 15000 {
		t.Errorf("after the next run: %d customers (%d keys), %d moved; want %d, 15000 moved", rows, keys, moved, total)
	}
}

// TestExtractWhileClickHouseRestarts: ClickHouse goes away for 3 s as extract
// lands order lines. Extract reads the entity again once it is back and
// completes with exact counts (nothing lost, nothing doubled in the raw
// table); without retries it fails, and the failed run is still recorded in
// runs once ClickHouse answers again.
func TestExtractWhileClickHouseRestarts(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, sum := generateShop(t, 2000, 0.01, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	if _, err := wh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	proxy := newOutage(t, cfg.ClickHouse.Addr)
	viaProxy := cfg
	viaProxy.ClickHouse.Addr = proxy.addr()
	cut := "INSERT INTO " + wh.Database() + ".raw_order_lines"

	proxy.arm(cut, 3*time.Second)
	err := runStages(ctx, viaProxy, asOf, []string{"extract"}, testLogger(t),
		func(o *Options) { o.Extract.Backoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} })
	if err != nil || proxy.cuts != 1 {
		t.Fatalf("extract with ClickHouse back after 3 s: %v (%d cuts)", err, proxy.cuts)
	}
	var final, read, landed, rejected uint64
	queryRow(t, wh, "SELECT count() FROM {db}.raw_order_lines FINAL", &final)
	if good := uint64(sum.Rows[canon.OrderLines] - sum.BadRows[canon.OrderLines]); final != good {
		t.Errorf("raw_order_lines holds %d lines, the shop has %d good ones", final, good)
	}
	queryRow(t, wh, "SELECT rows_read, rows_landed, rows_rejected FROM {db}.runs WHERE stage = 'extract' AND status = 'ok'", &read, &landed, &rejected)
	var rows int64
	for _, n := range sum.Rows {
		rows += n
	}
	if read != uint64(rows) || read != landed+rejected {
		t.Errorf("the run read %d, landed %d, rejected %d; the shop has %d rows", read, landed, rejected, rows)
	}

	// No retries: the run fails, and is recorded once ClickHouse is back.
	proxy.arm(cut, 3*time.Second)
	err = runStages(ctx, viaProxy, asOf, []string{"extract"}, testLogger(t), func(o *Options) { o.Extract.Backoff = nil })
	if !errors.Is(err, warehouse.ErrUnavailable) {
		t.Fatalf("extract without retries: %v, want it failed as ClickHouse did not answer", err)
	}
	var failed uint64
	queryRow(t, wh, "SELECT count() FROM {db}.runs WHERE stage = 'extract' AND status = 'failed' AND message LIKE '%did not answer%'", &failed)
	if failed != 1 {
		t.Errorf("%d failed extract runs recorded, want 1", failed)
	}
}
