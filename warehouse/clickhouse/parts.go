package clickhouse

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/go-faster/city"

	chgo "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// partTable is the table holding one shard's part of a sharded stage's date:
// named by the table, the date, the job (hashed: a Job's name is not a table name) and
// the shard.
func partTable(table string, asOf time.Time, job string, s warehouse.Slice) string {
	return fmt.Sprintf("%s_part_%s_%016x_%d_of_%d", table, asOf.Format("20060102"), city.CH64([]byte(job)), s.Index, s.Of)
}

// partWriter inserts batches into a part's temporary table, all in one
// INSERT (see recordBatch) sent when the part closes.
type partWriter struct {
	w                     *DB
	table, name, tmp, run string
	asOf                  time.Time
	batch                 *recordBatch // nil until the first batch
	// longest: the longest value written of each text column, recorded in
	// part_text_lengths before the part is renamed into place.
	longest map[string]uint64
}

// OpenPart starts writing the shard's part of the as-of date of table. The
// part is written into a table of its own (the structure of <table>_staging)
// and renamed into place once whole: a shard killed while writing leaves no
// part, only a table its re-run replaces.
func (w *DB) OpenPart(ctx context.Context, table string, _ *arrow.Schema, asOf time.Time, job string, s warehouse.Slice, runID string) (warehouse.PartWriter, error) {
	name := partTable(table, asOf, job, s)
	pw := &partWriter{w: w, table: table, name: name, tmp: name + "_tmp", run: runID, asOf: asOf}
	if err := w.dropPart(ctx, pw.tmp); err != nil {
		return nil, err
	}
	if err := w.createPart(ctx, pw.tmp, table+"_staging"); err != nil {
		return nil, err
	}
	return pw, nil
}

// Write inserts rec, with as_of and run_id added.
func (pw *partWriter) Write(ctx context.Context, rec arrow.Record) error {
	if pw.batch == nil {
		b, err := pw.w.openRecordBatch(ctx, pw.tmp, pw.table+"_staging", pw.asOf, pw.run, rec.Schema())
		if err != nil {
			return err
		}
		pw.batch = b
		pw.longest = map[string]uint64{}
	}
	for i, f := range rec.Schema().Fields() {
		if a, ok := rec.Column(i).(*array.String); ok {
			pw.longest[f.Name] = max(pw.longest[f.Name], longestValue(a))
		}
	}
	return pw.batch.add(rec)
}

// Close renames the part into place, replacing an earlier attempt's.
func (pw *partWriter) Close(ctx context.Context) error {
	if pw.batch != nil {
		if err := pw.batch.send(); err != nil {
			return err
		}
		if err := pw.w.savePartTextLengths(ctx, pw.name, pw.longest); err != nil {
			return err
		}
	}
	if err := pw.w.dropPart(ctx, pw.name); err != nil { // the part of an earlier attempt of the same job
		return err
	}
	if err := pw.w.renamePart(ctx, pw.tmp, pw.name); err != nil {
		return err
	}
	return pw.w.dropStaleParts(ctx, pw.table)
}

// Abort drops what was written (a re-run drops it anyway).
func (pw *partWriter) Abort(ctx context.Context) {
	if pw.batch != nil {
		pw.batch.abort()
	}
	pw.w.dropPart(ctx, pw.tmp)
}

// createPart creates a part's table with the structure of like: on a
// cluster a replicated table on every server and a Distributed one in front.
func (w *DB) createPart(ctx context.Context, name, like string) error {
	if w.cluster == nil {
		return w.Exec(ctx, fmt.Sprintf("CREATE TABLE {db}.%s AS {db}.%s", name, like))
	}
	var engine, key string
	if err := retryGone(ctx, func() error {
		return w.conn.QueryRow(ctx, "SELECT engine_full, sorting_key FROM system.tables WHERE database = ? AND name = ?", w.cluster.local, like).Scan(&engine, &key)
	}); err != nil {
		return fmt.Errorf("part of %s: %w", like, err)
	}
	rep, err := replicated(unreplicated(engine), w.cluster.local, name)
	if err != nil {
		return err
	}
	if err := w.onCluster(ctx, fmt.Sprintf("CREATE TABLE {local}.%s ON CLUSTER {cluster} AS {local}.%s ENGINE = %s", name, like, rep)); err != nil {
		return err
	}
	return w.distribute(ctx, name, shardingKey(key))
}

