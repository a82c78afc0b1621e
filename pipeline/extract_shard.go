package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/identity"
	"github.com/tessera-cdp/tessera/source"
	"github.com/tessera-cdp/tessera/warehouse"
)

// A sharded extract: every pod reads every source, and lands the rows it
// owns. Which pod owns a row is a function of the row alone, chosen so that
// the rows whose outcome depends on each other meet in one pod, in the
// order one process reads them:
//   - customers and products: every pod checks every row (identities merge
//     customers across the whole file; every child names them) and pod 0
//     lands them;
//   - orders and their lines: by order_id, so that a pod's lines are checked
//     against its own orders, rejected orders included;
//   - site events: by anonymous_id, else event_id, so that a visitor's
//     events meet the login that links them to a customer;
//   - campaign events: by their canonical customer, part of their key.
//
// A key repeated across owners (an event_id under two visitors) lands in
// each pod, as a key repeated beyond dedup_window does in one process.

// ownedBy says which columns decide a row's pod; none: every pod checks the
// entity and pod 0 lands it.
var ownedBy = map[canon.Entity][]string{
	canon.Orders:         {"order_id"},
	canon.OrderLines:     {"order_id"},
	canon.Events:         {"anonymous_id", "event_id"},
	canon.CampaignEvents: {"customer_id"},
}

// rowOwner picks the rows of one entity a pod lands.
type rowOwner struct {
	index, of uint64
	cols      []int // the first non-empty of these decides
	customer  int   // a column to read as its canonical customer, or -1
	ids       *identity.Resolver
	system    string
}

// newRowOwner is nil when the pod lands every row it reads: one process,
// or an entity every pod checks (see wholeRead).
func newRowOwner(sh Shard, t *canon.Table, ids *identity.Resolver, system string) *rowOwner {
	names, ok := ownedBy[t.Entity]
	if !sh.Sharded() || !ok {
		return nil
	}
	o := &rowOwner{index: uint64(sh.Index), of: uint64(sh.Of), customer: -1, ids: ids, system: system}
	for _, n := range names {
		o.cols = append(o.cols, t.Index(n))
	}
	if t.Entity == canon.CampaignEvents {
		o.customer = t.Index("customer_id")
	}
	return o
}

// wholeRead says whether every pod checks every row of e, and pod 0 alone
// lands them.
func wholeRead(sh Shard, e canon.Entity) bool {
	_, owned := ownedBy[e]
	return sh.Sharded() && !owned
}

// checksOnly says whether this pod checks the rows of e that pod 0 lands.
func checksOnly(sh Shard, e canon.Entity) bool { return wholeRead(sh, e) && sh.Index != 0 }

// mine says whether the row just read is this pod's. A row without the
// deciding columns (blank, or cut short) goes by its position.
func (o *rowOwner) mine(rows source.Rows) bool {
	fields := rows.Fields()
	for _, c := range o.cols {
		if c < 0 || c >= len(fields) {
			continue
		}
		v := bytes.TrimSpace(fields[c])
		if len(v) == 0 {
			continue
		}
		if c == o.customer {
			v = o.ids.CustomerOf(o.system, v)
		}
		return o.owns(v)
	}
	return uint64(rows.Position())%o.of == o.index
}

// owns says whether a row whose deciding value is v is this pod's.
func (o *rowOwner) owns(v []byte) bool { return fnv64(v)%o.of == o.index }

// passer is a source that can pass over the records another pod owns
// before splitting them (a canonical CSV file).
type passer interface {
	PassOver(cols []int, keep func(v []byte) bool)
	PassedOver() int64
}

// passOver has rows pass over what mine would refuse, where it can tell
// from the record's text: the same columns, in the same order. Not for a
// column read as its canonical customer while some id stands for another
// (the text is not the value then).
func (o *rowOwner) passOver(rows source.Rows) {
	p, ok := rows.(passer)
	if !ok || (o.customer >= 0 && !o.ids.SelfNamed()) {
		return
	}
	p.PassOver(o.cols, o.owns)
}

// fnv64 is FNV-1a: the same in every pod, whatever its build.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// shardSink is the warehouse as a pod of a sharded extract sees it. Each
// pod keeps the watermarks of the entities it owns rows of (it reads every
// source and saves where it got to, so that a pod killed and run again
// starts where it did, not where the others got to). An entity pod 0 lands
// (wholeRead) every pod reads from pod 0's watermark and only pod 0 saves:
// what is before it is landed, and the others look it up there (RawKeys).
// With quiet set (an entity pod 0 lands, in another pod) it lands, rejects
// and links nothing.
type shardSink struct {
	rawSink
	shard Shard
	quiet bool
}

