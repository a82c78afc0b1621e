package pipeline

import (
	"context"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/tessera-cdp/tessera/warehouse"
)

// writeBehind writes batches to parts in a goroutine of its own, one after
// another in the order given, while the caller reads and builds the next:
// a stage that reads every customer's rows and writes others otherwise waits
// for the warehouse at each insert, and encodes with one core of two. At
// most depth batches wait; one goroutine, so one connection, writes.
type writeBehind struct {
	ctx   context.Context
	queue chan pendingWrite
	done  chan struct{}
	mu    sync.Mutex
	err   error // the first write's error: the writes after it are dropped
}

type pendingWrite struct {
	w   warehouse.PartWriter
	rec arrow.Record
}

func newWriteBehind(ctx context.Context, depth int) *writeBehind {
	wb := &writeBehind{ctx: ctx, queue: make(chan pendingWrite, depth), done: make(chan struct{})}
	go func() {
		defer close(wb.done)
		for p := range wb.queue {
			if wb.failed() == nil {
				if err := p.w.Write(wb.ctx, p.rec); err != nil {
					wb.mu.Lock()
					wb.err = err
					wb.mu.Unlock()
				}
			}
			p.rec.Release()
		}
	}()
	return wb
}

func (wb *writeBehind) failed() error {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return wb.err
}

// write queues rec for w (it keeps a reference: the caller may release
// rec), or returns the error of an earlier write.
func (wb *writeBehind) write(w warehouse.PartWriter, rec arrow.Record) error {
	if err := wb.failed(); err != nil {
		return err
	}
	rec.Retain()
	select {
	case wb.queue <- pendingWrite{w, rec}:
		return nil
	case <-wb.ctx.Done():
		rec.Release()
		return wb.ctx.Err()
	}
}

// wait writes what is queued and returns the first error. Call it once,
// before the parts are closed or aborted.
func (wb *writeBehind) wait() error {
	close(wb.queue)
	<-wb.done
	return wb.failed()
}
