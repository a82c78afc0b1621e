package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// identity makes one canonical customer of a person seen in several sources:
// a source's own customer id, a hashed e-mail address shared with a customer
// of another source, and a site anonymous_id seen with a customer at login all
// lead to the same customer_id, which is what lands in the raw tables. Links
// are kept in the warehouse and only added: the first customer an id is seen
// with keeps it.
type identity struct {
	bySource map[string]string // system \x00 source id -> canonical id
	byEmail  map[string]string // email hash -> canonical id
	byAnon   map[string]anonLink
	taken    map[string]struct{}
	// other: source ids made another customer's id, by id alone, for rows of
	// a system that names customers by another system's ids (a site tracker
	// that knows the shop's account ids).
	other map[string]string
	fresh []warehouse.Identity

	key     []byte
	fields  [][]byte
	pending []warehouse.Identity // links of the row being appended
	linked  int64                // rows whose customer_id was rewritten
	// merged is set when the customer row just resolved belongs to a customer
	// already known under another id: its ids are linked, the row is not landed
	// (the first source of a customer gives its attributes).
	merged string
}

func loadIdentity(ctx context.Context, sink rawSink) (*identity, error) {
	id := &identity{bySource: map[string]string{}, byEmail: map[string]string{}, byAnon: map[string]anonLink{},
		taken: map[string]struct{}{}, other: map[string]string{}}
	err := sink.Identities(ctx, func(l warehouse.Identity) { id.add(l) })
	return id, err
}

// anonLink is the customer a site visitor (anonymous_id) logged in as, and
// when: events from then on are the customer's; events before stay anonymous,
// so that a re-run attributes every event as the first run did.
type anonLink struct {
	customer string
	since    int64
}

// add records a link unless the id already has one.
func (id *identity) add(l warehouse.Identity) bool {
	var m map[string]string
	k := l.ID
	switch l.Kind {
	case kindAnonymousID:
		if _, ok := id.byAnon[k]; ok {
			return false
		}
		id.byAnon[k] = anonLink{l.CustomerID, l.At.Unix()}
		return true
	case kindCustomerID:
		m, k = id.bySource, l.Source+"\x00"+l.ID
		id.taken[l.CustomerID] = struct{}{}
		if _, ok := id.other[l.ID]; !ok && l.ID != l.CustomerID {
			id.other[l.ID] = l.CustomerID
		}
	case kindEmailHash:
		m = id.byEmail
	default:
		return false
	}
	if _, ok := m[k]; ok {
		return false
	}
	m[k] = l.CustomerID
	return true
}

func (id *identity) sourceID(system string, x []byte) (string, bool) {
	id.key = append(append(append(id.key[:0], system...), 0), x...)
	c, ok := id.bySource[string(id.key)]
	return c, ok
}

// anyID is the canonical id of a customer id from a row of system: its own
// link, else another system's, else the id itself.
func (id *identity) anyID(system string, x []byte) string {
	if c, ok := id.sourceID(system, x); ok {
		return c
	}
	if c, ok := id.other[string(x)]; ok {
		return c
	}
	return string(x)
}

// resolve returns the row with its customer_id made canonical; the links it
// makes are pending until commit (only rows that land, or customers that are
// already there, make links).
func (id *identity) resolve(t *canon.Table, system string, fields [][]byte) [][]byte {
	id.pending, id.merged = id.pending[:0], ""
	cust := t.Index("customer_id")
	if cust < 0 || cust >= len(fields) {
		return fields
	}
	id.fields = append(id.fields[:0], fields...)
	x := bytes.TrimSpace(fields[cust])
	switch t.Entity {
	case canon.Customers:
		if len(x) == 0 {
			return fields
		}
		e := id.emailHash(t, fields)
		c, ok := id.sourceID(system, x)
		if !ok && e != "" {
			c, ok = id.byEmail[e]
		}
		if ok && c != string(x) && c != system+":"+string(x) {
			id.merged = c
		}
		if !ok {
			c = string(x)
			if _, clash := id.taken[c]; clash { // another source's customer has this id
				c = system + ":" + c
			}
		}
		if _, ok := id.sourceID(system, x); !ok {
			id.pending = append(id.pending, warehouse.Identity{Kind: kindCustomerID, Source: system, ID: string(x), CustomerID: c})
		}
		if _, ok := id.byEmail[e]; e != "" && !ok {
			id.pending = append(id.pending, warehouse.Identity{Kind: kindEmailHash, ID: e, CustomerID: c})
		}
		id.set(cust, x, c)
	case canon.Events:
		anon := bytes.TrimSpace(fields[t.Index("anonymous_id")])
		ts, tsOK := canon.ParseTime(bytes.TrimSpace(fields[t.Index("ts")]))
		c := string(x)
		if len(x) > 0 {
			c = id.anyID(system, x)
			if _, ok := id.byAnon[string(anon)]; len(anon) > 0 && !ok && tsOK {
				id.pending = append(id.pending, warehouse.Identity{Kind: kindAnonymousID, ID: string(anon), CustomerID: c, At: time.Unix(ts, 0).UTC()})
			}
		} else if l, ok := id.byAnon[string(anon)]; len(anon) > 0 && ok && tsOK && ts >= l.since {
			c = l.customer
		}
		id.set(cust, x, c)
	default:
		id.set(cust, x, id.anyID(system, x))
	}
	return id.fields
}

func (id *identity) set(col int, was []byte, c string) {
	if c != string(was) {
		id.fields[col] = []byte(c)
		id.linked++
	}
}

// emailHash is the row's e-mail hash, computed from the clear address when
// the source gives only that (the canonical definition: hex SHA-256 of the
// trimmed, lower-cased address).
func (id *identity) emailHash(t *canon.Table, fields [][]byte) string {
	if h := bytes.TrimSpace(fields[t.Index("email_hash")]); len(h) > 0 {
		return string(bytes.ToLower(h))
	}
	mail := bytes.ToLower(bytes.TrimSpace(fields[t.Index("email")]))
	if len(mail) == 0 {
		return ""
	}
	sum := sha256.Sum256(mail)
	h := hex.EncodeToString(sum[:])
	id.fields[t.Index("email_hash")] = []byte(h)
	return h
}

// commit keeps the links of the row just resolved.
func (id *identity) commit() {
	for _, l := range id.pending {
		if id.add(l) {
			id.fresh = append(id.fresh, l)
		}
	}
	id.pending = id.pending[:0]
}
