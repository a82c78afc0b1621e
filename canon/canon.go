// Package canon defines Tessera's canonical data model: the Arrow schema of every
// entity, the rules a row must satisfy, and the named reason a row is rejected for.
// Every connector maps its source onto these tables; nothing downstream knows where
// data came from.
package canon

import (
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
)

// Entity names one canonical table.
type Entity string

const (
	Customers      Entity = "customers"
	Products       Entity = "products"
	Orders         Entity = "orders"
	OrderLines     Entity = "order_lines"
	Events         Entity = "events"
	CampaignEvents Entity = "campaign_events"
)

// Kind is the logical type of a column.
type Kind uint8

const (
	String    Kind = iota
	Timestamp      // UTC, second precision
	Money          // float64 in the row's currency
	Int            // int32
	Bool
)

// Arrow types of each kind. Timestamps are seconds in UTC: that is what
// ClickHouse's DateTime holds.
var (
	TimestampType = &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	arrowTypes    = [...]arrow.DataType{
		String:    arrow.BinaryTypes.String,
		Timestamp: TimestampType,
		Money:     arrow.PrimitiveTypes.Float64,
		Int:       arrow.PrimitiveTypes.Int32,
		Bool:      arrow.FixedWidthTypes.Boolean,
	}
)

// Column describes one canonical column and the checks its values get.
type Column struct {
	Name     string
	Kind     Kind
	Required bool     // an empty value rejects the row (missing_key for key columns)
	Enum     []string // allowed values, when set
	NonNeg   bool     // negative numbers reject the row
	Min, Max int32    // inclusive range for Int columns when Max > 0
	Currency bool     // must be an ISO 4217 code
	Doc      string
}

// Ref says that a column must name a row of another entity.
type Ref struct {
	Column   string
	Entity   Entity
	Rule     Rule
	Optional bool // an empty value is allowed
	// Soft: a value missing from the parent is counted, not rejected (unless
	// the builder is told to reject it), and nothing is checked when no
	// source had the parent at all.
	Soft bool
}

// Table is one canonical entity.
type Table struct {
	Entity  Entity
	Key     []string // natural key columns
	Version string   // column whose larger value is the newer row, if any
	Columns []Column
	Refs    []Ref
	Doc     string

	schema  *arrow.Schema
	index   map[string]int
	keyCols []int // the positions of Key's columns
}

// Schema returns the table's Arrow schema. Optional numbers, flags and times are
// nullable; absent text is the empty string.
func (t *Table) Schema() *arrow.Schema { return t.schema }

// Index returns the position of the named column, or -1.
func (t *Table) Index(name string) int {
	if i, ok := t.index[name]; ok {
		return i
	}
	return -1
}

// IsKey reports whether column i is part of the natural key.
func (t *Table) IsKey(i int) bool {
	for _, k := range t.Key {
		if t.Columns[i].Name == k {
			return true
		}
	}
	return false
}

