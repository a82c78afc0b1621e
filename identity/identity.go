// Package identity makes one customer of a person seen in several sources:
// source ids, hashed e-mail addresses and site visitors' anonymous ids lead to
// one canonical customer_id, which is what lands in the raw tables. Links are
// kept in the warehouse's identities table and only added.
package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// Identity kinds of the identities table.
const (
	kindCustomerID  = "customer_id"
	kindEmailHash   = "email_hash"
	kindAnonymousID = "anonymous_id"
)

// Resolver makes one canonical customer of a person seen in several sources:
// a source's own customer id, a hashed e-mail address shared with a customer
// of another source, and a site anonymous_id seen with a customer at login all
// lead to the same customer_id, which is what lands in the raw tables. Links
// are kept in the warehouse and only added: the first customer an id is seen
// with keeps it. In memory the ids are 64-bit hashes (a collision at 10^7 ids
// has odds near 10^-5) in tables outside the Go heap (three entries a
// customer, 16 bytes each in tables between three eighths and three quarters
// full), and each canonical id is held once, in one byte slice: about 110
// bytes a customer (a million: 96 MB of tables, 12 MB of ids).
type Resolver struct {
	seed maphash.Seed
	// canonical ids: the i-th is names[ends[i-1]:ends[i]]
	names    []byte
	ends     []uint32
	index    *canon.Index // canonical id -> its number
	bySource *canon.Index // system \x00 source id -> canonical id's number
	byEmail  *canon.Index // email hash -> canonical id's number
	byAnon   map[uint64]anonLink
	// other: source ids made another customer's id, by id alone, for rows of
	// a system that names customers by another system's ids (a site tracker
	// that knows the shop's account ids).
	other map[uint64]int32
	fresh []warehouse.Identity

	key     []byte
	fields  [][]byte
	copied  bool     // fields is own: the row's copy, rewritten
	own     [][]byte // the copy's memory, kept between rows
	cols    tableCols
	pending []warehouse.Identity // links of the row being appended
	linked  int64                // rows whose customer_id was rewritten
	// merged is set when the customer row just resolved belongs to a customer
	// already known under another id: its ids are linked, the row is not landed
	// (the first source of a customer gives its attributes).
	merged string
	// persons landed in this run, by person key: a person's later rows are
	// other ids of the customer its first row landed as.
	persons   map[uint64]bool
	personRow uint64 // the person of the row just resolved, or 0
}

// anonLink is the customer a site visitor (anonymous_id) logged in as, and
// when: events from then on are the customer's; events before stay anonymous,
// so that a re-run attributes every event as the first run did.
type anonLink struct {
	customer int32
	since    int64
}

// Store holds the links made by earlier runs.
type Store interface {
	Identities(ctx context.Context, fn func(warehouse.Identity)) error
}

// Load reads every link kept so far.
func Load(ctx context.Context, st Store) (*Resolver, error) {
	id := &Resolver{seed: maphash.MakeSeed(), index: canon.NewIndex(), bySource: canon.NewIndex(),
		byEmail: canon.NewIndex(), byAnon: map[uint64]anonLink{}, other: map[uint64]int32{}, persons: map[uint64]bool{}}
	err := st.Identities(ctx, func(l warehouse.Identity) { id.add(l) })
	return id, err
}

// Free hands back the tables' memory.
func (id *Resolver) Free() {
	id.index.Free()
	id.bySource.Free()
	id.byEmail.Free()
}

// name is the i-th canonical id.
func (id *Resolver) name(i int32) string {
	from := uint32(0)
	if i > 0 {
		from = id.ends[i-1]
	}
	return string(id.names[from:id.ends[i]])
}

func (id *Resolver) hash(s string) uint64 { return maphash.String(id.seed, s) }

func (id *Resolver) sourceKey(system string, x []byte) uint64 {
	id.key = append(append(append(id.key[:0], system...), 0), x...)
	return maphash.Bytes(id.seed, id.key)
}

// customerLinked marks, in index, a canonical id that a customer id or
// e-mail link leads to: a customer's own. A visitor's link alone does not
// make one (see taken).
const customerLinked = 1 << 40

// intern returns the number of a canonical id; customer says that a
// customer id or e-mail link leads to it.
func (id *Resolver) intern(c string, customer bool) int32 {
	h := id.hash(c)
	if i, ok := id.index.Get(h); ok {
		if customer && i&customerLinked == 0 {
			id.index.Put(h, i|customerLinked)
		}
		return int32(i &^ customerLinked)
	}
	id.names = append(id.names, c...)
	id.ends = append(id.ends, uint32(len(id.names)))
	n := int32(len(id.ends) - 1)
	v := int64(n)
	if customer {
		v |= customerLinked
	}
	id.index.Put(h, v)
	return n
}

