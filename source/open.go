package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2" // also the database/sql driver "clickhouse"
	"github.com/apache/arrow/go/v17/arrow/memory"
	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
)

// Watermarks are the newest versions landed by earlier runs, per source and entity.
type Watermarks interface {
	Watermark(ctx context.Context, source, entity string) (time.Time, bool, error)
}

// Options are what reading needs besides the config.
type Options struct {
	Mem       memory.Allocator
	BatchRows int // rows per batch of a Parquet file
	Log       *logrus.Entry
	// Location: the shop's time zone, of the times of a mapped export that
	// carry no offset.
	Location *time.Location
}

// Sources are the configured sources, ready to read: an entity with a query in
// source.postgres, source.mysql (or its preset) or source.clickhouse comes from
// that database, customers, orders and their lines from a Shopify export when
// one is given, and any entity no other source has from the files.
type Sources struct {
	cfg   config.Source
	dbs   []database
	marks Watermarks
	o     Options
}

type database struct {
	name string
	db   *sql.DB
	cfg  config.SQLSource
}

// Entity is one source of an entity: the system it lives in (postgres, mysql,
// clickhouse, shopify, files), which names the customer ids it uses, and how
// to open it. fs.ErrNotExist from Open means the source lacks the entity.
type Entity struct {
	System string
	Open   func() (Rows, error)
}

// Configured says whether the config names any source at all.
func Configured(c config.Source) bool {
	f := c.Files
	return f.Dir != "" || f.ShopifyOrders != "" || f.ShopifyCustomers != "" || c.MySQL.Preset != "" ||
		len(c.Postgres.Queries)+len(c.MySQL.Queries)+len(c.ClickHouse.Queries) > 0
}

// Open connects to the configured databases (each must answer).
func Open(ctx context.Context, c config.Source, marks Watermarks, o Options) (*Sources, error) {
	s := &Sources{cfg: c, marks: marks, o: o}
	for _, d := range []struct {
		name, driver string
		cfg          config.SQLSource
	}{{"postgres", "pgx", c.Postgres}, {"mysql", "mysql", withPreset(c.MySQL)}, {"clickhouse", "clickhouse", c.ClickHouse}} {
		if len(d.cfg.Queries) == 0 {
			continue
		}
		db, err := sql.Open(d.driver, d.cfg.DSN)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("source %s: %w", d.name, err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			s.Close()
			return nil, fmt.Errorf("source %s does not answer: %w", d.name, err)
		}
		s.dbs = append(s.dbs, database{d.name, db, d.cfg})
	}
	return s, nil
}

// Close closes the database connections.
func (s *Sources) Close() {
	for _, d := range s.dbs {
		d.db.Close()
	}
}

// Of lists the sources of one entity, to be read in order: every database
// that has a query for it and the Shopify export; the files only when no
// other source has it.
func (s *Sources) Of(ctx context.Context, t *canon.Table) []Entity {
	var out []Entity
	for _, d := range s.dbs {
		q, ok := d.cfg.Queries[string(t.Entity)]
		if !ok {
			continue
		}
		out = append(out, Entity{d.name, func() (Rows, error) {
			ctx := ctx
			if d.name == "clickhouse" {
				// ClickHouse has no read-only transaction: the query runs
				// with readonly=1, so that one that writes is refused.
				ctx = chgo.Context(ctx, chgo.WithSettings(chgo.Settings{"readonly": 1}))
			}
			col, incremental := d.cfg.Watermarks[string(t.Entity)]
			if !incremental {
				return QuerySQL(ctx, d.db, d.name+":"+string(t.Entity), q, t)
			}
			return s.openIncremental(ctx, d, q, t, col)
		}})
	}
	f := s.cfg.Files
	switch t.Entity {
	case canon.Customers:
		if f.ShopifyCustomers != "" {
			out = append(out, Entity{"shopify", func() (Rows, error) { return OpenShopifyCustomers(f.ShopifyCustomers, f.ShopifyOrders, t) }})
			break
		}
		fallthrough
	case canon.Orders, canon.OrderLines:
		if f.ShopifyOrders != "" {
			out = append(out, Entity{"shopify", func() (Rows, error) { return OpenShopify(f.ShopifyOrders, t) }})
		}
	}
	if len(out) == 0 && len(f.Mapping) > 0 {
		if x := NewExport(f, s.o.Location); x.Has(t.Entity) {
			out = append(out, Entity{"files", func() (Rows, error) { return x.Open(t) }})
		}
	}
	if len(out) == 0 {
		out = append(out, Entity{"files", func() (Rows, error) { return s.openFile(ctx, t) }})
	}
	return out
}

