package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/identity"
	"github.com/tessera-cdp/tessera/source"
	"github.com/tessera-cdp/tessera/warehouse"
)

// lander lands batches and identity links on a second goroutine, in order,
// while the next batch is read: at most two batches are in memory, and
// reading and inserting share the cores. After the first failure it lands
// nothing more and reports that failure.
type lander struct {
	raw     warehouse.BatchWriter
	jobs    chan func() error
	done    chan error
	failed  atomic.Bool
	stopped bool
}

func startLander(raw warehouse.BatchWriter) *lander {
	l := &lander{raw: raw, jobs: make(chan func() error, 1), done: make(chan error, 1)}
	go func() {
		var err error
		for land := range l.jobs {
			if e := land(); e != nil && err == nil {
				err = e
				l.failed.Store(true)
			}
		}
		if err != nil {
			raw.Abort()
		} else {
			err = raw.Close()
		}
		l.done <- err
	}()
	return l
}

// land queues fn; once something failed, fn is called with skip set and
// should only release what it holds.
func (l *lander) land(fn func(skip bool) error) {
	l.jobs <- func() error { return fn(l.failed.Load()) }
}

// wait lands what is queued, closes the writer and reports the first failure.
func (l *lander) wait() error {
	if l.stopped {
		return nil
	}
	l.stopped = true
	close(l.jobs)
	return <-l.done
}

// entityRead reads one source of one entity: each row is landed in a batch
// or rejected with its rule.
type entityRead struct {
	ctx      context.Context
	r        Run
	t        *canon.Table
	system   string
	rows     source.Rows
	b        *canon.Builder
	ids      *identity.Resolver
	sink     rawSink
	land     *lander
	c        EntityCount
	rejected []canon.Rejection
	// Rows of the current batch of a versioned entity, for reporting one that
	// a newer version replaces before it lands.
	batchPos []int64
	batchRaw []string
	landed   bool
	// parent: the keys of rejected rows are noted in keys, for the children.
	parent bool
	keys   *canon.Keys
	// owner picks the rows this pod lands, in a sharded extract.
	owner *rowOwner
	// ahead: a source that hands a record read ahead, whose key's lookup
	// the builder begins aheadRows rows before it checks the row.
	ahead       aheadSource
	aheadFields [][]byte
}

// aheadSource is a source that can hand the fields of a record k after the
// current one, already read (source.CSV).
type aheadSource interface {
	Ahead(k int, fields [][]byte) bool
}

// aheadRows is how many rows before its own a row's key lookup begins:
// checking a row takes about 0.7 µs, a cache miss up to 0.3.
const aheadRows = 4

func extractEntity(ctx context.Context, r Run, t *canon.Table, system string, rows source.Rows, keys canon.KeySets, ids *identity.Resolver, sink rawSink, o ExtractOptions) (EntityCount, error) {
	e := &entityRead{ctx: ctx, r: r, t: t, system: system, rows: rows, ids: ids, sink: sink, c: EntityCount{Entity: t.Entity, Source: rows.Name()},
		parent: isParent(t.Entity), keys: keys[t.Entity], owner: newRowOwner(r.Shard, t, ids, system)}
	log := r.Log.WithFields(logrus.Fields{"entity": t.Entity, "source": rows.Name()})
	b, err := canon.NewBuilder(r.Mem, t, keys)
	if err != nil {
		return e.c, err
	}
	defer b.Release()
	if o.MaxAmount > 0 {
		b.SetMaxAmount(o.MaxAmount)
	}
	if o.Source.UnknownProduct == "reject" {
		b.RejectSoft()
	}
	e.b = b
	if a, ok := rows.(aheadSource); ok {
		e.ahead, e.aheadFields = a, make([][]byte, len(t.Columns))
	}
	if e.owner != nil {
		e.owner.passOver(rows)
	}
	raw, err := sink.OpenRaw(ctx, t.Entity, r.ID, r.Started)
	if err != nil {
		return e.c, err
	}
	e.land = startLander(raw)
	defer e.land.wait()
	log.Info("reading")
	start := time.Now()
	lastLog := start
	for rows.Next() {
		if err := e.row(); err != nil {
			return e.c, err
		}
		if b.Len() >= o.BatchRows {
			if err := e.flush(); err != nil {
				return e.c, err
			}
			if err := ctx.Err(); err != nil {
				return e.c, err
			}
		}
		if e.c.Read%65536 == 0 && time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			log.WithFields(logrus.Fields{"rows_read": e.c.Read, "rows_per_sec": int(float64(e.c.Read) / time.Since(start).Seconds())}).Info("extracting")
		}
	}
	if err := e.finish(); err != nil {
		return e.c, err
	}
	c := e.c
	secs := time.Since(start).Seconds()
	c.Seconds = round(secs)
	log.WithFields(logrus.Fields{"rows_read": c.Read, "rows_landed": c.Landed, "rows_rejected": c.Rejected,
		"replaced_by_newer": c.Replaced, "linked": c.Linked,
		"rows_per_sec": int(float64(c.Read) / max(secs, 1e-3)), "seconds": round(secs)}).Info("extracted")
	return c, nil
}

// blankRows is a source that tells a wholly blank record (",,,," padding an
// export) from a row: it is counted, not rejected.
type blankRows interface{ Blank() bool }

// personRows is a source whose customers carry a person key besides their
// own id (a marketplace's unique customer id beside its per-order one).
type personRows interface{ Person() []byte }

