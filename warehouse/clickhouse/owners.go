package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/go-faster/city"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Orders and their lines are sorted by their customer's hash first
// (customer_hash, migration 0032), so that a shard's pod reads only its
// range. A line does not name its customer: it lands under its order's, which
// the DB remembers for every order it landed or listed (owners). An order
// that changes customer lands under its new hash beside its old row; extract
// then settles it (SettleMovedOrders): the old row and its lines are marked
// deleted, the lines copied under the new hash first.

// hashColumn is the column of the raw tables laid out by customer.
const hashColumn = "customer_hash"

// ordersByCustomerHash says whether order lines are sorted by customer_hash
// first (read once): a cluster's replicated tables made before migration
// 0032 keep their sorting key (the cluster's sync adds columns; it does not
// rebuild tables), and their older rows have no hash (0).
func (w *DB) ordersByCustomerHash(ctx context.Context) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byHash != nil {
		return *w.byHash, nil
	}
	db := w.db
	if w.cluster != nil {
		db = w.cluster.local
	}
	var key string
	if err := w.conn.QueryRow(ctx, "SELECT sorting_key FROM system.tables WHERE database = ? AND name = ?", db, warehouse.RawTable(canon.OrderLines)).Scan(&key); err != nil {
		return false, fmt.Errorf("the sorting key of %s: %w", warehouse.RawTable(canon.OrderLines), err)
	}
	byHash := strings.HasPrefix(key, hashColumn+",")
	w.byHash = &byHash
	return byHash, nil
}

// owners maps each order (a 64-bit hash of its id) to its customer's hash.
type owners struct {
	mu      sync.Mutex
	ix      *canon.Index // nil until an order is put
	scratch []uint64     // a batch's order hashes
}

func orderHash(orderID string) uint64 { return city.CH64([]byte(orderID)) }

// index is the map, made on first use; the caller holds mu.
func (o *owners) index() *canon.Index {
	if o.ix == nil {
		o.ix = canon.NewIndex()
	}
	return o.ix
}

// put records the order's customer; keep leaves a known order as it is (a
// listing of the warehouse's orders does not override what the run landed).
func (o *owners) put(orderID string, customer uint64, keep bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := orderHash(orderID)
	if _, known := o.index().Get(h); known && keep {
		return
	}
	o.index().Put(h, int64(customer))
}

// record records the customers of a batch of orders, appending their hashes
// to out: one lock a batch, not a row.
func (o *owners) record(orders, customers *array.String, out []uint64) []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	ix := o.index()
	hs := o.hashes(orders)
	for i, h := range hs {
		if i+ownersAhead < len(hs) {
			ix.Prefetch(hs[i+ownersAhead])
		}
		c := city.CH64([]byte(customers.Value(i)))
		ix.Put(h, int64(c))
		out = append(out, c)
	}
	return out
}

// lookup appends each order's customer hash to out (0 for an order not
// known), and lists the orders not known.
func (o *owners) lookup(orders *array.String, out []uint64) ([]uint64, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ix := o.index()
	var missing []string
	hs := o.hashes(orders)
	for i, h := range hs {
		if i+ownersAhead < len(hs) {
			ix.Prefetch(hs[i+ownersAhead])
		}
		v, ok := ix.Get(h)
		if !ok {
			missing = append(missing, orders.Value(i))
		}
		out = append(out, uint64(v))
	}
	return out, missing
}

// ownersAhead is how many orders ahead record and lookup ask for the
// index's cache lines (at 2.9 M orders, BenchmarkOwners).
const ownersAhead = 8

// hashes are the hashes of a batch's orders, in o's scratch; the caller
// holds mu.
func (o *owners) hashes(orders *array.String) []uint64 {
	o.scratch = o.scratch[:0]
	for i := range orders.Len() {
		o.scratch = append(o.scratch, orderHash(orders.Value(i)))
	}
	return o.scratch
}

func (o *owners) free() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ix != nil {
		o.ix.Free()
		o.ix = nil
	}
	o.scratch = nil
}