// add records a link unless the id already has one.
func (id *Resolver) add(l warehouse.Identity) bool {
	var m *canon.Index
	var k uint64
	switch l.Kind {
	case kindAnonymousID:
		k = id.hash(l.ID)
		if _, ok := id.byAnon[k]; ok {
			return false
		}
		id.byAnon[k] = anonLink{id.intern(l.CustomerID, false), l.At.Unix()}
		return true
	case kindCustomerID:
		m, k = id.bySource, id.sourceKey(l.Source, []byte(l.ID))
		if h := id.hash(l.ID); l.ID != l.CustomerID {
			if _, ok := id.other[h]; !ok {
				id.other[h] = id.intern(l.CustomerID, true)
			}
		}
	case kindEmailHash:
		m, k = id.byEmail, id.hash(l.ID)
	default:
		return false
	}
	if _, ok := m.Get(k); ok {
		return false
	}
	m.Put(k, int64(id.intern(l.CustomerID, true)))
	return true
}

func (id *Resolver) sourceID(system string, x []byte) (string, bool) {
	i, ok := id.bySource.Get(id.sourceKey(system, x))
	if !ok {
		return "", false
	}
	return id.name(int32(i)), true
}

// anyID is the canonical id of a customer id from a row of system: its own
// link, else another system's; ok is false when the id is its own.
func (id *Resolver) anyID(system string, x []byte) (string, bool) {
	if len(id.other) == 0 { // no id anywhere stands for another: nothing to look up
		return "", false
	}
	if c, ok := id.sourceID(system, x); ok {
		return c, true
	}
	if i, ok := id.other[maphash.Bytes(id.seed, x)]; ok {
		return id.name(i), true
	}
	return "", false
}

// SelfNamed says that every customer id stands for itself (CustomerOf is x):
// no link makes one id another's.
func (id *Resolver) SelfNamed() bool { return len(id.other) == 0 }

// CustomerOf is the canonical customer a row of system names by x (trimmed),
// as Resolve makes the customer_id of an order or a campaign event: x itself
// when it stands for no other id. The bytes are the resolver's: read them
// before the next call.
func (id *Resolver) CustomerOf(system string, x []byte) []byte {
	if len(id.other) == 0 {
		return x
	}
	i, ok := id.bySource.Get(id.sourceKey(system, x))
	if !ok {
		var o int32
		if o, ok = id.other[maphash.Bytes(id.seed, x)]; !ok {
			return x
		}
		i = int64(o)
	}
	from := uint32(0)
	if i > 0 {
		from = id.ends[i-1]
	}
	return id.names[from:id.ends[i]]
}

// taken says whether a customer of another source has c as its id. A
// visitor linked to c alone does not say so: in a sharded extract, a pod may
// load the visitor links another pod's events made before pod 0 has saved
// the customers' own links.
func (id *Resolver) taken(c string) bool {
	i, ok := id.index.Get(id.hash(c))
	return ok && i&customerLinked != 0
}

// Resolve returns the row with its customer_id made canonical; the links it
// makes are pending until Commit (only rows that land, or customers that are
// already there, make links). Merged then says whether the row is another id
// of a customer already there. A customer row with a person key (a
// marketplace's unique customer id beside the per-order one) is the customer
// of its person, whose id is the person key: the person's first row in a run
// lands, the others are its other ids, linked.
func (id *Resolver) Resolve(t *canon.Table, system string, fields [][]byte, person []byte) [][]byte {
	id.pending, id.merged, id.personRow = id.pending[:0], "", 0
	if id.cols.t != t {
		id.cols = colsOf(t)
	}
	cust := id.cols.customer
	if cust < 0 || cust >= len(fields) {
		return fields
	}
	// fields is copied only when a row's customer_id is rewritten (set).
	id.fields, id.copied = fields, false
	x := canon.TrimSpace(fields[cust])
	switch t.Entity {
	case canon.Customers:
		if len(x) == 0 {
			return fields
		}
		e := id.emailHash(t, fields)
		person = bytes.TrimSpace(person)
		if len(person) > 0 {
			id.resolvePerson(system, x, person, e, cust)
			break
		}
		c, ok := id.sourceID(system, x)
		known := ok
		if !ok && e != "" {
			if i, found := id.byEmail.Get(id.hash(e)); found {
				c, ok = id.name(int32(i)), true
			}
		}
		if ok && c != string(x) && c != system+":"+string(x) {
			id.merged = c
		}
		if !ok {
			c = string(x)
			if id.taken(c) { // another source's customer has this id
				c = system + ":" + c
			}
		}
		if !known {
			id.pending = append(id.pending, warehouse.Identity{Kind: kindCustomerID, Source: system, ID: string(x), CustomerID: c})
		}
		if _, ok := id.byEmail.Get(id.hash(e)); e != "" && !ok {
			id.pending = append(id.pending, warehouse.Identity{Kind: kindEmailHash, ID: e, CustomerID: c})
		}
		id.set(cust, x, c)
	case canon.Events:
		anon := canon.TrimSpace(fields[id.cols.anonymous])
		if len(x) > 0 {
			c, ok := id.anyID(system, x)
			if ok {
				id.set(cust, x, c)
			}
			if len(anon) == 0 {
				break
			}
			if !ok {
				c = string(x)
			}
			if _, linked := id.byAnon[maphash.Bytes(id.seed, anon)]; !linked {
				if ts, tsOK := canon.ParseTime(bytes.TrimSpace(fields[id.cols.ts])); tsOK {
					id.pending = append(id.pending, warehouse.Identity{Kind: kindAnonymousID, ID: string(anon), CustomerID: c, At: time.Unix(ts, 0).UTC()})
				}
			}
		} else if len(anon) > 0 {
			if l, ok := id.byAnon[maphash.Bytes(id.seed, anon)]; ok {
				if ts, tsOK := canon.ParseTime(bytes.TrimSpace(fields[id.cols.ts])); tsOK && ts >= l.since {
					id.set(cust, x, id.name(l.customer))
				}
			}
		}
	default:
		if c, ok := id.anyID(system, x); ok {
			id.set(cust, x, c)
		}
	}
	return id.fields
}

