package source

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/config"
)

// Export is a shop's own export as its mapping (source.files.mapping)
// describes it: what each entity is read from, and what is derived where the
// files lack it. Customers missing from the mapping come from the orders
// (created at the first, as the Shopify connector does); orders without
// amounts take them from their lines (gross: quantity × unit price,
// discount: the lines' discounts, net: gross − discount, items: the
// quantities) and without updated_at their ordered_at; lines without line_no
// are numbered within their order in the order read; a transactions file
// gives orders (one per order id, the fields of its first row) and lines
// (one per row).
type Export struct {
	Dir     string
	Mapping map[string]config.FileMapping // resolved: the defaults filled in
	Loc     *time.Location                // of times that carry no offset
	// unread are the orders read for the customers' times whose ordered_at
	// did not read, and their customers: why a customer has no time.
	unread unreadOrders
}

// unreadOrders are orders whose time did not read.
type unreadOrders struct {
	n, of     int
	example   string
	customers map[string]bool
}

// NewExport is the export that files describes; loc is the shop's time zone.
func NewExport(files config.Files, loc *time.Location) *Export {
	e := &Export{Dir: files.Dir, Mapping: map[string]config.FileMapping{}, Loc: loc}
	for entry := range files.Mapping {
		if m, ok := files.Resolved(entry); ok {
			e.Mapping[entry] = m
		}
	}
	return e
}

func (e *Export) format(entry string) Format { return NewFormat(e.Mapping[entry], e.Loc) }

// ordersEntry is the mapping entry orders come from: orders or transactions.
func (e *Export) ordersEntry() (string, bool) {
	for _, entry := range []string{"orders", config.Transactions} {
		if _, ok := e.Mapping[entry]; ok {
			return entry, true
		}
	}
	return "", false
}

// Has says whether the export gives the entity.
func (e *Export) Has(entity canon.Entity) bool {
	if _, ok := e.Mapping[string(entity)]; ok {
		return true
	}
	_, tx := e.Mapping[config.Transactions]
	_, orders := e.ordersEntry()
	switch entity {
	case canon.Orders, canon.OrderLines:
		return tx
	case canon.Customers:
		return orders
	}
	return false
}

// Open opens the entity of t.
func (e *Export) Open(t *canon.Table) (Rows, error) {
	entry := string(t.Entity)
	_, own := e.Mapping[entry]
	switch {
	case t.Entity == canon.Customers && own:
		return e.openCustomers(t)
	case t.Entity == canon.Customers:
		return e.customersFromOrders(t)
	case t.Entity == canon.Orders && own:
		return e.openOrdersOf(t, "orders", false)
	case t.Entity == canon.Orders:
		return e.ordersFromTransactions(t)
	case t.Entity == canon.OrderLines && !own:
		entry = config.Transactions
	}
	if _, ok := e.Mapping[entry]; !ok {
		return nil, fs.ErrNotExist
	}
	return OpenMapped(e.Dir, e.Mapping[entry], e.format(entry), t, []string{"line_no"})
}

// span is a customer's first and last order times (Unix seconds).
type span struct{ first, last int64 }

func (s *span) add(first, last int64) {
	if s.first == 0 || first < s.first {
		s.first = first
	}
	s.last = max(s.last, last)
}

// orderSpans reads the orders (of an orders or transactions file) for each
// customer id's first and last order times.
// needFirst: the customers' created_at comes from them, so orders none of
// whose times read are an error.
func (e *Export) orderSpans(needFirst bool) (map[string]*span, error) {
	entry, ok := e.ordersEntry()
	if !ok {
		return nil, nil
	}
	t, _ := canon.Lookup(canon.Orders)
	rows, err := e.openOrdersOf(t, entry, true)
	if err != nil {
		return nil, fmt.Errorf("the customers' times from their orders: %w", err)
	}
	defer rows.Close()
	cust, at, upd := t.Index("customer_id"), t.Index("ordered_at"), t.Index("updated_at")
	spans := map[string]*span{}
	un := unreadOrders{customers: map[string]bool{}}
	for rows.Next() {
		f := rows.Fields()
		r, _ := rows.Problem()
		if (r != "" && r != canon.BadTimestamp) || rows.Blank() || f[cust] == nil {
			continue
		}
		un.of++
		first, ok := canon.ParseTime(f[at])
		if !ok {
			if un.n++; un.n == 1 {
				un.example = string(f[at])
			}
			un.customers[string(bytes.TrimSpace(f[cust]))] = true
			continue
		}
		last := first
		if u, ok := canon.ParseTime(f[upd]); ok {
			last = max(last, u)
		}
		id := string(bytes.TrimSpace(f[cust]))
		if id == "" {
			continue
		}
		s := spans[id]
		if s == nil {
			s = &span{}
			spans[id] = s
		}
		s.add(first, last)
	}
	if len(spans) == 0 && un.n > 0 && needFirst {
		return nil, fmt.Errorf("the customers' times come from their orders, but the ordered_at of none of %d orders of %s reads (e.g. %q): give the orders' date_layouts in source.files.mapping.%s",
			un.n, rows.Name(), un.example, entry)
	}
	e.unread = un
	return spans, rows.Err()
}