// customerHashes is the customer_hash column of a batch of orders (the hash
// of their customer) or of order lines (their order's customer's, as landed
// or listed; else as the warehouse has it).
func (w *DB) customerHashes(ctx context.Context, e canon.Entity, rec arrow.Record, out []uint64) ([]uint64, error) {
	switch e {
	case canon.Orders:
		return w.owners.record(canon.ArrayOf[*array.String](rec, "order_id"), canon.ArrayOf[*array.String](rec, "customer_id"), out[:0]), nil
	case canon.OrderLines:
		orders := canon.ArrayOf[*array.String](rec, "order_id")
		out, missing := w.owners.lookup(orders, out[:0])
		if len(missing) == 0 {
			return out, nil
		}
		if err := w.listOwners(ctx, missing); err != nil {
			return nil, err
		}
		if out, missing = w.owners.lookup(orders, out[:0]); len(missing) > 0 {
			return nil, fmt.Errorf("order line of order %q: the warehouse has no such order (land the orders first)", missing[0])
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s has no customer hash", e)
}

// listOwners learns the customers of orders the warehouse has (of several
// rows of one order, the one that wins: see winner).
func (w *DB) listOwners(ctx context.Context, orderIDs []string) error {
	slices.Sort(orderIDs)
	orderIDs = slices.Compact(orderIDs)
	rows, err := w.conn.Query(ctx, w.expand(`SELECT order_id, customer_hash, _version, run_id FROM {db}.raw_orders FINAL
WHERE _deleted = 0 AND order_id IN (?)`), orderIDs)
	if err != nil {
		return fmt.Errorf("the customers of %d orders: %w", len(orderIDs), unavailable(err))
	}
	defer rows.Close()
	best := map[string]orderRow{}
	for rows.Next() {
		var r orderRow
		if err := rows.Scan(&r.order, &r.hash, &r.version, &r.run); err != nil {
			return err
		}
		if b, ok := best[r.order]; !ok || r.beats(b) {
			best[r.order] = r
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range best {
		w.owners.put(r.order, r.hash, false)
	}
	return nil
}

// orderRow is one live row of an order in raw_orders.
type orderRow struct {
	order   string
	hash    uint64
	version uint64
	run     string
}

// beats says which of two rows of an order is its current one: the newer
// version, as ReplacingMergeTree keeps of one key; of equal versions the
// later run's (run ids sort by time); of one run, the larger hash (a source
// that gave one order to two customers at once: either, but always the same).
func (r orderRow) beats(o orderRow) bool {
	return cmp.Or(cmp.Compare(r.version, o.version), strings.Compare(r.run, o.run), cmp.Compare(r.hash, o.hash)) > 0
}

// SettleMovedOrders settles every order the warehouse holds under more than
// one customer (those the run landed, and any a run that stopped before
// settling left): each old row is marked deleted (a row
// of its key and version with _deleted = 1, which FINAL keeps as the later
// of equal versions), after its lines are copied under the current
// customer's hash (keeping their versions, so that lines the run lands
// themselves win) and marked deleted too; the tombstones carry runID. Each
// step can run again. It returns the orders settled.
func (w *DB) SettleMovedOrders(ctx context.Context, runID string) (int, error) {
	// Grouped by a hash of the id first: a set of numbers, not of every
	// order's id, holds the server's memory down.
	rows, err := w.conn.Query(ctx, w.expand(`SELECT order_id, groupArray(customer_hash), groupArray(_version), groupArray(run_id) FROM {db}.raw_orders FINAL
WHERE _deleted = 0 AND cityHash64(order_id) IN (
    SELECT cityHash64(order_id) AS h FROM {db}.raw_orders FINAL WHERE _deleted = 0 GROUP BY h HAVING count() > 1)
GROUP BY order_id HAVING count() > 1 ORDER BY order_id`))
	if err != nil {
		return 0, fmt.Errorf("orders that moved to another customer: %w", unavailable(err))
	}
	type move struct {
		order    string
		from, to uint64
	}
	var moves []move
	settled := 0
	for rows.Next() {
		var order string
		var hashes, versions []uint64
		var runs []string
		if err := rows.Scan(&order, &hashes, &versions, &runs); err != nil {
			rows.Close()
			return 0, err
		}
		cur := orderRow{order, hashes[0], versions[0], runs[0]}
		for i := range hashes {
			if r := (orderRow{order, hashes[i], versions[i], runs[i]}); r.beats(cur) {
				cur = r
			}
		}
		w.owners.put(order, cur.hash, false)
		settled++
		for _, h := range hashes {
			if h != cur.hash {
				moves = append(moves, move{order, h, cur.hash})
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	lines, err := canon.Lookup(canon.OrderLines)
	if err != nil {
		return 0, err
	}
	var cols []string
	for _, c := range lines.Columns {
		cols = append(cols, c.Name)
	}
	const chunk = 1000
	for start := 0; start < len(moves); start += chunk {
		ms := moves[start:min(start+chunk, len(moves))]
		keys, orders, to := make([]string, len(ms)), make([]string, len(ms)), make([]string, len(ms))
		for i, m := range ms {
			keys[i] = fmt.Sprintf("(%d, %s)", m.from, quote(m.order))
			orders[i], to[i] = quote(m.order), fmt.Sprintf("toUInt64(%d)", m.to)
		}
		old := "(customer_hash, order_id) IN (" + strings.Join(keys, ", ") + ")"
		newHash := fmt.Sprintf("transform(order_id, [%s], [%s], toUInt64(0))", strings.Join(orders, ", "), strings.Join(to, ", "))
		for _, stmt := range []string{
			fmt.Sprintf(`INSERT INTO {db}.raw_order_lines (%[1]s, customer_hash, run_id, _version, _deleted)
SELECT %[1]s, %[2]s, run_id, _version, 0 FROM {db}.raw_order_lines FINAL WHERE _deleted = 0 AND %[3]s`, strings.Join(cols, ", "), newHash, old),
			fmt.Sprintf(`INSERT INTO {db}.raw_order_lines (order_id, line_no, customer_hash, run_id, _version, _deleted)
SELECT order_id, line_no, customer_hash, %[1]s, _version, 1 FROM {db}.raw_order_lines FINAL WHERE _deleted = 0 AND %[2]s`, quote(runID), old),
			fmt.Sprintf(`INSERT INTO {db}.raw_orders (order_id, customer_hash, run_id, _version, _deleted)
SELECT order_id, customer_hash, %[1]s, _version, 1 FROM {db}.raw_orders FINAL WHERE _deleted = 0 AND %[2]s`, quote(runID), old),
		} {
			if err := w.Exec(ctx, stmt); err != nil {
				return 0, fmt.Errorf("settle %d orders that moved to another customer: %w", len(ms), err)
			}
		}
	}
	return settled, nil
}

// quote is a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// liveOnly is the condition of the live rows of a raw table: orders and
// lines have tombstones (see SettleMovedOrders); "" for the others.
func liveOnly(e canon.Entity) string {
	if e == canon.Orders || e == canon.OrderLines {
		return "_deleted = 0"
	}
	return ""
}

// whereLive is liveOnly as a WHERE clause ("" for none).
func whereLive(e canon.Entity) string {
	if c := liveOnly(e); c != "" {
		return " WHERE " + c
	}
	return ""
}
