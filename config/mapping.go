package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tessera-cdp/tessera/canon"
)

// FileMapping maps one file of a shop's own export onto a canonical entity
// (source.files.mapping.<entity>), or onto orders and their lines at once
// (source.files.mapping.transactions: one row per order line, the order's
// fields repeated). The entry "defaults" gives the format of every file that
// does not say otherwise.
type FileMapping struct {
	// File is the file's name, or a glob, under source.files.dir (files of a
	// glob are read one after another, each with its header).
	File       string `yaml:"file"`
	FileFormat `yaml:",inline"`
	// Columns maps a column of the file to the canonical column(s) it gives
	// (a list gives several: Invoice: [order_id, status]). A column named
	// like a canonical column maps to it unless mapped here.
	Columns map[string]Names `yaml:"columns"`
	// IgnoreUnmapped skips the file's other columns; without it an unmapped
	// column is an error, so that a renamed export is noticed.
	IgnoreUnmapped bool `yaml:"ignore_unmapped"`
	// Constants give canonical columns the file lacks (currency, channel).
	Constants map[string]string `yaml:"constants"`
	// Values map a canonical column's values: canonical value -> the file's
	// values, compared without case; * matches any run of characters
	// ("C*"). The first match in the order of the canonical values wins...
	// sorted by name, with a lone "*" last. Unmatched values pass as read.
	Values map[string]map[string][]string `yaml:"values"`
	// Absolute reads these numeric columns as absolute values (exports that
	// write returned quantities as negative numbers).
	Absolute []string `yaml:"absolute"`
	// PersonKey (customers): the file's column that identifies a person,
	// when the customer id is per order (a marketplace's unique customer id).
	// The person key becomes the customer id; the per-order ids are linked
	// to it in identities, and orders naming them are the person's.
	PersonKey string `yaml:"person_key"`
}

// FileFormat is how a file is written.
type FileFormat struct {
	// Delimiter: "," (default), ";", "\t" or "tab", "|".
	Delimiter string `yaml:"delimiter"`
	// Quote: `"` (default) or "'"; "none" reads quotes as text.
	Quote string `yaml:"quote"`
	// Encoding: utf-8 (default; a byte order mark is skipped), windows-1251,
	// windows-1252.
	Encoding string `yaml:"encoding"`
	// DecimalComma reads numbers as "1 234,56" or "1.234,56".
	DecimalComma *bool `yaml:"decimal_comma"`
	// DateLayouts are Go layouts tried in order for every time column
	// ("01/02/2006 15:04", "02.01.2006 15:04:05", "20060102"); a time that
	// carries no offset is on the wall clock of the config's time_zone,
	// which also places the preferred hour and weekday. ISO times
	// ("2006-01-02 15:04:05", with or without an offset) and Unix seconds are
	// always read.
	DateLayouts []string `yaml:"date_layouts"`
}

// Names is one name or a list of them.
type Names []string

// UnmarshalYAML reads a name or a list of names.
func (n *Names) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		*n = Names{v.Value}
		return nil
	}
	var list []string
	if err := v.Decode(&list); err != nil {
		return err
	}
	*n = list
	return nil
}

// RejectedShares are the largest share of an entity's rows (blank records
// aside) that extract may reject before it fails.
type RejectedShares struct {
	// The share of each entity's rows (0.05: 5%): Customers, Products,
	// Orders, OrderLines, Events, CampaignEvents.
	Customers      float64 `yaml:"customers"`
	Products       float64 `yaml:"products"`
	Orders         float64 `yaml:"orders"`
	OrderLines     float64 `yaml:"order_lines"`
	Events         float64 `yaml:"events"`
	CampaignEvents float64 `yaml:"campaign_events"`
}

// Of is the share of the named entity.
func (r RejectedShares) Of(entity string) float64 {
	switch entity {
	case "customers":
		return r.Customers
	case "products":
		return r.Products
	case "orders":
		return r.Orders
	case "order_lines":
		return r.OrderLines
	case "events":
		return r.Events
	}
	return r.CampaignEvents
}

func defaultShares(s float64) RejectedShares { return RejectedShares{s, s, s, s, s, s} }

// Transactions is the mapping entry of a file with orders and their lines.
const Transactions = "transactions"

// Payments is the mapping entry of a file of the orders' payments (order_id,
// amount): the orders' amounts are then the sums of their payments.
const Payments = "payments"