// renamePart renames a part's table (on a cluster, the replicated tables,
// and the Distributed one made anew: it names the table it reads).
func (w *DB) renamePart(ctx context.Context, from, to string) error {
	if w.cluster == nil {
		return w.Exec(ctx, fmt.Sprintf("RENAME TABLE {db}.%s TO {db}.%s", from, to))
	}
	var key string
	if err := retryGone(ctx, func() error {
		return w.conn.QueryRow(ctx, "SELECT sorting_key FROM system.tables WHERE database = ? AND name = ?", w.cluster.local, from).Scan(&key)
	}); err != nil {
		return fmt.Errorf("part %s: %w", from, err)
	}
	if err := w.onCluster(ctx, fmt.Sprintf("RENAME TABLE {local}.%s TO {local}.%s ON CLUSTER {cluster}", from, to)); err != nil {
		return err
	}
	if err := w.onCluster(ctx, "DROP TABLE IF EXISTS {db}."+from+" ON CLUSTER {cluster}"); err != nil {
		return err
	}
	return w.distribute(ctx, to, shardingKey(key))
}

// dropPart drops a part's table if it exists.
func (w *DB) dropPart(ctx context.Context, name string) error {
	if w.cluster == nil {
		return w.Exec(ctx, "DROP TABLE IF EXISTS {db}."+name)
	}
	for _, q := range []string{"DROP TABLE IF EXISTS {db}." + name + " ON CLUSTER {cluster}", "DROP TABLE IF EXISTS {local}." + name + " ON CLUSTER {cluster}"} {
		if err := w.onCluster(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// PartRows counts the rows of the job's parts named.
func (w *DB) PartRows(ctx context.Context, table string, asOf time.Time, job string, parts []warehouse.Slice) (int, error) {
	total := 0
	for _, s := range parts {
		var n uint64
		if err := w.conn.QueryRow(ctx, w.expand("SELECT count() FROM {db}."+partTable(table, asOf, job, s))).Scan(&n); err != nil {
			if tableGone(err) {
				return 0, fmt.Errorf("count the rows of the parts of %s: %w: %w", table, warehouse.ErrPartGone, err)
			}
			return 0, fmt.Errorf("count the rows of the parts of %s: %w", table, err)
		}
		total += int(n)
	}
	return total, nil
}

// PartsWritten counts the parts of the job written whole.
func (w *DB) PartsWritten(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error) {
	names := make([]string, of)
	for i := range names {
		names[i] = "'" + partTable(table, asOf, job, warehouse.Slice{Index: i, Of: of}) + "'"
	}
	// On a cluster, the Distributed tables: each is made once its replicated
	// tables are in place.
	var n uint64
	err := retryGone(ctx, func() error {
		return w.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM system.tables WHERE database = ? AND name IN (%s)", strings.Join(names, ", ")), w.db).Scan(&n)
	})
	return int(n), err
}

// StageParts makes the job's parts the as-of date's partition of
// <table>_staging and returns its rows. Re-running it after a failure at any
// step stages the same rows.
func (w *DB) StageParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error) {
	day := asOf.Format(time.DateOnly)
	staging := table + "_staging"
	if err := w.alterPartition(ctx, fmt.Sprintf("ALTER TABLE {db}.%s DROP PARTITION '%s'", staging, day)); err != nil {
		return 0, err
	}
	for i := 0; i < of; i++ { // hard links of each part's data, not a copy
		if err := w.alterPartition(ctx, fmt.Sprintf("ALTER TABLE {db}.%s ATTACH PARTITION '%s' FROM {db}.%s", staging, day, partTable(table, asOf, job, warehouse.Slice{Index: i, Of: of}))); err != nil {
			return 0, err
		}
	}
	n, err := w.rowsOf(ctx, staging, day)
	if err != nil {
		return 0, err
	}
	return n, w.dropStaleParts(ctx, table)
}

// PublishParts makes the job's parts the as-of date's partition of table in
// one swap, and returns the rows published. Re-running it after a failure at
// any step publishes the same rows.
func (w *DB) PublishParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error) {
	if _, err := w.StageParts(ctx, table, asOf, job, of); err != nil {
		return 0, err
	}
	if err := w.Swap(ctx, table, asOf); err != nil {
		return 0, err
	}
	return w.rowsOf(ctx, table, asOf.Format(time.DateOnly))
}

// rowsOf counts a date's rows of a table.
func (w *DB) rowsOf(ctx context.Context, table, day string) (int, error) {
	var n uint64
	if err := w.conn.QueryRow(ctx, w.expand(fmt.Sprintf("SELECT count() FROM {db}.%s WHERE as_of = toDate('%s')", table, day))).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return int(n), nil
}

// EachPart hands over, batch rows at a time, the columns of schema of the
// job's parts named, in the order of the schema's first column (the customer
// id): how shard 0 reads every shard's part, and a shard its own. A few data
// parts are merged by key as they are read (readMerged); more, or parts on a
// cluster, are sorted by the server.
func (w *DB) EachPart(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, job string, parts []warehouse.Slice, batch int, fn func(arrow.Record) error) error {
	cols, err := publishedColumns(table, schema)
	if err != nil {
		return err
	}
	from, names := make([]string, len(parts)), make([]string, len(parts))
	for i, s := range parts {
		names[i] = partTable(table, asOf, job, s)
		from[i] = fmt.Sprintf("SELECT %s FROM {db}.%s", strings.Join(schemaNames(schema), ", "), names[i])
	}
	err = w.fixParts(ctx, &cols, schema, names)
	if err == nil {
		err = w.readParts(ctx, mem, cols, schema, names, from, batch, fn)
	}
	if tableGone(err) || tooLong(err) { // a part rewritten since its lengths were read
		return fmt.Errorf("read the parts of %s: %w: %w", table, warehouse.ErrPartGone, err)
	}
	if err != nil {
		return fmt.Errorf("read the parts of %s: %w", table, err)
	}
	return nil
}

// readParts reads the parts named (each read by from's query of the same
// place) merged by key when their data parts allow (dataParts), else with
// one query the server sorts.
func (w *DB) readParts(ctx context.Context, mem memory.Allocator, cols published, schema *arrow.Schema, names, from []string, batch int, fn func(arrow.Record) error) error {
	data, err := w.dataParts(ctx, names, warehouse.KeyColumn(schema))
	if err != nil {
		return err
	}
	if data != nil {
		if err := w.readMerged(ctx, mem, cols, schema, data, batch, fn); !errors.Is(err, errMergedAway) {
			return err
		}
	}
	return w.readPublished(ctx, mem, cols, schema, "("+strings.Join(from, " UNION ALL ")+")", batch, fn)
}

// tooLong says whether err is ClickHouse's for a value longer than its
// FixedString.
func tooLong(err error) bool {
	var ex *chgo.Exception
	return errors.As(err, &ex) && ex.Code == tooLargeStringSize
}

func schemaNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

// partsKept is how long a part outlives its run: a day.
const partsKept = 24 * time.Hour

// dropStaleParts drops the parts of table written more than a day ago. A
// job's own parts stay after it publishes: its shard 0, killed later in the
// run and run again, publishes again from them.
func (w *DB) dropStaleParts(ctx context.Context, table string) error {
	return w.dropPartsOlderThan(ctx, table, partsKept)
}

// dropPartsOlderThan drops the parts of table made more than age ago. A
// part being renamed into place has no metadata file for a moment, which
// ClickHouse reports as made at time 0: it is not stale (a pod writing two
// parts at once saw the other's so).
func (w *DB) dropPartsOlderThan(ctx context.Context, table string, age time.Duration) error {
	db := w.db
	if w.cluster != nil {
		db = w.cluster.local
	}
	names, err := w.staleParts(ctx, db, table, age)
	if tableGone(err) { // another shard created or dropped a part meanwhile: the next part's write drops them
		return nil
	}
	if err != nil {
		return fmt.Errorf("parts of %s: %w", table, err)
	}
	for _, name := range names {
		if err := w.dropPart(ctx, name); err != nil {
			return err
		}
	}
	return w.forgetStaleLengths(ctx, table)
}

func (w *DB) staleParts(ctx context.Context, db, table string, age time.Duration) ([]string, error) {
	rows, err := w.conn.Query(ctx, `SELECT name FROM system.tables WHERE database = ? AND startsWith(name, ?)
    AND metadata_modification_time > toDateTime(0) AND metadata_modification_time < now() - ?`, db, table+"_part_", int64(age/time.Second))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}

// forgetStaleLengths deletes what part_text_lengths recorded of table's
// parts more than a day ago: those parts are dropped by then (a part's
// lengths are recorded as it is written), and a part that has none of its
// lengths is read with String columns. Without it the table grows by a row
// a text column of every part of every run (about 60,000 rows a year). The
// count first: a mutation only when there is something to delete, about
// once a day.
func (w *DB) forgetStaleLengths(ctx context.Context, table string) error {
	stale := fmt.Sprintf("startsWith(part, %s) AND saved_at < now() - 86400", quote(table+"_part_"))
	var n uint64
	if err := w.conn.QueryRow(ctx, w.expand("SELECT count() FROM {db}.part_text_lengths WHERE "+stale)).Scan(&n); err != nil {
		return fmt.Errorf("the stale text lengths of the parts of %s: %w", table, unavailable(err))
	}
	if n == 0 {
		return nil
	}
	return w.alterPartition(ctx, "ALTER TABLE {db}.part_text_lengths DELETE WHERE "+stale)
}

// JobMedians is the median unit price of each top-level category over the
// lines of the orders placed before the date and not cancelled (the upper
// middle value for an even count, an actual price): what the features stage
// computes from the lines it reads, here for a pod of a sharded Job that
// must do without the other pods' counts (SharePrices). The Job's stored
// medians when there are (StoredMedians), else computed by the warehouse
// from every line and stored. Lines of products not in the catalogue fall
// in the category "". Callers that may run at once take a lock around it
// (two that both compute store the same rows).
func (w *DB) JobMedians(ctx context.Context, asOf time.Time, job, runID string) (map[string]float64, error) {
	stored, err := w.StoredMedians(ctx, asOf, job)
	if err != nil || len(stored) > 0 {
		return stored, err
	}
	m, err := w.medians(ctx, w.expand(fmt.Sprintf(`SELECT top_category, quantileExact(unit_price) FROM (
    SELECT product_id, unit_price FROM {db}.%s FINAL
    WHERE _deleted = 0 AND order_id IN (SELECT order_id FROM {db}.%s FINAL WHERE _deleted = 0 AND ordered_at < toDateTime(%d) AND status != 'cancelled')
) AS l ANY LEFT JOIN (SELECT product_id, splitByChar('/', category)[1] AS top_category FROM {db}.%s FINAL) AS p USING (product_id)
GROUP BY top_category`, warehouse.RawTable(canon.OrderLines), warehouse.RawTable(canon.Orders), asOf.Unix(), warehouse.RawTable(canon.Products))))
	if err != nil {
		return nil, err
	}
	return m, w.StoreMedians(ctx, asOf, job, runID, m)
}

// StoredMedians are the category medians stored for the date and Job (none:
// not yet computed), so that every pod of the Job, one run again among them,
// compares with the same.
func (w *DB) StoredMedians(ctx context.Context, asOf time.Time, job string) (map[string]float64, error) {
	return w.medians(ctx, w.expand(`SELECT top_category, argMax(median_price, computed_at) FROM {db}.category_medians
WHERE as_of = toDate(?) AND job = ? GROUP BY top_category`), asOf.Format(time.DateOnly), job)
}

// StoreMedians stores the Job's category medians for the date.
func (w *DB) StoreMedians(ctx context.Context, asOf time.Time, job, runID string, m map[string]float64) error {
	if len(m) == 0 {
		return nil
	}
	stmt := "INSERT INTO {db}.category_medians (as_of, job, top_category, median_price, run_id, computed_at) VALUES"
	batch, err := w.conn.PrepareBatch(ctx, w.expand(stmt))
	if err != nil {
		return w.failed(stmt, err)
	}
	defer batch.Abort()
	now := time.Now().UTC()
	for _, top := range slices.Sorted(maps.Keys(m)) {
		if err := batch.Append(asOf, job, top, m[top], runID, now); err != nil {
			return w.failed(stmt, err)
		}
	}
	if err := batch.Send(); err != nil {
		return w.failed(stmt, err)
	}
	return nil
}

// SharePrices stores a pod's counts of its lines by category and unit price
// for the other pods of its Job, a row a category (a pod with none writes
// one empty row, so that it is seen to have shared).
func (w *DB) SharePrices(ctx context.Context, asOf time.Time, job string, s warehouse.Slice, runID string, counts map[string]map[float64]int64) error {
	stmt := "INSERT INTO {db}.category_prices (as_of, job, shard, run_id, top_category, unit_prices, lines, computed_at) VALUES"
	batch, err := w.conn.PrepareBatch(ctx, w.expand(stmt))
	if err != nil {
		return w.failed(stmt, err)
	}
	defer batch.Abort()
	now := time.Now().UTC()
	for _, top := range slices.Sorted(maps.Keys(counts)) {
		prices := slices.Sorted(maps.Keys(counts[top]))
		lines := make([]uint64, len(prices))
		for i, p := range prices {
			lines[i] = uint64(counts[top][p])
		}
		if err := batch.Append(asOf, job, uint16(s.Index), runID, top, prices, lines, now); err != nil {
			return w.failed(stmt, err)
		}
	}
	if len(counts) == 0 {
		if err := batch.Append(asOf, job, uint16(s.Index), runID, "", []float64{}, []uint64{}, now); err != nil {
			return w.failed(stmt, err)
		}
	}
	if err := batch.Send(); err != nil {
		return w.failed(stmt, err)
	}
	return nil
}

// PricesShared is how many pods of the Job shared their counts for the
// date, and how many of their rows (of any run) count a category of the
// catalogue: none when no pod has a line, or when every line is of a product
// outside the catalogue (each pod then adds up the counts itself: no
// catalogue is rare). What a pod waiting for the others asks
// each second: it reads neither array (SharedPrices reads the counts, once).
func (w *DB) PricesShared(ctx context.Context, asOf time.Time, job string) (pods, categorised int, err error) {
	var n, c uint64
	if err := w.conn.QueryRow(ctx, w.expand(`SELECT uniqExact(shard), countIf(top_category != '') FROM {db}.category_prices WHERE as_of = toDate(?) AND job = ?`),
		asOf.Format(time.DateOnly), job).Scan(&n, &c); err != nil {
		return 0, 0, fmt.Errorf("the prices the pods shared: %w", unavailable(err))
	}
	return int(n), int(c), nil
}

// SharedPrices adds up the counts the Job's pods shared for the date (of
// each pod, its last run's) and says how many pods shared.
func (w *DB) SharedPrices(ctx context.Context, asOf time.Time, job string) (int, map[string]map[float64]int64, error) {
	rows, err := w.conn.Query(ctx, w.expand(`SELECT shard, run_id, top_category, unit_prices, lines, computed_at FROM {db}.category_prices FINAL
WHERE as_of = toDate(?) AND job = ?`), asOf.Format(time.DateOnly), job)
	if err != nil {
		return 0, nil, fmt.Errorf("the prices the pods shared: %w", unavailable(err))
	}
	defer rows.Close()
	type row struct {
		top    string
		prices []float64
		lines  []uint64
	}
	type pass struct { // a run of a pod
		shard uint16
		run   string
	}
	got := map[pass][]row{}
	latest := map[uint16]pass{}
	at := map[pass]time.Time{}
	for rows.Next() {
		var p pass
		var r row
		var when time.Time
		if err := rows.Scan(&p.shard, &p.run, &r.top, &r.prices, &r.lines, &when); err != nil {
			return 0, nil, fmt.Errorf("the prices the pods shared: %w", err)
		}
		got[p] = append(got[p], r)
		if when.After(at[p]) {
			at[p] = when
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	for p := range got {
		l, ok := latest[p.shard]
		if !ok || at[p].After(at[l]) || at[p].Equal(at[l]) && p.run > l.run {
			latest[p.shard] = p
		}
	}
	counts := map[string]map[float64]int64{}
	for _, p := range latest {
		for _, r := range got[p] {
			for i, price := range r.prices {
				if counts[r.top] == nil {
					counts[r.top] = map[float64]int64{}
				}
				counts[r.top][price] += int64(r.lines[i])
			}
		}
	}
	return len(latest), counts, nil
}

// medians reads rows of a category and its median price.
func (w *DB) medians(ctx context.Context, query string, args ...any) (map[string]float64, error) {
	rows, err := w.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("category medians: %w", unavailable(err))
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var top string
		var m float64
		if err := rows.Scan(&top, &m); err != nil {
			return nil, fmt.Errorf("category medians: %w", err)
		}
		out[top] = m
	}
	return out, rows.Err()
}

// retryGone runs a read of the system tables again (up to 10 times, 100 ms
// apart) while it fails because a table went away as it was read.
func retryGone(ctx context.Context, read func() error) error {
	for attempt := 1; ; attempt++ {
		err := read()
		if !tableGone(err) || attempt == 10 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tableGone says that ClickHouse 18.16 failed to list system.tables or
// system.columns because a table went away while it read them: other shards
// create, rename and drop their parts' tables. It says so as UNKNOWN_TABLE,
// or (seen under load) as a Poco exception that the table's metadata file
// is not found.
func tableGone(err error) bool {
	var ex *chgo.Exception
	return errors.As(err, &ex) && (ex.Code == 60 || (ex.Code == 1000 && strings.Contains(ex.Message, "File not found") && strings.Contains(ex.Message, ".sql")))
}

// SharePurchases stores a pod's counts of its customers' baskets by segment
// for the other pods of its Job, under the score run whose plan placed the
// members (PurgePurchases deletes them two days on).
func (w *DB) SharePurchases(ctx context.Context, asOf time.Time, job, scoreRun string, s warehouse.Slice, runID string, rows []warehouse.SegmentPurchases) error {
	stmt := "INSERT INTO {db}.segment_purchases (as_of, job, score_run, shard, run_id, segment_id, members, counts, product_ids, computed_at) VALUES"
	batch, err := w.conn.PrepareBatch(ctx, w.expand(stmt))
	if err != nil {
		return w.failed(stmt, err)
	}
	defer batch.Abort()
	now := time.Now().UTC()
	var counts []byte
	for _, r := range rows {
		ids := r.IDs
		if ids == nil {
			ids = []string{}
		}
		if counts, err = appendCounts(counts[:0], r); err != nil {
			return err
		}
		if err := batch.Append(asOf, job, scoreRun, uint16(s.Index), runID, r.Segment, uint32(r.Members), string(counts), ids, now); err != nil {
			return w.failed(stmt, err)
		}
	}
	if err := batch.Send(); err != nil {
		return w.failed(stmt, err)
	}
	return nil
}

// appendCounts appends r's products and buyers as segment_purchases.counts
// has them: two unsigned varints a product, its place less the previous
// product's and one (the first's: its place), then its buyers. Most of
// either take a byte: a segment's products are a few hundred of a
// catalogue's thousands, and most bought by a few of its members.
func appendCounts(b []byte, r warehouse.SegmentPurchases) ([]byte, error) {
	if len(r.Products) != len(r.Buyers) {
		return b, fmt.Errorf("the purchases of segment %q: %d products, %d counts", r.Segment, len(r.Products), len(r.Buyers))
	}
	next := uint64(0) // the least place the next product may have
	for k, p := range r.Products {
		if uint64(p) < next {
			return b, fmt.Errorf("the purchases of segment %q: product %d after %d (places ascend)", r.Segment, p, r.Products[k-1])
		}
		b = binary.AppendUvarint(binary.AppendUvarint(b, uint64(p)-next), uint64(r.Buyers[k]))
		next = uint64(p) + 1
	}
	return b, nil
}

// readCounts reads what appendCounts wrote into r's Products and Buyers
// (their arrays reused).
func readCounts(b []byte, r *warehouse.SegmentPurchases) error {
	r.Products, r.Buyers = r.Products[:0], r.Buyers[:0]
	next := uint64(0)
	for len(b) > 0 {
		gap, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("the purchases of segment %q: a product's place cut short", r.Segment)
		}
		buyers, m := binary.Uvarint(b[n:])
		if m <= 0 {
			return fmt.Errorf("the purchases of segment %q: a product's buyers cut short", r.Segment)
		}
		place := next + gap
		if place > math.MaxUint32 || buyers > math.MaxUint32 {
			return fmt.Errorf("the purchases of segment %q: product %d bought by %d (out of range)", r.Segment, place, buyers)
		}
		r.Products, r.Buyers = append(r.Products, uint32(place)), append(r.Buyers, uint32(buyers))
		next, b = place+1, b[n+m:]
	}
	return nil
}

// PurchasesShared are the pods that shared their counts for the date, Job
// and score run, each with its last run (the one whose counts count).
func (w *DB) PurchasesShared(ctx context.Context, asOf time.Time, job, scoreRun string) (map[int]string, error) {
	rows, err := w.conn.Query(ctx, w.expand(`SELECT shard, run_id, max(computed_at) FROM {db}.segment_purchases
WHERE as_of = toDate(?) AND job = ? AND score_run = ? GROUP BY shard, run_id`), asOf.Format(time.DateOnly), job, scoreRun)
	if err != nil {
		return nil, fmt.Errorf("the purchases the pods shared: %w", unavailable(err))
	}
	defer rows.Close()
	latest := map[int]string{}
	at := map[int]time.Time{}
	for rows.Next() {
		var shard uint16
		var run string
		var when time.Time
		if err := rows.Scan(&shard, &run, &when); err != nil {
			return nil, fmt.Errorf("the purchases the pods shared: %w", err)
		}
		k := int(shard)
		if l, ok := latest[k]; !ok || when.After(at[k]) || when.Equal(at[k]) && run > l {
			latest[k], at[k] = run, when
		}
	}
	return latest, rows.Err()
}

// EachPurchases hands over the counts the pods shared for the date, Job and
// score run, of each pod its run in runs (PurchasesShared), in segment
// order: the base rows ("") first, then each segment's rows together, of
// the segments in deal (their id's hash, as customers' in a slice). fn
// must not keep a row's Products or Buyers: they are read into again.
func (w *DB) EachPurchases(ctx context.Context, asOf time.Time, job, scoreRun string, runs map[int]string, deal warehouse.Slice, fn func(warehouse.SegmentPurchases) error) error {
	dealt := ""
	if !deal.Whole() {
		dealt = " AND (segment_id = '' OR " + deal.Filter("segment_id") + ")"
	}
	rows, err := w.conn.Query(ctx, w.expand(`SELECT shard, run_id, segment_id, members, counts, product_ids FROM {db}.segment_purchases FINAL
WHERE as_of = toDate(?) AND job = ? AND score_run = ?`+dealt+` ORDER BY segment_id, shard`), asOf.Format(time.DateOnly), job, scoreRun)
	if err != nil {
		return fmt.Errorf("the purchases the pods shared: %w", unavailable(err))
	}
	defer rows.Close()
	var r warehouse.SegmentPurchases
	for rows.Next() {
		var shard uint16
		var run string
		var members uint32
		var counts string
		r.IDs = nil
		if err := rows.Scan(&shard, &run, &r.Segment, &members, &counts, &r.IDs); err != nil {
			return fmt.Errorf("the purchases the pods shared: %w", err)
		}
		if runs[int(shard)] != run {
			continue
		}
		r.Shard, r.Members = int(shard), int(members)
		if err := readCounts([]byte(counts), &r); err != nil {
			return fmt.Errorf("shared by pod %d: %w", shard, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PurgePurchases deletes the counts shared more than two days ago: a Job's
// pods share and read theirs within hours. The count first: a mutation
// only when there is something to delete, about once a day.
func (w *DB) PurgePurchases(ctx context.Context) error {
	const stale = "computed_at < now() - 2 * 86400"
	var n uint64
	if err := w.conn.QueryRow(ctx, w.expand("SELECT count() FROM {db}.segment_purchases WHERE "+stale)).Scan(&n); err != nil {
		return fmt.Errorf("the purchases shared before: %w", unavailable(err))
	}
	if n == 0 {
		return nil
	}
	return w.alterPartition(ctx, "ALTER TABLE {db}.segment_purchases DELETE WHERE "+stale)
}
