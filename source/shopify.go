package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tessera-cdp/tessera/canon"
)

// Shopify reads the standard Orders CSV export of Shopify (Admin → Orders →
// Export) as one canonical entity: orders, order_lines or customers. The
// export has one row per line item; the order-level columns (Email, Financial
// Status, Subtotal, Discount Amount, Created at, Cancelled at, ...) are filled
// on an order's first row only, and an order's rows are consecutive.
//
// Mapping: order_id is Name (#1001); customer_id is "shopify:" and the first
// 16 hex digits of the SHA-256 of the lower-cased e-mail (an order without
// e-mail has no customer and is rejected as missing_key); status is cancelled
// when Cancelled at is set, returned when Financial Status is refunded,
// partially_returned when partially_refunded, else completed; net_amount is
// Subtotal, discount_amount Discount Amount and gross_amount their sum;
// items_count the sum of Lineitem quantity; channel store for Source pos, else
// web; promo_code Discount Code; updated_at the latest of the order's times.
// Lines: line_no counts from 1 within the order, product_id is Lineitem sku
// (Lineitem name when there is no SKU). Customers: one per e-mail, created at
// their first order, opted in to e-mail when Accepts Marketing is yes.
type Shopify struct {
	record
	f     io.Closer
	r     *recordReader
	t     *canon.Table
	col   map[string]int
	width int

	pending   []string // a row read ahead: the first of the next order
	pendingOK bool
	queue     [][]string // the lines of the order read last, still to emit
	lineOrder string
	lineNo    int
	custs     []*shopifyCustomer
}

type shopifyCustomer struct {
	id, email, first, last string
	firstT, lastT          int64
	optin                  bool
}

// shopifyColumns are the export's columns the mapping reads.
var shopifyColumns = []string{"Name", "Email", "Financial Status", "Paid at", "Fulfilled at", "Accepts Marketing", "Currency",
	"Subtotal", "Discount Code", "Discount Amount", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
	"Lineitem sku", "Lineitem discount", "Cancelled at", "Source"}

// OpenShopify opens an Orders export as the entity of t.
func OpenShopify(path string, t *canon.Table) (*Shopify, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := NewShopify(filepath.Base(path), f, t)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.f = f
	return s, nil
}

// NewShopify reads an Orders export from r as the entity of t.
func NewShopify(name string, r io.Reader, t *canon.Table) (*Shopify, error) {
	switch t.Entity {
	case canon.Orders, canon.OrderLines, canon.Customers:
	default:
		return nil, fmt.Errorf("a Shopify orders export has no %s", t.Entity)
	}
	cr := csvReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	s := &Shopify{record: record{name: name, fields: make([][]byte, len(t.Columns))}, r: cr, t: t, col: map[string]int{}, width: len(header)}
	for i, h := range header {
		s.col[strings.TrimSpace(h)] = i
	}
	var missing []string
	for _, c := range shopifyColumns {
		if _, ok := s.col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not a Shopify orders export: the header lacks %s", strings.Join(missing, ", "))
	}
	return s, nil
}

func (s *Shopify) get(row []string, name string) string { return strings.TrimSpace(row[s.col[name]]) }

// read is the next row of the file, or nil at the end. A row of the wrong
// width is returned with ok false.
func (s *Shopify) read() (row []string, ok bool) {
	if s.pending != nil {
		row, s.pending = s.pending, nil
		return row, s.pendingOK
	}
	row, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, true
	}
	_, broken := asParseError(err)
	if err != nil && !broken {
		s.err = fmt.Errorf("%s: %w", s.name, err)
		return nil, true
	}
	row = append([]string(nil), row...)
	return row, err == nil && len(row) == s.width
}

// Next produces the next record of the entity.
func (s *Shopify) Next() bool {
	if s.err != nil {
		return false
	}
	s.rule, s.detail = "", ""
	for k := range s.fields {
		s.fields[k] = nil
	}
	if s.t.Entity == canon.Customers {
		return s.nextCustomer()
	}
	if len(s.queue) > 0 { // lines of the order read last
		s.emitLine(s.queue[0], s.queue[1:])
		return true
	}
	first, ok := s.read()
	if first == nil {
		return false
	}
	if !ok {
		s.pos++
		s.rule, s.detail = canon.WrongFieldCount, fmt.Sprintf("%d fields, the header has %d", len(first), s.width)
		s.raw = strings.Join(first, ",")
		return true
	}
	group := [][]string{first}
	for { // the order's other rows: same Name, order-level columns empty
		row, ok := s.read()
		if row == nil || !ok || s.get(row, "Name") != s.get(first, "Name") {
			s.pending, s.pendingOK = row, ok // the next order's first row, or a broken one
			break
		}
		group = append(group, row)
	}
	if s.t.Entity == canon.Orders {
		s.emitOrder(group)
		return true
	}
	s.queue = group
	s.emitLine(group[0], group[1:])
	return true
}

func shopifyCustomerID(email string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "shopify:" + hex.EncodeToString(h[:8])
}

func (s *Shopify) set(name, v string) {
	if k := s.t.Index(name); k >= 0 && v != "" {
		s.fields[k] = []byte(v)
	}
}