// Resolved is the mapping of one entry with the defaults' format filled in.
func (f Files) Resolved(entry string) (FileMapping, bool) {
	m, ok := f.Mapping[entry]
	if !ok || entry == "defaults" {
		return m, false
	}
	d := f.Mapping["defaults"]
	if m.Delimiter == "" {
		m.Delimiter = d.Delimiter
	}
	if m.Quote == "" {
		m.Quote = d.Quote
	}
	if m.Encoding == "" {
		m.Encoding = d.Encoding
	}
	if m.DecimalComma == nil {
		m.DecimalComma = d.DecimalComma
	}
	if m.DateLayouts == nil {
		m.DateLayouts = d.DateLayouts
	}
	return m, true
}

// canonicalColumns are the columns of an entity.
func canonicalColumns(entity string) []string {
	t, err := canon.Lookup(canon.Entity(entity))
	if err != nil {
		return nil
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	return cols
}

// columnsOf lists the canonical columns a mapping entry may give.
func columnsOf(entry string) []string {
	if entry == Payments {
		return []string{"order_id", "amount"}
	}
	if entry == Transactions {
		var cols []string
		for _, e := range []string{"orders", "order_lines", "customers"} {
			for _, c := range canonicalColumns(e) {
				if !slices.Contains(cols, c) {
					cols = append(cols, c)
				}
			}
		}
		return cols
	}
	return canonicalColumns(entry)
}

// validateMapping says what is wrong with source.files.mapping.
func (c Config) validateMapping() []error {
	f := c.Source.Files
	if len(f.Mapping) == 0 {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("source.files.mapping."+format, a...))
	}
	if f.Dir == "" {
		errs = append(errs, errors.New("source.files.mapping is set but source.files.dir is not: the files are read from it"))
	}
	if _, ok := f.Mapping[Transactions]; ok {
		for _, e := range []string{"orders", "order_lines"} {
			if _, also := f.Mapping[e]; also {
				bad("%s: transactions already gives %s; map one or the other", e, e)
			}
		}
	}
	entries := make([]string, 0, len(f.Mapping))
	for e := range f.Mapping {
		entries = append(entries, e)
	}
	sort.Strings(entries)
	for _, e := range entries {
		m := f.Mapping[e]
		if e != "defaults" && e != Transactions && e != Payments && !entities[e] {
			bad("%s is neither an entity (customers, products, orders, order_lines, events, campaign_events), transactions, payments nor defaults", e)
			continue
		}
		if e == "defaults" {
			if m.File != "" || len(m.Columns)+len(m.Constants)+len(m.Values)+len(m.Absolute) > 0 || m.PersonKey != "" || m.IgnoreUnmapped {
				bad("defaults gives only the format (delimiter, quote, encoding, decimal_comma, date_layouts)")
			}
		} else if m.File == "" {
			bad("%s.file is empty: name the file (or a glob) under source.files.dir", e)
		} else if _, err := filepath.Match(m.File, ""); err != nil || filepath.IsAbs(m.File) || strings.HasPrefix(filepath.Clean(m.File), "..") {
			bad("%s.file %q must be a name or glob under source.files.dir", e, m.File)
		}
		r, _ := f.Resolved(e)
		if e == "defaults" {
			r = m
		}
		switch r.Delimiter {
		case "", ",", ";", "\t", "tab", "|":
		default:
			bad("%s.delimiter must be one of , ; tab |, got %q", e, r.Delimiter)
		}
		switch r.Quote {
		case "", `"`, "'", "none":
		default:
			bad(`%s.quote must be ", ' or none, got %q`, e, r.Quote)
		}
		switch strings.ToLower(r.Encoding) {
		case "", "utf-8", "utf8", "windows-1251", "cp1251", "windows-1252", "cp1252":
		default:
			bad("%s.encoding must be utf-8, windows-1251 or windows-1252, got %q", e, r.Encoding)
		}
		for _, l := range r.DateLayouts {
			if !strings.Contains(l, "2006") && !strings.Contains(l, "06") {
				bad("%s.date_layouts: %q has no year (Go layouts write the reference time Mon Jan 2 15:04:05 2006: 02.01.2006 15:04)", e, l)
			}
		}
		if e == "defaults" {
			continue
		}
		cols := columnsOf(e)
		known := func(where, col string) {
			if !slices.Contains(cols, col) {
				bad("%s.%s: %q is not a canonical column of %s (one of: %s)", e, where, col, e, strings.Join(cols, ", "))
			}
		}
		for src, to := range m.Columns {
			if len(to) == 0 {
				bad("%s.columns.%s names no canonical column", e, src)
			}
			for _, c := range to {
				known("columns", c)
			}
		}
		for col := range m.Constants {
			known("constants", col)
		}
		for col := range m.Values {
			known("values", col)
		}
		for _, col := range m.Absolute {
			known("absolute", col)
		}
		if m.PersonKey != "" && e != "customers" {
			bad("%s.person_key: only customers have a person key", e)
		}
	}
	return errs
}