// resolvePerson makes a customer row with a person key the customer of its
// person; the per-order id x is linked to it.
func (id *Resolver) resolvePerson(system string, x, person []byte, e string, cust int) {
	psys := system + ":person"
	c, ok := id.sourceID(psys, person)
	if !ok {
		c = string(person)
		if id.taken(c) { // another source's customer has this id
			c = system + ":" + c
		}
		id.pending = append(id.pending, warehouse.Identity{Kind: kindCustomerID, Source: psys, ID: string(person), CustomerID: c})
	}
	h := id.hash(c)
	if id.persons[h] {
		id.merged = c
	}
	if _, known := id.sourceID(system, x); !known {
		id.pending = append(id.pending, warehouse.Identity{Kind: kindCustomerID, Source: system, ID: string(x), CustomerID: c})
	}
	if _, ok := id.byEmail.Get(id.hash(e)); e != "" && !ok {
		id.pending = append(id.pending, warehouse.Identity{Kind: kindEmailHash, ID: e, CustomerID: c})
	}
	id.personRow = h
	id.set(cust, x, c)
}

func (id *Resolver) set(col int, was []byte, c string) {
	if c != string(was) {
		id.rewrite(col, []byte(c))
		id.linked++
	}
}

// rewrite sets column col of the row resolved to v, in a copy of the row:
// the source's row is not ours to change.
func (id *Resolver) rewrite(col int, v []byte) {
	if !id.copied {
		id.fields, id.copied = append(id.own[:0], id.fields...), true
		id.own = id.fields
	}
	id.fields[col] = v
}

// tableCols are the positions of the columns Resolve reads in a table (-1:
// none), looked up once a table, not once a row.
type tableCols struct {
	t                       *canon.Table
	customer, anonymous, ts int
}

func colsOf(t *canon.Table) tableCols {
	return tableCols{t, t.Index("customer_id"), t.Index("anonymous_id"), t.Index("ts")}
}

// emailHash is the row's e-mail hash, computed from the clear address when
// the source gives only that (the canonical definition: hex SHA-256 of the
// trimmed, lower-cased address).
func (id *Resolver) emailHash(t *canon.Table, fields [][]byte) string {
	if h := bytes.TrimSpace(fields[t.Index("email_hash")]); len(h) > 0 {
		return string(bytes.ToLower(h))
	}
	mail := bytes.ToLower(bytes.TrimSpace(fields[t.Index("email")]))
	if len(mail) == 0 {
		return ""
	}
	sum := sha256.Sum256(mail)
	h := hex.EncodeToString(sum[:])
	id.rewrite(t.Index("email_hash"), []byte(h))
	return h
}

// Commit keeps the links of the row just resolved.
func (id *Resolver) Commit() {
	if id.personRow != 0 {
		id.persons[id.personRow] = true
	}
	for _, l := range id.pending {
		if id.add(l) {
			id.fresh = append(id.fresh, l)
		}
	}
	id.pending = id.pending[:0]
}

// Merged is the customer that the row just resolved is another id of, or "".
func (id *Resolver) Merged() string { return id.merged }

// Fresh is how many new links wait to be saved.
func (id *Resolver) Fresh() int { return len(id.fresh) }

// TakeFresh hands over the new links made so far; more says that more will
// follow, so the next chunk is given the same room at once (not regrown).
func (id *Resolver) TakeFresh(more bool) []warehouse.Identity {
	chunk := id.fresh
	id.fresh = nil
	if more {
		id.fresh = make([]warehouse.Identity, 0, cap(chunk))
	}
	return chunk
}

// TakeLinked counts the rows whose customer_id was rewritten since the last call.
func (id *Resolver) TakeLinked() int64 {
	n := id.linked
	id.linked = 0
	return n
}
