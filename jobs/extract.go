package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/ClickHouse/clickhouse-go/v2" // database/sql driver "clickhouse"
	"github.com/apache/arrow/go/v17/arrow/memory"
	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/identity"
	"github.com/tessera-cdp/tessera/source"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse"
)

// rawSink is where extract lands rows: ClickHouse, or the embedded Parquet folder.
type rawSink interface {
	OpenRaw(ctx context.Context, e canon.Entity, runID string, landedAt time.Time) (warehouse.BatchWriter, error)
	InsertRejected(ctx context.Context, runID string, at time.Time, rs []canon.Rejection) error
	Watermark(ctx context.Context, source, entity string) (time.Time, bool, error)
	SaveWatermark(ctx context.Context, source, entity string, value time.Time, runID string) error
	Identities(ctx context.Context, fn func(warehouse.Identity)) error
	SaveIdentities(ctx context.Context, ls []warehouse.Identity, runID string, at time.Time) error
	RawKeys(ctx context.Context, e canon.Entity, fn func(string)) error
}

// EntityCount is what extract did with one entity from one source.
// Read = Landed + Rejected.
type EntityCount struct {
	Entity   canon.Entity `json:"entity"`
	Source   string       `json:"source"`
	Read     int64        `json:"read"`
	Landed   int64        `json:"landed"`
	Rejected int64        `json:"rejected"`
	// Replaced counts rows that a newer version of their key, read later in
	// the run, replaced: dropped from their batch (and among Rejected, as
	// duplicate_key) or, when already landed, hidden by the newer version.
	Replaced int64 `json:"replaced_by_newer"`
	// Linked counts rows whose customer_id was made the canonical one of a
	// customer known under another id (identities).
	Linked  int64   `json:"linked"`
	Seconds float64 `json:"seconds"`
	// landedTwice counts rows landed although a newer version of their key
	// landed after them in the run (the raw table keeps that one).
	landedTwice int64
}

// ExtractResult sums up an extract run.
type ExtractResult struct {
	Entities []EntityCount `json:"entities"`
}

// Totals adds up the entities.
func (r *ExtractResult) Totals() (read, landed, rejected int64) {
	for _, e := range r.Entities {
		read, landed, rejected = read+e.Read, landed+e.Landed, rejected+e.Rejected
	}
	return
}

// entitySource is one source of an entity: the system it lives in (postgres,
// mysql, clickhouse, shopify, files), which names the customer ids it uses.
type entitySource struct {
	system string
	open   func() (source.Rows, error)
}

// openFunc lists the sources of one entity, read in order; fs.ErrNotExist
// from an open means the source does not have that entity.
type openFunc func(t *canon.Table) []entitySource

// required entities: without them there is nothing to segment.
var required = map[canon.Entity]bool{canon.Customers: true, canon.Orders: true, canon.OrderLines: true}