// withPreset fills in the preset's queries and watermarks where the config
// gives none of its own.
func withPreset(c config.SQLSource) config.SQLSource {
	if c.Preset != "magento2" {
		return c
	}
	queries, watermarks := Magento2(c.TablePrefix)
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

// openFile opens an entity's canonical file in the files folder, as `tessera
// generate` writes them; an entity without a file of the format may come as
// JSON Lines (<entity>.jsonl, as event trackers write site events).
func (s *Sources) openFile(ctx context.Context, t *canon.Table) (Rows, error) {
	dir, format := s.cfg.Files.Dir, s.cfg.Files.Format
	if dir == "" {
		return nil, fs.ErrNotExist
	}
	path := filepath.Join(dir, string(t.Entity)+"."+format)
	if _, err := os.Stat(path); err != nil {
		jsonl := filepath.Join(dir, string(t.Entity)+".jsonl")
		if _, jerr := os.Stat(jsonl); jerr == nil {
			return OpenJSONL(jsonl, t)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("looked for %s.%s and %s.jsonl in %s: %w", t.Entity, format, t.Entity, dir, fs.ErrNotExist)
		}
		return nil, err
	}
	if format == "parquet" {
		return OpenParquet(ctx, path, t, s.o.Mem, s.o.BatchRows)
	}
	return OpenCSV(path, t)
}

// Incremental is a database query read incrementally: it keeps the largest
// value of the watermark column it read, which extract saves once the entity
// has landed.
type Incremental struct {
	*SQL
	Source, Entity string
	col            int // result column
	max            int64
	seen           bool
	partial        bool
}

// Next reads the next row and keeps its watermark.
func (w *Incremental) Next() bool {
	if !w.SQL.Next() {
		return false
	}
	if v, ok := canon.ParseTime(w.Value(w.col)); ok && (!w.seen || v > w.max) {
		w.max, w.seen = v, true
	}
	return true
}

// Mark is the newest watermark read; ok is false when nothing new was read
// (the watermark stays).
func (w *Incremental) Mark() (time.Time, bool) { return time.Unix(w.max, 0).UTC(), w.seen }

// Partial says that only what changed since the watermark was read.
func (w *Incremental) Partial() bool { return w.partial }

// openIncremental runs the entity's query for the rows whose watermark column
// is at or after the newest value landed before, less the overlap (all rows
// on the first run or with --full).
func (s *Sources) openIncremental(ctx context.Context, d database, q string, t *canon.Table, col string) (Rows, error) {
	if k := t.Index(col); !strings.HasPrefix(col, "_") && (k < 0 || t.Columns[k].Kind != canon.Timestamp) {
		return nil, fmt.Errorf("source.%s.watermarks: %s is neither a timestamp column of %s nor a result column named _...", d.name, col, t.Entity)
	}
	name := d.name + ":" + string(t.Entity)
	since, ok, err := s.marks.Watermark(ctx, d.name, string(t.Entity))
	if err != nil {
		return nil, err
	}
	log := s.o.Log.WithFields(logrus.Fields{"entity": t.Entity, "source": name})
	partial := ok && !s.cfg.Full
	var args []any
	if partial {
		from := since.Add(-d.cfg.Overlap)
		log.WithFields(logrus.Fields{"watermark": since.Format(time.RFC3339), "from": from.Format(time.RFC3339)}).Info("incremental read")
		// The time is a query parameter; the column name was checked by the config.
		mark := "?"
		if d.name == "postgres" {
			mark = "$1"
		}
		q = fmt.Sprintf("SELECT * FROM (%s) tessera_incremental WHERE %s >= %s", q, col, mark)
		args = append(args, from.UTC().Format(time.DateTime))
	} else {
		log.Info("full read")
	}
	rows, err := QuerySQL(ctx, d.db, name, q, t, args...)
	if err != nil {
		return nil, err
	}
	k := rows.Column(col)
	if k < 0 {
		rows.Close()
		return nil, fmt.Errorf("source.%s.watermarks: the query of %s has no result column %s", d.name, t.Entity, col)
	}
	return &Incremental{SQL: rows, Source: d.name, Entity: string(t.Entity), col: k, partial: partial}, nil
}