// markOf is the name of the pod's watermark of entity.
func (s shardSink) markOf(entity string) string {
	if wholeRead(s.shard, canon.Entity(entity)) {
		return entity + "@" + Shard{Index: 0, Of: s.shard.Of}.String()
	}
	return entity + "@" + s.shard.String()
}

func (s shardSink) Watermark(ctx context.Context, src, entity string) (time.Time, bool, error) {
	return s.rawSink.Watermark(ctx, src, s.markOf(entity))
}

func (s shardSink) SaveWatermark(ctx context.Context, src, entity string, value time.Time, runID string) error {
	if checksOnly(s.shard, canon.Entity(entity)) {
		return nil
	}
	return s.rawSink.SaveWatermark(ctx, src, s.markOf(entity), value, runID)
}

func (s shardSink) OpenRaw(ctx context.Context, e canon.Entity, runID string, landedAt time.Time) (warehouse.BatchWriter, error) {
	if s.quiet {
		return discard{}, nil
	}
	return s.rawSink.OpenRaw(ctx, e, runID, landedAt)
}

func (s shardSink) InsertRejected(ctx context.Context, runID string, at time.Time, rs []canon.Rejection) error {
	if s.quiet {
		return nil
	}
	return s.rawSink.InsertRejected(ctx, runID, at, rs)
}

func (s shardSink) SaveIdentities(ctx context.Context, ls []warehouse.Identity, runID string, at time.Time) error {
	if s.quiet {
		return nil
	}
	return s.rawSink.SaveIdentities(ctx, ls, runID, at)
}

// discard is where a pod's batches of an entity pod 0 lands go.
type discard struct{}

func (discard) Write(arrow.Record) error { return nil }
func (discard) Close() error             { return nil }
func (discard) Abort()                   {}

// shardCounter counts the pods of a sharded extract that completed.
type shardCounter interface {
	ShardsDone(ctx context.Context, stage, job string, shards []string) (int, error)
}

// forShard is the sink as the run's pod sees it, or the sink itself for
// one process.
func forShard(sh Shard, st rawSink) (rawSink, error) {
	if !sh.Sharded() {
		return st, nil
	}
	if _, ok := st.(shardCounter); !ok {
		return nil, errors.New("a sharded extract needs ClickHouse: the embedded store is one process's")
	}
	return shardSink{rawSink: st, shard: sh}, nil
}

// A pod of a sharded extract does not settle moved orders after its own
// (shardSink is no orderSettler): pod 0 settles once, after every pod has
// landed (settleForJob). A settle reads the whole of raw_orders twice
// (FINAL): 1.5-2.7 s of the server's CPU at a million customers, which
// four pods each settling paid four times (system.query_log).
// A pod's lines need no settle first: they land under their order's
// current customer, from its own orders (orders and lines go to a pod by
// order_id) or from the warehouse's current row of an order (listOwners
// picks it as the settle would). The settle's copies of the old lines keep
// their versions, the landing times of earlier runs, so the lines the run
// landed win over them, as when the settle comes first.

// settleForJob is pod 0's settle of every moved order, once the other pods
// have landed theirs (awaitShards), counted in its first source of orders.
func settleForJob(ctx context.Context, r Run, st rawSink, res *ExtractResult) error {
	sh := r.Shard
	if !sh.Sharded() || sh.Index != 0 {
		return nil
	}
	settler, ok := st.(shardSink).rawSink.(orderSettler)
	if !ok {
		return nil
	}
	n, err := settler.SettleMovedOrders(ctx, r.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		r.Log.WithField("orders", n).Info("orders moved to another customer, over every pod's: their old rows and lines marked deleted, the lines moved along")
	}
	for i := range res.Entities {
		if res.Entities[i].Entity == canon.Orders {
			res.Entities[i].MovedCustomer = int64(n)
			break
		}
	}
	return nil
}

// awaitShards is pod 0's wait, after its own share, for every other pod of
// its Job to have landed its share: the Job's run lock is freed then, not
// before.
func awaitShards(ctx context.Context, r Run, st rawSink) error {
	sh := r.Shard
	if !sh.Sharded() || sh.Index != 0 {
		return nil
	}
	counter := st.(shardSink).rawSink.(shardCounter)
	var others []string
	for i := 1; i < sh.Of; i++ {
		others = append(others, Shard{Index: i, Of: sh.Of}.String())
	}
	return waitFor(ctx, sh.Wait, func() (bool, string, error) {
		n, err := counter.ShardsDone(ctx, r.Stage, sh.Job, others)
		return n == len(others), fmt.Sprintf("%d of the %d other pods of run %s done", n, len(others), sh.Job), err
	})
}
