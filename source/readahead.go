package source

import (
	"io"
)

// readAhead reads records on a goroutine of its own, up to three chunks
// ahead of the caller. Finding a record's end and its fields took about a
// quarter of the CPU of the goroutine that checks and builds extract's
// rows (a profile at 1,000,000 customers); this way it runs on another
// core. A record's text is a string of its own and its fields are views of
// it, so a record read ahead stays valid: only the slices are copied.
type readAhead struct {
	chunks chan *aheadChunk // read, in order; closed after the last
	free   chan *aheadChunk // handed back
	done   chan struct{}    // closed by stop
	exited chan struct{}
	cur    *aheadChunk
	next   int
	raw    string
}

// aheadChunk is a run of records read ahead.
type aheadChunk struct {
	recs   []aheadRecord
	fields []string // the records' fields, one record after the other
}

type aheadRecord struct {
	from, to int // its fields in the chunk's
	raw      string
	err      error
}

// aheadRecords are the records of a chunk: enough that handing a chunk
// over costs little beside reading it.
const aheadRecords = 1024

// newReadAhead reads r's records from now on; call stop before closing
// what r reads.
func newReadAhead(r *recordReader) *readAhead {
	a := &readAhead{chunks: make(chan *aheadChunk, 2), free: make(chan *aheadChunk, 3), done: make(chan struct{}), exited: make(chan struct{})}
	for range 3 {
		a.free <- &aheadChunk{}
	}
	go a.run(r)
	return a
}

func (a *readAhead) run(r *recordReader) {
	defer close(a.exited)
	defer close(a.chunks)
	for {
		var c *aheadChunk
		select {
		case c = <-a.free:
		case <-a.done:
			return
		}
		c.recs, c.fields = c.recs[:0], c.fields[:0]
		last := false
		for len(c.recs) < aheadRecords && !last {
			fields, err := r.Read()
			from := len(c.fields)
			c.fields = append(c.fields, fields...)
			c.recs = append(c.recs, aheadRecord{from: from, to: len(c.fields), raw: r.Raw(), err: err})
			// The end, or a failure: nothing follows. (errPassedOver first:
			// errors.As costs more than reading a record.)
			if err != nil && err != errPassedOver {
				_, broken := asParseError(err)
				last = !broken
			}
		}
		select {
		case a.chunks <- c:
		case <-a.done:
			return
		}
		if last {
			return
		}
	}
}

// Read is recordReader's Read: the fields are valid until the next Read.
func (a *readAhead) Read() ([]string, error) {
	for a.cur == nil || a.next == len(a.cur.recs) {
		if a.cur != nil {
			a.free <- a.cur // never blocks: it has room for every chunk
			a.cur = nil
		}
		c, ok := <-a.chunks
		if !ok {
			return nil, io.EOF
		}
		a.cur, a.next = c, 0
	}
	rec := a.cur.recs[a.next]
	a.next++
	a.raw = rec.raw
	return a.cur.fields[rec.from:rec.to], rec.err
}

// Raw is the last record's text as read.
func (a *readAhead) Raw() string { return a.raw }

// peek is the fields of the k-th record Read will hand out after the one
// it gave last (records passed over, which Read hands out but CSV skips,
// not counted), when it is in the same chunk and was read whole; nil
// otherwise. It waits for nothing: a reader asks for what a later record
// needs from memory.
func (a *readAhead) peek(k int) []string {
	if a.cur == nil {
		return nil
	}
	for i := a.next; i < len(a.cur.recs); i++ {
		rec := a.cur.recs[i]
		if rec.err == errPassedOver {
			continue
		}
		if k--; k > 0 {
			continue
		}
		if rec.err != nil {
			return nil
		}
		return a.cur.fields[rec.from:rec.to]
	}
	return nil
}

// stop stops reading ahead and waits until the goroutine is gone; again,
// or on nil, it does nothing.
func (a *readAhead) stop() {
	if a == nil {
		return
	}
	select {
	case <-a.done:
	default:
		close(a.done)
	}
	<-a.exited
}
