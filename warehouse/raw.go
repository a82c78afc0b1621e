package warehouse

import (
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/tessera-cdp/tessera/canon"
)

// RawTable is the ClickHouse table holding an entity's raw rows.
func RawTable(e canon.Entity) string { return "raw_" + string(e) }

// BatchWriter lands the batches of one entity: Write each, then Close, or
// Abort on failure.
type BatchWriter interface {
	Write(rec arrow.Record) error
	Close() error
	Abort()
}

// Run is one row of the runs table.
type Run struct {
	ID                     string
	Stage                  string
	AsOf                   time.Time
	Started, Finished      time.Time
	Status                 string
	Read, Landed, Rejected uint64
	Blank                  uint64 // wholly blank records skipped (extract)
	Message, Detail        string
	Version                string // of Tessera
	Invocation             string // the command the run was part of
}

// Count is one line of a summary: a name and a number.
type Count struct {
	Name string
	N    uint64
}
