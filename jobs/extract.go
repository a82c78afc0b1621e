package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	_ "github.com/ClickHouse/clickhouse-go/v2" // database/sql driver "clickhouse"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/source"
	"github.com/tessera-cdp/tessera/synth"
)

// rawSink is where extract lands rows: ClickHouse, or the embedded Parquet folder.
type rawSink interface {
	InsertRaw(ctx context.Context, e canon.Entity, rec arrow.Record, runID string, landedAt time.Time) error
	InsertRejected(ctx context.Context, runID string, at time.Time, rs []canon.Rejection) error
	Watermark(ctx context.Context, source, entity string) (time.Time, bool, error)
	SaveWatermark(ctx context.Context, source, entity string, value time.Time, runID string) error
}

// EntityCount is what extract did with one entity. Read = Landed + Rejected.
type EntityCount struct {
	Entity   canon.Entity `json:"entity"`
	Source   string       `json:"source"`
	Read     int64        `json:"read"`
	Landed   int64        `json:"landed"`
	Rejected int64        `json:"rejected"`
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

// openFunc opens the source of one entity; fs.ErrNotExist means the source does
// not have that entity.
type openFunc func(t *canon.Table) (source.Rows, error)

// required entities: without them there is nothing to segment.
var required = map[canon.Entity]bool{canon.Customers: true, canon.Orders: true, canon.OrderLines: true}

// extract reads every entity in load order, validates each row and lands batches
// of at most batchRows rows; every row read is either landed or rejected.
func extract(ctx context.Context, rc *runContext, open openFunc, sink rawSink) (*ExtractResult, error) {
	res := &ExtractResult{}
	keys := canon.KeySets{}
	for _, t := range canon.Tables {
		rows, err := open(t)
		if errors.Is(err, fs.ErrNotExist) && !required[t.Entity] {
			rc.log.WithField("entity", t.Entity).Warn("the source has no " + string(t.Entity) + ": nothing to extract for it")
			keys[t.Entity] = canon.NewKeys()
			continue
		}
		if err != nil {
			return res, fmt.Errorf("open %s: %w", t.Entity, err)
		}
		c, err := extractEntity(ctx, rc, t, rows, keys, sink)
		rows.Close()
		res.Entities = append(res.Entities, c)
		if err != nil {
			return res, err
		}
		if w, ok := rows.(*watermarked); ok { // read in full: the next run starts from here
			if err := w.save(ctx, sink, rc.runID); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func extractEntity(ctx context.Context, rc *runContext, t *canon.Table, rows source.Rows, keys canon.KeySets, sink rawSink) (EntityCount, error) {
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
	landed := false
	flush := func() error {
		rec := b.NewRecord()
		defer rec.Release()
		if rec.NumRows() == 0 && landed {
			return nil
		}
		landed = true
		if err := sink.InsertRaw(ctx, t.Entity, rec, rc.runID, rc.started); err != nil {
			return err
		}
		c.Landed += rec.NumRows()
		return nil
	}
	start := time.Now()
	lastLog := start
	for rows.Next() {
		c.Read++
		rule, detail := rows.Problem()
		key := ""
		if rule == "" {
			rule, detail = b.Append(rows.Fields())
			if rule != "" {
				key = b.Key(rows.Fields())
			}
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
	if err := flushRejected(); err != nil {
		return c, err
	}
	if c.Read != c.Landed+c.Rejected { // a bug, never data: say so loudly
		return c, fmt.Errorf("%s: read %d rows but landed %d and rejected %d", t.Entity, c.Read, c.Landed, c.Rejected)
	}
	secs := time.Since(start).Seconds()
	log.WithFields(logrus.Fields{"rows_read": c.Read, "rows_landed": c.Landed, "rows_rejected": c.Rejected,
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
	noSQL := len(cfg.Source.Postgres.Queries)+len(cfg.Source.MySQL.Queries)+len(cfg.Source.ClickHouse.Queries) == 0
	if src.Dir == "" && noSQL && src.ShopifyOrders == "" {
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
	}{{"postgres", "pgx", cfg.Source.Postgres}, {"mysql", "mysql", cfg.Source.MySQL}, {"clickhouse", "clickhouse", cfg.Source.ClickHouse}} {
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
	open := func(t *canon.Table) (source.Rows, error) {
		for _, d := range dbs {
			if q, ok := d.cfg.Queries[string(t.Entity)]; ok {
				col, incremental := d.cfg.Watermarks[string(t.Entity)]
				if !incremental {
					return source.QuerySQL(ctx, d.db, d.name+":"+string(t.Entity), q, t)
				}
				return openWatermarked(ctx, rc, sink, d.name, d.db, q, t, col, d.cfg.Overlap)
			}
		}
		switch t.Entity {
		case canon.Orders, canon.OrderLines, canon.Customers:
			if src.ShopifyOrders != "" {
				return source.OpenShopify(src.ShopifyOrders, t)
			}
		}
		return files(t)
	}
	return open, closeAll, nil
}

// fileSource opens the canonical files of a folder, as `tessera generate`
// writes them; an entity without a file of the format may come as JSON Lines
// (<entity>.jsonl, as event trackers write site events).
func fileSource(ctx context.Context, dir, format string, mem memory.Allocator, batchRows int) openFunc {
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
	source.Rows
	src, entity string
	col         int
	max         int64
	seen        bool
}

func (w *watermarked) Next() bool {
	if !w.Rows.Next() {
		return false
	}
	if rule, _ := w.Problem(); rule == "" {
		if v, ok := canon.ParseTime(w.Fields()[w.col]); ok && (!w.seen || v > w.max) {
			w.max, w.seen = v, true
		}
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
	k := t.Index(col)
	if k < 0 || t.Columns[k].Kind != canon.Timestamp {
		return nil, fmt.Errorf("source.%s.watermarks: %s is not a timestamp column of %s", src, col, t.Entity)
	}
	name := src + ":" + string(t.Entity)
	since, ok, err := sink.Watermark(ctx, src, string(t.Entity))
	if err != nil {
		return nil, err
	}
	log := rc.log.WithFields(logrus.Fields{"entity": t.Entity, "source": name})
	if ok && !rc.cfg.Source.Full {
		from := since.Add(-overlap)
		log.WithFields(logrus.Fields{"watermark": since.Format(time.RFC3339), "from": from.Format(time.RFC3339)}).Info("incremental read")
		q = fmt.Sprintf("SELECT * FROM (%s) tessera_incremental WHERE %s >= '%s'", q, col, from.UTC().Format(time.DateTime))
	} else {
		log.Info("full read")
	}
	rows, err := source.QuerySQL(ctx, db, name, q, t)
	if err != nil {
		return nil, err
	}
	return &watermarked{Rows: rows, src: src, entity: string(t.Entity), col: k}, nil
}