// extract reads every entity in load order, validates each row and lands batches
// of at most batchRows rows; every row read is either landed or rejected.
// Customer ids are made canonical across sources (identities) on the way.
func extract(ctx context.Context, rc *runContext, open openFunc, sink rawSink) (*ExtractResult, error) {
	res := &ExtractResult{}
	keys := canon.KeySets{}
	defer keys.Free()
	ids, err := identity.Load(ctx, sink)
	defer ids.Free()
	if err != nil {
		return res, err
	}
	// A warehouse whose raw tables keep one row per key can take a key twice:
	// there, duplicates are caught within a window of keys, so that memory
	// does not grow with the rows read. Parents also remember every key, 8
	// bytes each, which their children are checked against.
	deduper, _ := sink.(landedTwiceCounter)
	for _, t := range canon.Tables {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if deduper != nil {
			keys[t.Entity] = canon.NewWindow(rc.cfg.Source.DedupWindow)
			if isParent(t.Entity) {
				keys[t.Entity].RememberAll()
			}
		} else {
			keys[t.Entity] = canon.NewKeys()
		}
		var landedTwice int64 // by the sources read so far
		partial, found := false, false
		for _, src := range open(t) {
			rows, err := src.open()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return res, fmt.Errorf("open %s: %w", t.Entity, err)
			}
			found = true
			var c EntityCount
			// Labelled for profiles: go tool pprof -tagfocus entity=orders
			pprof.Do(ctx, pprof.Labels("entity", string(t.Entity)), func(ctx context.Context) {
				c, err = extractEntity(ctx, rc, t, src.system, rows, keys, ids, sink)
			})
			rows.Close()
			if err == nil && keys[t.Entity].Rotations() > 0 {
				err = countLandedTwice(ctx, rc, deduper, t.Entity, &c, landedTwice)
			}
			landedTwice += c.landedTwice
			res.Entities = append(res.Entities, c)
			if err != nil {
				return res, err
			}
			if w, ok := rows.(*watermarked); ok { // read in full: the next run starts from here
				partial = partial || w.partial
				if err := w.save(ctx, sink, rc.runID); err != nil {
					return res, err
				}
			}
		}
		if !found {
			if required[t.Entity] {
				return res, fmt.Errorf("open %s: no source has %s (configure source.files.dir, a database query or a Shopify export): %w", t.Entity, t.Entity, fs.ErrNotExist)
			}
			rc.log.WithField("entity", t.Entity).Warn("the source has no " + string(t.Entity) + ": nothing to extract for it")
		}
		if !isParent(t.Entity) {
			keys[t.Entity].Free() // no row refers to these
			delete(keys, t.Entity)
			continue
		}
		keys[t.Entity].Seal() // children only look the keys up
		if partial {
			// Read in part: the rows of this run refer to parents landed before too.
			if err := sink.RawKeys(ctx, t.Entity, func(k string) { keys[t.Entity].Add([]byte(k)) }); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// landedTwiceCounter is a warehouse whose raw tables keep one row per key.
type landedTwiceCounter interface {
	// LandedTwice counts the rows of e landed by the run beyond one per key.
	LandedTwice(ctx context.Context, e canon.Entity, runID string) (int64, error)
}

// countLandedTwice adds to c the rows that repeat a key read further back than
// the duplicate window: they landed, and the raw table keeps one row per key.
// before is what the entity's earlier sources in the run landed twice.
func countLandedTwice(ctx context.Context, rc *runContext, w landedTwiceCounter, e canon.Entity, c *EntityCount, before int64) error {
	start := time.Now()
	n, err := w.LandedTwice(ctx, e, rc.runID)
	c.Seconds = round(c.Seconds + time.Since(start).Seconds()) // part of the entity's time
	if err != nil {
		return err
	}
	beyond := n - before - c.landedTwice
	if beyond <= 0 {
		return nil
	}
	c.Replaced += beyond
	c.landedTwice += beyond
	rc.log.WithFields(logrus.Fields{"entity": e, "source": c.Source, "rows": beyond, "dedup_window": rc.cfg.Source.DedupWindow}).
		Warn("rows repeat a key read more than dedup_window keys before: both landed, the raw table keeps one (the newest version, else the later; read it with FINAL); counted in replaced_by_newer")
	return nil
}

// isParent reports whether rows of other entities refer to e.
func isParent(e canon.Entity) bool {
	for _, t := range canon.Tables {
		for _, r := range t.Refs {
			if r.Entity == e {
				return true
			}
		}
	}
	return false
}

func extractEntity(ctx context.Context, rc *runContext, t *canon.Table, system string, rows source.Rows, keys canon.KeySets, ids *identity.Resolver, sink rawSink) (EntityCount, error) {
	c := EntityCount{Entity: t.Entity, Source: rows.Name()}
	log := rc.log.WithFields(logrus.Fields{"entity": t.Entity, "source": rows.Name()})
	b, err := canon.NewBuilder(rc.mem, t, keys)
	if err != nil {
		return c, err
	}
	defer b.Release()
	var rejected []canon.Rejection
	flushRejected := func() error {
		err := sink.InsertRejected(ctx, rc.runID, rc.started, rejected)
		rejected = rejected[:0]
		return err
	}
	// Rows of the current batch of a versioned entity, for reporting one that
	// a newer version replaces before it lands.
	versioned := t.Version != ""
	var batchPos []int64
	var batchRaw []string
	// Batches and identity links land on a second goroutine, in order, while
	// the next batch is read: at most two batches are in memory, and reading
	// and inserting share the cores.
	raw, err := sink.OpenRaw(ctx, t.Entity, rc.runID, rc.started)
	if err != nil {
		return c, err
	}
	landing := make(chan func() error, 1)
	landErr := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		for land := range landing {
			if e := land(); e != nil && err == nil {
				err = e
				failed.Store(true)
			}
		}
		if err != nil {
			raw.Abort()
		} else {
			err = raw.Close()
		}
		landErr <- err
	}()
	closed := false
	waitLanded := func() error {
		if closed {
			return nil
		}
		closed = true
		close(landing)
		return <-landErr
	}
	defer waitLanded()
	saveLinks := func(more bool) {
		chunk := ids.TakeFresh(more)
		landing <- func() error {
			if failed.Load() {
				return nil
			}
			// An INSERT a chunk: one held open for the entity would idle
			// between sparse chunks (site logins) past the server's timeout.
			return sink.SaveIdentities(ctx, chunk, rc.runID, rc.started)
		}
	}
	landed := false
	flush := func() error {
		batchPos, batchRaw = batchPos[:0], batchRaw[:0]
		rec := b.NewRecord()
		if (rec.NumRows() == 0 && landed) || failed.Load() {
			rec.Release()
			if failed.Load() {
				return waitLanded()
			}
			return nil
		}
		landed = true
		c.Landed += rec.NumRows()
		landing <- func() error {
			defer rec.Release()
			if failed.Load() {
				return nil
			}
			return raw.Write(rec)
		}
		if ids.Fresh() >= 1<<16 { // bounded, as the batches are
			saveLinks(true)
		}
		return nil
	}
	log.Info("reading")
	start := time.Now()
	lastLog := start
	for rows.Next() {
		c.Read++
		rule, detail := rows.Problem()
		key := ""
		if rule == "" && t.Entity == canon.Customers {
			// A row that breaks a rule is rejected for it, not merged by its e-mail.
			rule, detail = b.Check(rows.Fields())
		}
		if rule == "" {
			fields := ids.Resolve(t, system, rows.Fields())
			if merged := ids.Merged(); merged != "" {
				// Another id of a customer already there: link, do not land.
				ids.Commit()
				rule, detail = canon.DuplicateKey, fmt.Sprintf("the same customer as %s (a shared id or e-mail hash): its ids are linked in identities", merged)
			} else if rule, detail = b.Append(fields); rule == "" {
				ids.Commit()
			}
			if rule != "" {
				key = b.Key(rows.Fields())
			}
		}
		if rule == "" && versioned {
			if r := b.Replaced(); r >= 0 {
				c.Replaced++
				c.Rejected++
				rejected = append(rejected, canon.Rejection{Source: rows.Name(), Entity: t.Entity, Position: batchPos[r],
					Key: b.Key(rows.Fields()), Rule: canon.DuplicateKey,
					Detail: fmt.Sprintf("replaced by a newer version of the key at row %d", rows.Position()), Raw: batchRaw[r]})
			}
			batchPos, batchRaw = append(batchPos, rows.Position()), append(batchRaw, rows.Raw())
		}
		if rule != "" {
			rejected = append(rejected, canon.Rejection{Source: rows.Name(), Entity: t.Entity, Position: rows.Position(),
				Key: key, Rule: rule, Detail: detail, Raw: rows.Raw()})
			c.Rejected++
			if len(rejected) >= 10000 {
				if err := flushRejected(); err != nil {
					return c, err
				}
			}
		}
		if b.Len() >= rc.cfg.BatchRows {
			if err := flush(); err != nil {
				return c, err
			}
			if err := ctx.Err(); err != nil {
				return c, err
			}
		}
		if c.Read%65536 == 0 && time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			log.WithFields(logrus.Fields{"rows_read": c.Read, "rows_per_sec": int(float64(c.Read) / time.Since(start).Seconds())}).Info("extracting")
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("read %s: %w", rows.Name(), err)
	}
	if err := flush(); err != nil {
		return c, err
	}
	if ids.Fresh() > 0 {
		saveLinks(false)
	}
	if err := waitLanded(); err != nil {
		return c, err
	}
	if err := flushRejected(); err != nil {
		return c, err
	}
	c.Replaced += b.Superseded()
	c.landedTwice = b.Superseded()
	c.Linked = ids.TakeLinked()
	if c.Read != c.Landed+c.Rejected { // a bug, never data: say so loudly
		return c, fmt.Errorf("%s: read %d rows but landed %d and rejected %d", t.Entity, c.Read, c.Landed, c.Rejected)
	}
	secs := time.Since(start).Seconds()
	c.Seconds = round(secs)
	log.WithFields(logrus.Fields{"rows_read": c.Read, "rows_landed": c.Landed, "rows_rejected": c.Rejected,
		"replaced_by_newer": c.Replaced, "linked": c.Linked,
		"rows_per_sec": int(float64(c.Read) / max(secs, 1e-3)), "seconds": round(secs)}).Info("extracted")
	return c, nil
}

// openSource opens the configured sources: an entity with a query in
// source.postgres or source.mysql comes from that database, every other one from
// files. With no source configured at all, the sample shop is generated on first
// use and read.
func openSource(ctx context.Context, rc *runContext, sink rawSink) (openFunc, func(), error) {
	cfg := rc.cfg
	src := cfg.Source.Files
	noSQL := len(cfg.Source.Postgres.Queries)+len(cfg.Source.MySQL.Queries)+len(cfg.Source.ClickHouse.Queries) == 0 && cfg.Source.MySQL.Preset == ""
	if src.Dir == "" && noSQL && src.ShopifyOrders == "" && src.ShopifyCustomers == "" {
		src.Dir = filepath.Join(cfg.DataDir, "sample-shop")
		if _, err := os.Stat(filepath.Join(src.Dir, synth.TruthFile)); err != nil {
			g := synth.Defaults()
			g.Customers, g.Days, g.Seed, g.Format = cfg.Sample.Customers, cfg.Sample.Days, cfg.Sample.Seed, src.Format
			rc.log.WithField("dir", src.Dir).Info("no source configured: generating the sample shop")
			if _, err := synth.Generate(ctx, g, src.Dir); err != nil {
				return nil, nil, fmt.Errorf("generate the sample shop: %w", err)
			}
		}
	}
	files := fileSource(ctx, src.Dir, src.Format, rc.mem, cfg.BatchRows)
	type database struct {
		name string
		db   *sql.DB
		cfg  config.SQLSource
	}
	var dbs []database
	closeAll := func() {
		for _, d := range dbs {
			d.db.Close()
		}
	}
	for _, s := range []struct {
		name, driver string
		cfg          config.SQLSource
	}{{"postgres", "pgx", cfg.Source.Postgres}, {"mysql", "mysql", withPreset(cfg.Source.MySQL)}, {"clickhouse", "clickhouse", cfg.Source.ClickHouse}} {
		if len(s.cfg.Queries) == 0 {
			continue
		}
		db, err := sql.Open(s.driver, s.cfg.DSN)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("source %s: %w", s.name, err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			closeAll()
			return nil, nil, fmt.Errorf("source %s does not answer: %w", s.name, err)
		}
		dbs = append(dbs, database{s.name, db, s.cfg})
	}
	// An entity comes from every database that has a query for it and from the
	// Shopify export; from the files only when no other source has it.
	open := func(t *canon.Table) []entitySource {
		var out []entitySource
		for _, d := range dbs {
			q, ok := d.cfg.Queries[string(t.Entity)]
			if !ok {
				continue
			}
			out = append(out, entitySource{d.name, func() (source.Rows, error) {
				col, incremental := d.cfg.Watermarks[string(t.Entity)]
				if !incremental {
					return source.QuerySQL(ctx, d.db, d.name+":"+string(t.Entity), q, t)
				}
				return openWatermarked(ctx, rc, sink, d.name, d.db, q, t, col, d.cfg.Overlap)
			}})
		}
		switch t.Entity {
		case canon.Customers:
			if src.ShopifyCustomers != "" {
				out = append(out, entitySource{"shopify", func() (source.Rows, error) {
					return source.OpenShopifyCustomers(src.ShopifyCustomers, src.ShopifyOrders, t)
				}})
				break
			}
			fallthrough
		case canon.Orders, canon.OrderLines:
			if src.ShopifyOrders != "" {
				out = append(out, entitySource{"shopify", func() (source.Rows, error) { return source.OpenShopify(src.ShopifyOrders, t) }})
			}
		}
		if len(out) == 0 {
			out = append(out, entitySource{"files", func() (source.Rows, error) { return files(t) }})
		}
		return out
	}
	return open, closeAll, nil
}

// withPreset fills in the preset's queries and watermarks where the config
// gives none of its own.
func withPreset(c config.SQLSource) config.SQLSource {
	if c.Preset != "magento2" {
		return c
	}
	queries, watermarks := source.Magento2(c.TablePrefix)
	for e, q := range c.Queries {
		queries[e] = q
		delete(watermarks, e)
	}
	for e, col := range c.Watermarks {
		watermarks[e] = col
	}
	c.Queries, c.Watermarks = queries, watermarks
	return c
}

// fileSource opens the canonical files of a folder, as `tessera generate`
// writes them; an entity without a file of the format may come as JSON Lines
// (<entity>.jsonl, as event trackers write site events).
func fileSource(ctx context.Context, dir, format string, mem memory.Allocator, batchRows int) func(*canon.Table) (source.Rows, error) {
	return func(t *canon.Table) (source.Rows, error) {
		if dir == "" {
			return nil, fs.ErrNotExist
		}
		path := filepath.Join(dir, string(t.Entity)+"."+format)
		if _, err := os.Stat(path); err != nil {
			jsonl := filepath.Join(dir, string(t.Entity)+".jsonl")
			if _, jerr := os.Stat(jsonl); jerr == nil {
				return source.OpenJSONL(jsonl, t)
			}
			return nil, err
		}
		if format == "parquet" {
			return source.OpenParquet(ctx, path, t, mem, batchRows)
		}
		return source.OpenCSV(path, t)
	}
}

func round(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// watermarked is a database query read incrementally: it keeps the largest
// value of the watermark column it read, saved once the entity has landed.
type watermarked struct {
	*source.SQL
	src, entity string
	col         int // result column
	max         int64
	seen        bool
	partial     bool // read only what changed since the watermark
}

func (w *watermarked) Next() bool {
	if !w.SQL.Next() {
		return false
	}
	if v, ok := canon.ParseTime(w.Value(w.col)); ok && (!w.seen || v > w.max) {
		w.max, w.seen = v, true
	}
	return true
}

func (w *watermarked) save(ctx context.Context, sink rawSink, runID string) error {
	if !w.seen {
		return nil // nothing new: the watermark stays
	}
	return sink.SaveWatermark(ctx, w.src, w.entity, time.Unix(w.max, 0).UTC(), runID)
}

// openWatermarked runs the entity's query for the rows whose watermark column
// is at or after the newest value landed before, less the overlap (all rows
// on the first run or with --full).
func openWatermarked(ctx context.Context, rc *runContext, sink rawSink, src string, db *sql.DB, q string, t *canon.Table, col string, overlap time.Duration) (source.Rows, error) {
	if k := t.Index(col); !strings.HasPrefix(col, "_") && (k < 0 || t.Columns[k].Kind != canon.Timestamp) {
		return nil, fmt.Errorf("source.%s.watermarks: %s is neither a timestamp column of %s nor a result column named _...", src, col, t.Entity)
	}
	name := src + ":" + string(t.Entity)
	since, ok, err := sink.Watermark(ctx, src, string(t.Entity))
	if err != nil {
		return nil, err
	}
	log := rc.log.WithFields(logrus.Fields{"entity": t.Entity, "source": name})
	var args []any
	if ok && !rc.cfg.Source.Full {
		from := since.Add(-overlap)
		log.WithFields(logrus.Fields{"watermark": since.Format(time.RFC3339), "from": from.Format(time.RFC3339)}).Info("incremental read")
		// The time is a query parameter; the column name was checked by the config.
		mark := "?"
		if src == "postgres" {
			mark = "$1"
		}
		q = fmt.Sprintf("SELECT * FROM (%s) tessera_incremental WHERE %s >= %s", q, col, mark)
		args = append(args, from.UTC().Format(time.DateTime))
	} else {
		log.Info("full read")
	}
	rows, err := source.QuerySQL(ctx, db, name, q, t, args...)
	if err != nil {
		return nil, err
	}
	k := rows.Column(col)
	if k < 0 {
		rows.Close()
		return nil, fmt.Errorf("source.%s.watermarks: the query of %s has no result column %s", src, t.Entity, col)
	}
	return &watermarked{SQL: rows, src: src, entity: string(t.Entity), col: k, partial: ok && !rc.cfg.Source.Full}, nil
}
