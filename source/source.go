// Package source holds the connectors that read shop data where it lives and
// hand it on as raw records of a canonical entity, each as the text of every
// canonical column. The canon package validates them and builds Arrow batches,
// so every source gets the same rules and the same reasons for rejecting a row.
// Open routes each entity to the sources the config names for it.
package source

import "github.com/tessera-cdp/tessera/canon"

// Rows is a stream of records of one entity.
type Rows interface {
	// Next advances to the next record; false at the end or on a fatal error.
	Next() bool
	// Fields is the current record's text per canonical column (nil when the
	// source lacks the column). Valid until the next call to Next.
	Fields() [][]byte
	// Problem is set when the record itself cannot be read as a row (wrong
	// field count, broken quoting): the record is rejected with this rule.
	Problem() (canon.Rule, string)
	// Position is the 1-based number of the current record.
	Position() int64
	// Raw is the current record as read, for rejected_rows.
	Raw() string
	// Name names the source in rejected_rows and logs (e.g. "orders.csv").
	Name() string
	// Err is the fatal error that stopped the stream, if any.
	Err() error
	Close() error
}

// record is the current record of a reader that builds it field by field,
// with the accessors Rows asks for.
type record struct {
	name   string
	fields [][]byte // per canonical column
	raw    string
	pos    int64
	rule   canon.Rule
	detail string
	err    error
}

func (r *record) Fields() [][]byte              { return r.fields }
func (r *record) Problem() (canon.Rule, string) { return r.rule, r.detail }
func (r *record) Position() int64               { return r.pos }
func (r *record) Raw() string                   { return r.raw }
func (r *record) Name() string                  { return r.name }
func (r *record) Err() error                    { return r.err }