// Tables lists every entity in load order: parents before the rows that name them.
var Tables = []*Table{
	{
		Entity: Customers, Key: []string{"customer_id"}, Version: "updated_at",
		Doc: "People who registered, installed the app or ordered.",
		Columns: []Column{
			{Name: "customer_id", Kind: String, Required: true, Doc: "stable customer key from the source"},
			{Name: "email", Kind: String, Doc: "clear e-mail address; kept in the raw layer only, never in outputs unless the config allows"},
			{Name: "email_hash", Kind: String, Doc: "hex SHA-256 of the lower-cased, trimmed e-mail address"},
			{Name: "created_at", Kind: Timestamp, Required: true, Doc: "registration or app install time"},
			{Name: "country", Kind: String, Doc: "ISO 3166-1 alpha-2 code"},
			{Name: "city", Kind: String},
			{Name: "acquisition_source", Kind: String, Doc: "channel that brought the customer (organic, ads, referral, ...)"},
			{Name: "optin_email", Kind: Bool},
			{Name: "optin_sms", Kind: Bool},
			{Name: "optin_push", Kind: Bool},
			{Name: "updated_at", Kind: Timestamp, Required: true, Doc: "last change in the source; the row version"},
		},
	},
	{
		Entity: Products, Key: []string{"product_id"},
		Doc: "The catalogue.",
		Columns: []Column{
			{Name: "product_id", Kind: String, Required: true},
			{Name: "sku", Kind: String},
			{Name: "name", Kind: String},
			{Name: "category", Kind: String, Doc: "category path, levels separated by '/'"},
			{Name: "brand", Kind: String},
			{Name: "list_price", Kind: Money, NonNeg: true},
		},
	},
	{
		Entity: Orders, Key: []string{"order_id"}, Version: "updated_at",
		Doc: "One row per order.",
		Columns: []Column{
			{Name: "order_id", Kind: String, Required: true},
			{Name: "customer_id", Kind: String, Required: true},
			{Name: "ordered_at", Kind: Timestamp, Required: true},
			{Name: "status", Kind: String, Required: true, Enum: []string{"completed", "cancelled", "returned", "partially_returned"}},
			{Name: "currency", Kind: String, Required: true, Currency: true, Doc: "ISO 4217 code of every amount of the order"},
			{Name: "gross_amount", Kind: Money, Required: true, NonNeg: true, Doc: "before discounts"},
			{Name: "discount_amount", Kind: Money, NonNeg: true},
			{Name: "net_amount", Kind: Money, Required: true, NonNeg: true, Doc: "what the customer paid: gross − discount"},
			{Name: "items_count", Kind: Int, NonNeg: true, Doc: "units in the order"},
			{Name: "channel", Kind: String, Required: true, Enum: []string{"web", "app", "store", "marketplace"}},
			{Name: "promo_code", Kind: String},
			{Name: "rating", Kind: Int, Min: 1, Max: 5, Doc: "satisfaction rating 1–5; empty when not rated"},
			{Name: "updated_at", Kind: Timestamp, Required: true, Doc: "last change in the source; the row version"},
			{Name: "shipping_amount", Kind: Money, NonNeg: true, Doc: "what the customer was charged for delivery, apart from gross_amount"},
		},
		Refs: []Ref{{Column: "customer_id", Entity: Customers, Rule: UnknownCustomer}},
	},
	{
		Entity: OrderLines, Key: []string{"order_id", "line_no"},
		Doc: "One row per order line.",
		Columns: []Column{
			{Name: "order_id", Kind: String, Required: true},
			{Name: "line_no", Kind: Int, Required: true, NonNeg: true},
			{Name: "product_id", Kind: String, Required: true},
			{Name: "quantity", Kind: Int, Required: true, NonNeg: true},
			{Name: "unit_price", Kind: Money, Required: true, NonNeg: true, Doc: "price of one unit before the line discount"},
			{Name: "discount", Kind: Money, NonNeg: true, Doc: "discount on the whole line"},
			{Name: "returned_quantity", Kind: Int, NonNeg: true},
			{Name: "shipping", Kind: Money, NonNeg: true, Doc: "delivery charged for the line (a marketplace's freight)"},
		},
		Refs: []Ref{{Column: "order_id", Entity: Orders, Rule: UnknownOrder},
			{Column: "product_id", Entity: Products, Rule: UnknownProduct, Soft: true}},
	},
	{
		Entity: Events, Key: []string{"event_id"},
		Doc: "Site and app behaviour.",
		Columns: []Column{
			{Name: "event_id", Kind: String, Required: true},
			{Name: "ts", Kind: Timestamp, Required: true},
			{Name: "customer_id", Kind: String, Doc: "empty for anonymous visitors"},
			{Name: "anonymous_id", Kind: String, Doc: "device or cookie id; customer_id or anonymous_id is required"},
			{Name: "session_id", Kind: String},
			{Name: "type", Kind: String, Required: true, Enum: []string{"page_view", "category_view", "product_view", "search", "add_to_cart", "remove_from_cart", "favorite", "checkout_start"}},
			{Name: "product_id", Kind: String},
			{Name: "category", Kind: String},
		},
		Refs: []Ref{{Column: "customer_id", Entity: Customers, Rule: UnknownCustomer, Optional: true}},
	},
	{
		Entity: CampaignEvents, Key: []string{"campaign_id", "customer_id", "type", "ts"},
		Doc: "Marketing messages and what customers did with them.",
		Columns: []Column{
			{Name: "campaign_id", Kind: String, Required: true},
			{Name: "customer_id", Kind: String, Required: true},
			{Name: "channel", Kind: String, Required: true, Enum: []string{"email", "sms", "push"}},
			{Name: "type", Kind: String, Required: true, Enum: []string{"sent", "delivered", "open", "click", "unsubscribe", "conversion"}},
			{Name: "ts", Kind: Timestamp, Required: true},
		},
		Refs: []Ref{{Column: "customer_id", Entity: Customers, Rule: UnknownCustomer}},
	},
}

// Lookup returns the table of an entity.
func Lookup(e Entity) (*Table, error) {
	for _, t := range Tables {
		if t.Entity == e {
			return t, nil
		}
	}
	return nil, fmt.Errorf("unknown entity %q", e)
}

// Payments are what a shop's export may give instead of its orders'
// amounts: the payments of each order, which add up to what the customer
// paid (source.files.mapping.payments). Read to derive the orders' amounts,
// not landed.
var Payments = &Table{Entity: "payments", Key: []string{"order_id"}, Doc: "payments of an order; their sum is what the customer paid",
	Columns: []Column{
		{Name: "order_id", Kind: String, Required: true},
		{Name: "amount", Kind: Money, Required: true, NonNeg: true, Doc: "what one payment paid"},
	}}

func init() {
	for _, t := range append(slices.Clone(Tables), Payments) {
		fields := make([]arrow.Field, len(t.Columns))
		t.index = make(map[string]int, len(t.Columns))
		for i, c := range t.Columns {
			// Absent text is the empty string, so only other kinds are nullable.
			fields[i] = arrow.Field{Name: c.Name, Type: arrowTypes[c.Kind], Nullable: !c.Required && c.Kind != String}
			t.index[c.Name] = i
		}
		t.schema = arrow.NewSchema(fields, nil)
		t.keyCols = make([]int, len(t.Key))
		for n, k := range t.Key {
			t.keyCols[n] = t.index[k]
		}
	}
}
