package pipeline

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
)

// pending is a read run in a goroutine of its own, begun before what it
// reads is needed: the warehouse works on it while the caller works on
// something else.
type pending[T any] struct {
	stop  context.CancelFunc
	done  chan struct{}
	v     T
	err   error
	free  func(T) // lets go of what a read returned (its zero value too)
	taken bool
}

// startRead begins read; free lets go of what it returns.
func startRead[T any](ctx context.Context, read func(context.Context) (T, error), free func(T)) *pending[T] {
	ctx, stop := context.WithCancel(ctx)
	p := &pending[T]{stop: stop, done: make(chan struct{}), free: free}
	go func() {
		defer close(p.done)
		p.v, p.err = read(ctx)
	}()
	return p
}

// take waits for the read. What it returns is the caller's to let go of;
// nothing on an error.
func (p *pending[T]) take() (T, error) {
	<-p.done
	p.stop()
	p.taken = true
	if p.err != nil {
		p.free(p.v)
		var zero T
		return zero, p.err
	}
	return p.v, nil
}

// release stops a read not taken and lets go of what it read; after take,
// it does nothing.
func (p *pending[T]) release() {
	if p.taken {
		return
	}
	p.stop()
	<-p.done
	p.taken = true
	p.free(p.v)
}

// releaseRecord lets go of a record, if any.
func releaseRecord(rec arrow.Record) {
	if rec != nil {
		rec.Release()
	}
}