// row takes the row just read: appended to the batch, or rejected.
func (e *entityRead) row() error {
	rows, b, ids := e.rows, e.b, e.ids
	if e.ahead != nil && e.ahead.Ahead(aheadRows, e.aheadFields) {
		b.Prefetch(e.aheadFields)
	}
	if e.owner != nil && !e.owner.mine(rows) {
		e.c.OtherPods++
		return nil
	}
	e.c.Read++
	if br, ok := rows.(blankRows); ok && br.Blank() {
		e.c.Blank++
		return nil
	}
	rule, detail := rows.Problem()
	key := ""
	if rule == "" && e.t.Entity == canon.Customers {
		// A row that breaks a rule is rejected for it, not merged by its e-mail.
		rule, detail = b.Check(rows.Fields())
	}
	if rule == "" {
		var person []byte
		if pr, ok := rows.(personRows); ok {
			person = pr.Person()
		}
		fields := ids.Resolve(e.t, e.system, rows.Fields(), person)
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
	if rule == "" && e.t.Version != "" {
		if k := b.Replaced(); k >= 0 {
			e.c.Replaced++
			e.c.Rejected++
			e.c.count(canon.DuplicateKey, e.batchPos[k], "replaced by a newer version")
			e.rejected = append(e.rejected, canon.Rejection{Source: rows.Name(), Entity: e.t.Entity, Position: e.batchPos[k],
				Key: b.Key(rows.Fields()), Rule: canon.DuplicateKey,
				Detail: fmt.Sprintf("replaced by a newer version of the key at row %d", rows.Position()), Raw: strings.Clone(e.batchRaw[k])})
		}
		e.batchPos, e.batchRaw = append(e.batchPos, rows.Position()), append(e.batchRaw, rows.Raw())
	}
	if rule == "" {
		return nil
	}
	if key == "" { // the row's key as read, where it has one: what a user looks it up by
		key = strings.Trim(b.Key(rows.Fields()), "|")
	}
	e.rejected = append(e.rejected, canon.Rejection{Source: rows.Name(), Entity: e.t.Entity, Position: rows.Position(),
		Key: key, Rule: rule, Detail: detail, Raw: strings.Clone(rows.Raw())}) // held till written: not the source's block
	e.c.Rejected++
	e.c.count(rule, rows.Position(), detail)
	if e.parent && rule != canon.DuplicateKey {
		// Its children are parent_rejected, not orphans.
		if k := e.t.Index(e.t.Key[0]); k < len(rows.Fields()) {
			if v := bytes.TrimSpace(rows.Fields()[k]); len(v) > 0 {
				e.keys.Reject(v)
			}
		}
	}
	if len(e.rejected) >= 10000 {
		return e.flushRejected()
	}
	return nil
}

func (e *entityRead) flushRejected() error {
	err := e.sink.InsertRejected(e.ctx, e.r.ID, e.r.Started, e.rejected)
	e.rejected = e.rejected[:0]
	return err
}

// flush hands the batch to the lander (an empty one only if nothing landed
// yet, so that the table exists).
func (e *entityRead) flush() error {
	e.batchPos, e.batchRaw = e.batchPos[:0], e.batchRaw[:0]
	rec := e.b.NewRecord()
	if (rec.NumRows() == 0 && e.landed) || e.land.failed.Load() {
		rec.Release()
		if e.land.failed.Load() {
			return e.land.wait()
		}
		return nil
	}
	e.landed = true
	e.c.Landed += rec.NumRows()
	if e.t.Entity == canon.Orders {
		e.c.ZeroValue += zeroValueOrders(rec)
	}
	raw := e.land.raw
	e.land.land(func(skip bool) error {
		defer rec.Release()
		if skip {
			return nil
		}
		return raw.Write(rec)
	})
	if e.ids.Fresh() >= 1<<16 { // bounded, as the batches are
		e.saveLinks(true)
	}
	return nil
}

// saveLinks hands the new identity links to the lander. An INSERT a chunk:
// one held open for the entity would idle between sparse chunks (site logins)
// past the server's timeout.
func (e *entityRead) saveLinks(more bool) {
	chunk := e.ids.TakeFresh(more)
	e.land.land(func(skip bool) error {
		if skip {
			return nil
		}
		return e.sink.SaveIdentities(e.ctx, chunk, e.r.ID, e.r.Started)
	})
}

// finish lands the last batch, links and rejections and checks the counts.
func (e *entityRead) finish() error {
	if err := e.rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", e.rows.Name(), err)
	}
	if err := e.flush(); err != nil {
		return err
	}
	if e.ids.Fresh() > 0 {
		e.saveLinks(false)
	}
	if err := e.land.wait(); err != nil {
		return err
	}
	if err := e.flushRejected(); err != nil {
		return err
	}
	c := &e.c
	if p, ok := e.rows.(passer); ok {
		c.OtherPods += p.PassedOver()
	}
	c.Replaced += e.b.Superseded()
	c.landedTwice = e.b.Superseded()
	c.Linked = e.ids.TakeLinked()
	c.UnknownProduct = e.b.SoftMissed()
	if c.Read != c.Landed+c.Rejected+c.Blank { // a bug, never data: say so loudly
		return fmt.Errorf("%s: read %d rows but landed %d, rejected %d and skipped %d blank", e.t.Entity, c.Read, c.Landed, c.Rejected, c.Blank)
	}
	return nil
}

// zeroValueOrders counts the orders of rec, not cancelled, whose net amount
// is 0.
func zeroValueOrders(rec arrow.Record) int64 {
	net, status := canon.ArrayOf[*array.Float64](rec, "net_amount"), canon.ArrayOf[*array.String](rec, "status")
	var n int64
	for i := 0; i < int(rec.NumRows()); i++ {
		if net.IsValid(i) && net.Value(i) == 0 && status.Value(i) != "cancelled" {
			n++
		}
	}
	return n
}