// openOrdersOf opens the orders of an orders or transactions file, deriving
// what it lacks; lenient when the file is read for another entity than its
// mapping's.
func (e *Export) openOrdersOf(t *canon.Table, entry string, lenient bool) (*Mapped, error) {
	derived := []string{"updated_at"}
	_, lines := e.Mapping["order_lines"]
	_, payments := e.Mapping[config.Payments]
	if lines || payments || entry == config.Transactions {
		derived = append(derived, "gross_amount", "net_amount")
	}
	mp, err := openMapped(e.Dir, e.Mapping[entry], e.format(entry), t, derived, lenient || entry == config.Transactions)
	if err != nil {
		return nil, err
	}
	var totals map[string]*lineTotal
	var paid map[string]float64
	if (lines || entry == config.Transactions) && !mp.Has("gross_amount") && !mp.Has("net_amount") {
		if totals, err = e.lineTotals(entry); err != nil {
			mp.Close()
			return nil, err
		}
	}
	if payments && !mp.Has("gross_amount") && !mp.Has("net_amount") {
		if paid, err = e.paymentTotals(); err != nil {
			mp.Close()
			return nil, err
		}
	}
	id, at, upd := t.Index("order_id"), t.Index("ordered_at"), t.Index("updated_at")
	gross, disc, net, items, ship := t.Index("gross_amount"), t.Index("discount_amount"), t.Index("net_amount"), t.Index("items_count"), t.Index("shipping_amount")
	hasDisc, hasItems, hasShip := mp.Has("discount_amount"), mp.Has("items_count"), mp.Has("shipping_amount")
	mp.Derive(func(f, vals [][]byte) {
		if len(f[upd]) == 0 {
			f[upd] = f[at]
		}
		if totals == nil && paid == nil {
			return
		}
		order := string(bytes.TrimSpace(f[id]))
		lt := totals[order]
		if lt == nil {
			lt = &lineTotal{} // an order without lines is worth nothing
		}
		d := lt.discount
		if hasDisc {
			d, _ = strconv.ParseFloat(string(f[disc]), 64)
		} else {
			vals[disc] = strconv.AppendFloat(vals[disc][:0], round2(lt.discount), 'f', -1, 64)
			f[disc] = vals[disc]
		}
		g, n := lt.gross, max(lt.gross-d, 0)
		if p, ok := paid[order]; ok { // what the customer paid is what its payments add up to
			n, g = p, p+d
		}
		vals[gross] = strconv.AppendFloat(vals[gross][:0], round2(g), 'f', -1, 64)
		vals[net] = strconv.AppendFloat(vals[net][:0], round2(n), 'f', -1, 64)
		f[gross], f[net] = vals[gross], vals[net]
		if !hasShip && lt.shipping > 0 { // the lines' freight
			vals[ship] = strconv.AppendFloat(vals[ship][:0], round2(lt.shipping), 'f', -1, 64)
			f[ship] = vals[ship]
		}
		if !hasItems && totals != nil {
			vals[items] = strconv.AppendInt(vals[items][:0], lt.items, 10)
			f[items] = vals[items]
		}
	})
	return mp, nil
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// paymentTotals adds up the payments of each order (the payments file of
// source.files.mapping.payments). A payment that does not read fails the
// read, naming it: an order's amount is never short of a payment silently.
func (e *Export) paymentTotals() (map[string]float64, error) {
	mp, err := openMapped(e.Dir, e.Mapping[config.Payments], e.format(config.Payments), canon.Payments, nil, false)
	if err != nil {
		return nil, fmt.Errorf("the orders' amounts from their payments: %w", err)
	}
	defer mp.Close()
	id, amount := canon.Payments.Index("order_id"), canon.Payments.Index("amount")
	paid := map[string]float64{}
	for mp.Next() {
		if mp.Blank() {
			continue
		}
		f := mp.Fields()
		if r, detail := mp.Problem(); r != "" {
			return nil, fmt.Errorf("the orders' amounts from their payments: %s record %d: %s: %s", mp.Name(), mp.Position(), r, detail)
		}
		v, err := strconv.ParseFloat(string(f[amount]), 64)
		if err != nil || v < 0 || math.IsNaN(v) || len(bytes.TrimSpace(f[id])) == 0 {
			return nil, fmt.Errorf("the orders' amounts from their payments: %s record %d: order %q, amount %q: want an order id and an amount of 0 or more", mp.Name(), mp.Position(), f[id], f[amount])
		}
		paid[string(bytes.TrimSpace(f[id]))] += v
	}
	return paid, mp.Err()
}

// lineTotal is what an order's lines add up to.
type lineTotal struct {
	gross, discount, shipping float64
	items                     int64
}

// lineTotals adds up the lines of each order (of the order_lines file, or
// of the transactions file); a line whose numbers do not read adds nothing
// (it is rejected when the lines are extracted).
func (e *Export) lineTotals(ordersEntry string) (map[string]*lineTotal, error) {
	entry := "order_lines"
	if ordersEntry == config.Transactions {
		entry = config.Transactions
	}
	t, _ := canon.Lookup(canon.OrderLines)
	mp, err := openMapped(e.Dir, e.Mapping[entry], e.format(entry), t, []string{"line_no"}, true)
	if err != nil {
		return nil, fmt.Errorf("the orders' amounts from their lines: %w", err)
	}
	defer mp.Close()
	id, q, p, d, ship := t.Index("order_id"), t.Index("quantity"), t.Index("unit_price"), t.Index("discount"), t.Index("shipping")
	totals := map[string]*lineTotal{}
	for mp.Next() {
		f := mp.Fields()
		if r, _ := mp.Problem(); r != "" || mp.Blank() {
			continue
		}
		qty, err1 := strconv.ParseFloat(string(f[q]), 64)
		price, err2 := strconv.ParseFloat(string(f[p]), 64)
		if err1 != nil || err2 != nil || qty < 0 || price < 0 {
			continue
		}
		o := string(bytes.TrimSpace(f[id]))
		lt := totals[o]
		if lt == nil {
			lt = &lineTotal{}
			totals[o] = lt
		}
		lt.gross += qty * price
		lt.items += int64(qty)
		if dv, err := strconv.ParseFloat(string(f[d]), 64); err == nil && dv > 0 {
			lt.discount += dv
		}
		if sv, err := strconv.ParseFloat(string(f[ship]), 64); err == nil && sv > 0 {
			lt.shipping += sv
		}
	}
	return totals, mp.Err()
}

// derivedRows are rows made by grouping the records of a file (orders of a
// transactions file, customers of an orders file), in the order their first
// record was read.
type derivedRows struct {
	record
	rows []derivedRow
	i    int
}

type derivedRow struct {
	fields [][]byte
	raw    string
	pos    int64
	person []byte
}

func (d *derivedRows) Next() bool {
	if d.i >= len(d.rows) {
		return false
	}
	r := d.rows[d.i]
	d.i++
	d.fields, d.raw, d.pos = r.fields, r.raw, r.pos
	return true
}

func (d *derivedRows) Close() error { return nil }

// groupFirst groups the rows of mp by the column key, keeping each group's
// first row (copied) and calling each(first, row) for every row of a group.
func groupFirst(mp *Mapped, key int, what string, each func(first, row [][]byte)) (*derivedRows, error) {
	defer mp.Close()
	d := &derivedRows{record: record{name: mp.Name() + " (" + what + ")"}}
	seen := map[string]int{}
	for mp.Next() {
		f := mp.Fields()
		if r, _ := mp.Problem(); r != "" || mp.Blank() {
			continue // the file's own entity rejects or counts it
		}
		k := string(bytes.TrimSpace(f[key]))
		if k == "" {
			continue
		}
		i, ok := seen[k]
		if !ok {
			i = len(d.rows)
			seen[k] = i
			cp := make([][]byte, len(f))
			for c, v := range f {
				if v != nil {
					cp[c] = bytes.Clone(v)
				}
			}
			d.rows = append(d.rows, derivedRow{fields: cp, raw: mp.Raw(), pos: mp.Position()})
		}
		if each != nil {
			each(d.rows[i].fields, f)
		}
	}
	return d, mp.Err()
}

// ordersFromTransactions makes one order of each order id of a transactions
// file: the fields of its first row, its amounts from all its rows.
func (e *Export) ordersFromTransactions(t *canon.Table) (Rows, error) {
	mp, err := e.openOrdersOf(t, config.Transactions, true)
	if err != nil {
		return nil, err
	}
	return groupFirst(mp, t.Index("order_id"), "orders", nil)
}

// customersFromOrders makes one customer of each customer id of the orders,
// created at the first order and updated at the last.
func (e *Export) customersFromOrders(t *canon.Table) (Rows, error) {
	entry, ok := e.ordersEntry()
	if !ok {
		return nil, fs.ErrNotExist
	}
	spans, err := e.orderSpans(true)
	if err != nil {
		return nil, err
	}
	mp, err := openMapped(e.Dir, e.Mapping[entry], e.format(entry), t, []string{"created_at", "updated_at"}, true)
	if err != nil {
		return nil, err
	}
	e.fillTimes(mp, t, spans, nil)
	return groupFirst(mp, t.Index("customer_id"), "customers", nil)
}

// openCustomers opens a customers file; the times it lacks come from the
// orders, per person when the mapping has a person key.
func (e *Export) openCustomers(t *canon.Table) (Rows, error) {
	m := e.Mapping["customers"]
	spans, err := e.orderSpans(!mappedColumn(m, "created_at"))
	if err != nil {
		return nil, err
	}
	var derived []string
	if spans != nil {
		derived = []string{"created_at", "updated_at"}
	}
	var persons map[string]*span
	if m.PersonKey != "" && spans != nil {
		if persons, err = e.personSpans(t, spans); err != nil {
			return nil, err
		}
	}
	mp, err := OpenMapped(e.Dir, m, e.format("customers"), t, derived)
	if err != nil {
		return nil, err
	}
	if spans != nil {
		e.fillTimes(mp, t, spans, persons)
	}
	return mp, nil
}

// personSpans joins the order spans of each person's ids.
func (e *Export) personSpans(t *canon.Table, spans map[string]*span) (map[string]*span, error) {
	mp, err := OpenMapped(e.Dir, e.Mapping["customers"], e.format("customers"), t, []string{"created_at", "updated_at"})
	if err != nil {
		return nil, err
	}
	defer mp.Close()
	cust := t.Index("customer_id")
	persons := map[string]*span{}
	for mp.Next() {
		if r, _ := mp.Problem(); r != "" || mp.Blank() || len(mp.Person()) == 0 {
			continue
		}
		s := spans[string(bytes.TrimSpace(mp.Fields()[cust]))]
		if s == nil {
			continue
		}
		p := string(mp.Person())
		if persons[p] == nil {
			persons[p] = &span{}
		}
		persons[p].add(s.first, s.last)
	}
	return persons, mp.Err()
}

// fillTimes gives a customer without created_at or updated_at those of its
// orders (its person's, with a person key): created at the first order,
// updated at the last. A customer without orders keeps them empty, and is
// rejected for it (missing_field) unless the file gives them.
func (e *Export) fillTimes(mp *Mapped, t *canon.Table, spans, persons map[string]*span) {
	cust, created, updated := t.Index("customer_id"), t.Index("created_at"), t.Index("updated_at")
	mp.Derive(func(f, vals [][]byte) {
		if len(f[created]) > 0 && len(f[updated]) > 0 {
			return
		}
		s := spans[string(bytes.TrimSpace(f[cust]))]
		if p := mp.Person(); persons != nil && len(p) > 0 {
			s = persons[string(p)]
		}
		if s == nil {
			if len(f[updated]) == 0 { // no orders: its version is its creation
				f[updated] = f[created]
			}
			switch {
			case len(f[created]) > 0:
			case e.unread.customers[string(bytes.TrimSpace(f[cust]))]:
				entry, _ := e.ordersEntry()
				mp.Reject(canon.BadTimestamp, fmt.Sprintf("created_at could not be derived: the ordered_at of the customer's orders does not read, as for %d of %d orders "+
					"(e.g. %q) with the date layouts %q: fix source.files.mapping.%s.date_layouts", e.unread.n, e.unread.of, e.unread.example, e.Mapping[entry].DateLayouts, entry))
			default:
				mp.Reject(canon.MissingField, "created_at could not be derived: the file gives none, and the customer has no order in the export "+
					"(a customer is created at its first order)")
			}
			return
		}
		if len(f[created]) == 0 {
			vals[created] = canon.AppendTime(vals[created][:0], s.first)
			f[created] = vals[created]
		}
		if len(f[updated]) == 0 {
			vals[updated] = canon.AppendTime(vals[updated][:0], s.last)
			f[updated] = vals[updated]
		}
	})
}

// mappedColumn says whether a mapping gives a canonical column (by a column
// or a constant; a file column named like it is taken as it).
func mappedColumn(m config.FileMapping, col string) bool {
	if _, ok := m.Constants[col]; ok {
		return true
	}
	for from, to := range m.Columns {
		if strings.EqualFold(from, col) || slices.Contains(to, col) {
			return true
		}
	}
	return false
}
