package source

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tessera-cdp/tessera/canon"
)

// ShopifyCustomers reads the standard Customers CSV export of Shopify (Admin →
// Customers → Export), current or older column names, as customers:
// customer_id is the Orders export's key ("shopify:" and 16 hex digits of the
// SHA-256 of the lower-cased e-mail), so orders find their customer, or
// "shopify:id:" and the Customer ID when there is no e-mail; country and city
// from the default address; opt-ins from Accepts (Email) Marketing and Accepts
// SMS Marketing. The export has no times: created_at is the customer's first
// order in the Orders export when one is given, else the export file's time
// (first seen), and updated_at the export file's time, so a newer export makes
// newer versions and the same file read again makes none. Buyers of the Orders
// export missing from the Customers export follow, as the Orders export alone
// gives them.
type ShopifyCustomers struct {
	record
	f        io.Closer
	r        *recordReader
	col      map[string]int
	width    int
	t        *canon.Table
	exported string
	buyers   map[string]*shopifyCustomer
	rest     *Shopify // order-only buyers, after the export's rows
	seen     map[string]bool
}

// Column names of the current export, and of the older one where they differ.
var shopifyCustomerColumns = map[string][]string{
	"id":      {"Customer ID", "ID"},
	"email":   {"Email"},
	"city":    {"Default Address City", "City"},
	"country": {"Default Address Country Code", "Country Code"},
	"optin":   {"Accepts Email Marketing", "Accepts Marketing"},
	"sms":     {"Accepts SMS Marketing"},
}

// OpenShopifyCustomers opens a Customers export; ordersPath, when set, is the
// Orders export that gives first-order times and order-only buyers.
func OpenShopifyCustomers(path, ordersPath string, t *canon.Table) (*ShopifyCustomers, error) {
	if t.Entity != canon.Customers {
		return nil, fmt.Errorf("a Shopify customers export has no %s", t.Entity)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var rest *Shopify
	if ordersPath != "" {
		if rest, err = OpenShopify(ordersPath, t); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		if rest != nil {
			rest.Close()
		}
		return nil, err
	}
	s, err := NewShopifyCustomers(filepath.Base(path), f, st.ModTime(), rest)
	if err != nil {
		f.Close()
		if rest != nil {
			rest.Close()
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.f = f
	return s, nil
}

// NewShopifyCustomers reads a Customers export from r, exported at the given
// time; orders, when not nil, is the Orders export read as customers (it gives
// first-order times and order-only buyers).
func NewShopifyCustomers(name string, r io.Reader, exported time.Time, orders *Shopify) (*ShopifyCustomers, error) {
	t, _ := canon.Lookup(canon.Customers)
	buyers := map[string]*shopifyCustomer{}
	if orders != nil {
		if err := orders.readCustomers(); err != nil {
			return nil, err
		}
		for _, c := range orders.custs {
			buyers[c.id] = c
		}
	}
	cr := csvReader(r)
	s := &ShopifyCustomers{record: record{name: name, fields: make([][]byte, len(t.Columns))}, r: cr, t: t,
		col: map[string]int{}, buyers: buyers, rest: orders, seen: map[string]bool{}, exported: exported.UTC().Format(time.DateTime)}
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	s.width = len(header)
	names := map[string]int{}
	for i, h := range header {
		names[strings.TrimSpace(h)] = i
	}
	for key, alts := range shopifyCustomerColumns {
		s.col[key] = -1
		for _, a := range alts {
			if i, ok := names[a]; ok {
				s.col[key] = i
				break
			}
		}
	}
	if s.col["email"] < 0 || s.col["id"] < 0 && s.col["optin"] < 0 {
		return nil, errors.New("not a Shopify customers export: the header lacks Email and Customer ID or Accepts Email Marketing")
	}
	return s, nil
}

func (s *ShopifyCustomers) get(row []string, key string) string {
	if i := s.col[key]; i >= 0 && i < len(row) {
		return strings.TrimSpace(row[i])
	}
	return ""
}

func (s *ShopifyCustomers) set(name, v string) {
	if k := s.t.Index(name); k >= 0 && v != "" {
		s.fields[k] = []byte(v)
	}
}

// Next reads the next customer of the export, then the order-only buyers.
func (s *ShopifyCustomers) Next() bool {
	if s.err != nil {
		return false
	}
	s.rule, s.detail = "", ""
	clear(s.fields)
	if s.r == nil {
		return s.nextBuyer()
	}
	row, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		s.r = nil
		return s.nextBuyer()
	}
	var perr *csv.ParseError
	if err != nil && !errors.As(err, &perr) {
		s.err = fmt.Errorf("%s: %w", s.name, err)
		return false
	}
	s.pos++
	s.raw = strings.Join(row, ",")
	if err != nil || len(row) != s.width {
		s.rule, s.detail = canon.WrongFieldCount, fmt.Sprintf("%d fields, the header has %d", len(row), s.width)
		if err != nil {
			s.rule, s.detail = canon.MalformedRecord, err.Error()
		}
		return true
	}
	email := s.get(row, "email")
	id := ""
	switch {
	case email != "":
		id = shopifyCustomerID(email)
		h := sha256.Sum256([]byte(strings.ToLower(email)))
		s.set("email", email)
		s.set("email_hash", hex.EncodeToString(h[:]))
	case s.get(row, "id") != "":
		id = "shopify:id:" + strings.TrimPrefix(s.get(row, "id"), "'")
	}
	s.set("customer_id", id) // empty: missing_key
	s.seen[id] = true
	created := s.exported
	if b, ok := s.buyers[id]; ok {
		created = b.first
	}
	s.set("created_at", created)
	s.set("country", s.get(row, "country"))
	s.set("city", s.get(row, "city"))
	s.set("optin_email", yesNo(s.get(row, "optin")))
	s.set("optin_sms", yesNo(s.get(row, "sms")))
	s.set("updated_at", s.exported)
	return true
}

// yesNo maps the export's yes/no to a flag; anything else goes to the rules.
func yesNo(v string) string {
	switch strings.ToLower(v) {
	case "yes":
		return "true"
	case "no":
		return "false"
	}
	return v
}

func (s *ShopifyCustomers) nextBuyer() bool {
	if s.rest == nil {
		return false
	}
	for s.rest.Next() {
		if id := string(s.rest.Fields()[s.t.Index("customer_id")]); !s.seen[id] {
			s.pos++
			copy(s.fields, s.rest.Fields())
			s.raw = s.rest.Raw()
			return true
		}
	}
	s.err = s.rest.Err()
	return false
}

func (s *ShopifyCustomers) Close() error {
	if s.rest != nil {
		s.rest.Close()
	}
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}
