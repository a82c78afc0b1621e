package canon

// Rule is the named reason a row is rejected for. The names are stable: they are
// what analysts filter rejected_rows by.
type Rule string

const (
	MissingKey       Rule = "missing_key"       // a natural-key column is empty
	MissingField     Rule = "missing_field"     // a required column is empty or absent
	BadTimestamp     Rule = "bad_timestamp"     // a time that does not parse
	BadNumber        Rule = "bad_number"        // a number or flag that does not parse
	NegativeQuantity Rule = "negative_quantity" // a quantity or count below zero
	NegativeAmount   Rule = "negative_amount"   // a price or amount below zero
	OutOfRange       Rule = "out_of_range"      // a value outside what it can be or the warehouse can store
	UnknownCurrency  Rule = "unknown_currency"  // not an ISO 4217 code
	UnknownValue     Rule = "unknown_value"     // not one of a column's allowed values
	BadEncoding      Rule = "bad_encoding"      // text that is not valid UTF-8, or holds a NUL byte
	DuplicateKey     Rule = "duplicate_key"     // the key was already read in this run
	UnknownCustomer  Rule = "unknown_customer"  // names a customer that was not landed
	UnknownOrder     Rule = "unknown_order"     // a line of an order that was not read at all
	ParentRejected   Rule = "parent_rejected"   // names an order or customer that was read but rejected
	UnknownProduct   Rule = "unknown_product"   // a line of a product missing from the catalogue
	WrongFieldCount  Rule = "wrong_field_count" // a record with more or fewer fields than the header
	MalformedRecord  Rule = "malformed_record"  // a record that does not parse at all (broken quoting)
)

// Rules lists every rule with what it means, for documentation and reports.
var Rules = []struct {
	Rule Rule
	Doc  string
}{
	{MissingKey, "a natural-key column is empty"},
	{MissingField, "a required column is empty, or neither customer_id nor anonymous_id is set on an event"},
	{BadTimestamp, "a time that does not parse (RFC 3339, 'YYYY-MM-DD HH:MM:SS[ ±hhmm]', 'YYYY-MM-DD' or Unix seconds)"},
	{BadNumber, "a number or true/false flag that does not parse"},
	{NegativeQuantity, "a quantity, count or line number below zero"},
	{NegativeAmount, "a price or amount below zero"},
	{OutOfRange, "a value outside its range: a rating outside 1–5, a time before 1970-01-01 or after 2106-02-07 06:28:15 UTC (ClickHouse's DateTime would wrap it), an amount or price above source.max_amount (default 1e12)"},
	{UnknownCurrency, "a currency that is not an ISO 4217 code"},
	{UnknownValue, "a value outside the column's allowed set (status, channel, event type)"},
	{BadEncoding, "text that is not valid UTF-8, or that holds a NUL byte"},
	{DuplicateKey, "a second row with a natural key already read in the same run"},
	{UnknownCustomer, "an order, event or campaign event naming a customer that no source has"},
	{UnknownOrder, "an order line of an order that no source has (an orphan)"},
	{ParentRejected, "a row naming an order or customer that was read but rejected itself (see that row's rule)"},
	{UnknownProduct, "an order line of a product the catalogue lacks; landed and counted unless source.unknown_product is reject"},
	{WrongFieldCount, "a record with more or fewer fields than the file's header"},
	{MalformedRecord, "a record that does not parse at all, such as a quote opened and never closed"},
}

// Rejection is one row that broke a rule. Nothing is dropped silently: each goes to
// rejected_rows with its reason and the raw record.
type Rejection struct {
	Source   string // file path, table or query the row came from
	Entity   Entity
	Position int64  // 1-based record number in the source (data rows, header excluded)
	Key      string // the row's key as read, if any
	Rule     Rule
	Detail   string // which column and value
	Raw      string // the record as read
}

// ISO 4217 active codes.
var currencies = func() map[string]bool {
	const list = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD " +
		"CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF " +
		"GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP " +
		"LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB " +
		"PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL " +
		"THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"
	m := map[string]bool{}
	for i := 0; i+3 <= len(list); i += 4 {
		m[list[i:i+3]] = true
	}
	return m
}()

// IsCurrency reports whether code is an active ISO 4217 currency code.
func IsCurrency(code string) bool { return currencies[code] }