func (s *Shopify) emitOrder(group [][]string) {
	s.pos++
	first := group[0]
	s.raw = strings.Join(first, ",")
	email := s.get(first, "Email")
	if email != "" {
		s.set("customer_id", shopifyCustomerID(email))
	}
	s.set("order_id", s.get(first, "Name"))
	s.set("ordered_at", s.get(first, "Created at"))
	status := "completed"
	switch {
	case s.get(first, "Cancelled at") != "":
		status = "cancelled"
	case s.get(first, "Financial Status") == "refunded":
		status = "returned"
	case s.get(first, "Financial Status") == "partially_refunded":
		status = "partially_returned"
	}
	s.set("status", status)
	s.set("currency", s.get(first, "Currency"))
	net, disc := s.get(first, "Subtotal"), s.get(first, "Discount Amount")
	s.set("net_amount", net)
	s.set("discount_amount", disc)
	if _, ok := s.col["Shipping"]; ok {
		s.set("shipping_amount", s.get(first, "Shipping"))
	}
	if n, err1 := strconv.ParseFloat(net, 64); err1 == nil {
		d, err2 := strconv.ParseFloat(cmpOr(disc, "0"), 64)
		if err2 == nil {
			s.set("gross_amount", strconv.FormatFloat(n+d, 'f', -1, 64))
		}
	}
	items := 0
	for _, row := range group {
		q, err := strconv.Atoi(s.get(row, "Lineitem quantity"))
		if err != nil {
			s.set("items_count", s.get(row, "Lineitem quantity")) // the rules say what is wrong with it
			items = -1
			break
		}
		items += q
	}
	if items >= 0 {
		s.set("items_count", strconv.Itoa(items))
	}
	channel := "web"
	if strings.EqualFold(s.get(first, "Source"), "pos") {
		channel = "store"
	}
	s.set("channel", channel)
	s.set("promo_code", s.get(first, "Discount Code"))
	s.set("updated_at", latest(s.get(first, "Created at"), s.get(first, "Paid at"), s.get(first, "Fulfilled at"), s.get(first, "Cancelled at")))
}

// latest is the last of the times, compared as parsed; unparsable ones are skipped.
func latest(times ...string) string {
	best, bestT := "", int64(0)
	for _, t := range times {
		if v, ok := canon.ParseTime([]byte(t)); ok && (best == "" || v > bestT) {
			best, bestT = t, v
		}
	}
	if best == "" {
		return times[0]
	}
	return best
}

func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func (s *Shopify) emitLine(row []string, rest [][]string) {
	s.pos++ // every line is a record of its own, for rejected_rows
	s.queue = rest
	order := s.get(row, "Name")
	// line_no: the position of the row in its order
	n := 1
	if s.lineOrder == order {
		n = s.lineNo + 1
	}
	s.lineOrder, s.lineNo = order, n
	s.raw = strings.Join(row, ",")
	s.set("order_id", order)
	s.set("line_no", strconv.Itoa(n))
	product := s.get(row, "Lineitem sku")
	if product == "" {
		product = s.get(row, "Lineitem name")
	}
	s.set("product_id", product)
	s.set("quantity", s.get(row, "Lineitem quantity"))
	s.set("unit_price", s.get(row, "Lineitem price"))
	s.set("discount", s.get(row, "Lineitem discount"))
}

// nextCustomer reads the whole export once, then yields one customer per e-mail.
func (s *Shopify) nextCustomer() bool {
	if s.custs == nil && s.readCustomers() != nil {
		return false
	}
	if len(s.custs) == 0 {
		return false
	}
	c := s.custs[0]
	s.custs = s.custs[1:]
	s.pos++
	s.raw = c.email
	s.set("customer_id", c.id)
	s.set("email", c.email)
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(c.email))))
	s.set("email_hash", hex.EncodeToString(h[:]))
	s.set("created_at", c.first)
	s.set("optin_email", strconv.FormatBool(c.optin))
	s.set("updated_at", c.last)
	return true
}

// readCustomers gathers the export's buyers, one per e-mail, in order of
// their first row.
func (s *Shopify) readCustomers() error {
	seen := map[string]*shopifyCustomer{}
	s.custs = []*shopifyCustomer{}
	for {
		row, ok := s.read()
		if row == nil {
			break
		}
		email := ""
		if ok {
			email = s.get(row, "Email")
		}
		if email == "" { // a line-item row, or an order without e-mail
			continue
		}
		id := shopifyCustomerID(email)
		at := s.get(row, "Created at")
		t, parsed := canon.ParseTime([]byte(at))
		c, found := seen[id]
		switch {
		case !found:
			c = &shopifyCustomer{id: id, email: email, first: at, last: at, firstT: t, lastT: t}
			seen[id] = c
			s.custs = append(s.custs, c)
		case !parsed: // an unreadable time does not move the others
		case t < c.firstT:
			c.first, c.firstT = at, t
		case t > c.lastT:
			c.last, c.lastT = at, t
		}
		c.optin = c.optin || strings.EqualFold(s.get(row, "Accepts Marketing"), "yes")
	}
	return s.err
}

func (s *Shopify) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}
