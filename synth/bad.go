package synth

import (
	"strconv"

	"github.com/tessera-cdp/tessera/canon"
)

// A defect turns a copy of a good row into a bad one. Fields maps column index
// to the value put there; freshKey replaces the key with one no good row has, so
// that nothing else depends on the bad row and exactly one rule applies.
type defect struct {
	rule     canon.Rule
	freshKey bool
	fields   map[int]string
	csvOnly  bool // not representable in a typed Parquet column
}

var defects = [5][]defect{
	eCustomers: {
		{rule: canon.MissingKey, fields: map[int]string{0: ""}},
		{rule: canon.BadTimestamp, freshKey: true, fields: map[int]string{3: "2025-02-30 10:00:00"}, csvOnly: true},
		{rule: canon.BadEncoding, freshKey: true, fields: map[int]string{5: "M\xfcnchen"}},
		{rule: canon.DuplicateKey, fields: map[int]string{5: "Duplicate City"}},
		{rule: canon.BadNumber, freshKey: true, fields: map[int]string{7: "maybe"}, csvOnly: true},
		{rule: canon.MissingField, freshKey: true, fields: map[int]string{10: ""}},
	},
	eOrders: {
		{rule: canon.UnknownCustomer, freshKey: true, fields: map[int]string{1: "C99999999-unknown"}},
		{rule: canon.BadTimestamp, freshKey: true, fields: map[int]string{2: "2025-13-45 25:61:00"}, csvOnly: true},
		{rule: canon.UnknownCurrency, freshKey: true, fields: map[int]string{4: "EURO"}},
		{rule: canon.UnknownValue, freshKey: true, fields: map[int]string{3: "shipped"}},
		{rule: canon.NegativeAmount, freshKey: true, fields: map[int]string{7: "-12.50"}},
		{rule: canon.OutOfRange, freshKey: true, fields: map[int]string{11: "7"}},
		{rule: canon.MissingField, freshKey: true, fields: map[int]string{1: ""}},
		{rule: canon.DuplicateKey, fields: map[int]string{9: "marketplace"}},
		{rule: canon.WrongFieldCount, freshKey: true, csvOnly: true},
	},
	eLines: {
		{rule: canon.UnknownOrder, fields: map[int]string{0: "O99999999-unknown"}},
		{rule: canon.NegativeQuantity, freshKey: true, fields: map[int]string{3: "-1"}},
		{rule: canon.BadNumber, freshKey: true, fields: map[int]string{4: "12,50"}, csvOnly: true},
		{rule: canon.DuplicateKey, fields: map[int]string{3: "9"}},
		{rule: canon.MissingKey, fields: map[int]string{0: ""}},
	},
	eEvents: {
		{rule: canon.MissingField, freshKey: true, fields: map[int]string{2: "", 3: ""}},
		{rule: canon.UnknownValue, freshKey: true, fields: map[int]string{5: "purchase_click"}},
		{rule: canon.BadTimestamp, freshKey: true, fields: map[int]string{1: "1/2/25 10:00"}, csvOnly: true},
		{rule: canon.UnknownCustomer, freshKey: true, fields: map[int]string{2: "C99999999-unknown"}},
		{rule: canon.DuplicateKey, fields: map[int]string{5: "page_view"}},
		{rule: canon.BadEncoding, freshKey: true, fields: map[int]string{7: "\xe9lectronique"}},
	},
	eCampaigns: {
		{rule: canon.UnknownCustomer, fields: map[int]string{1: "C99999999-unknown"}},
		{rule: canon.UnknownValue, fields: map[int]string{2: "fax"}},
		{rule: canon.BadTimestamp, fields: map[int]string{4: "tomorrow"}, csvOnly: true},
		{rule: canon.DuplicateKey},
		{rule: canon.MissingKey, fields: map[int]string{1: ""}},
	},
}

// keyColumn is the column a fresh key goes into: the id, or for order lines the
// line number (the order stays a real one).
var keyColumn = [5]int{eCustomers: 0, eOrders: 0, eLines: 1, eEvents: 0, eCampaigns: -1}

// corrupt appends bad copies of about BadRows of each entity's rows to the chunk.
func (g *gen) corrupt(ch *chunk, r rng, idx int) {
	fresh := 0
	for e, t := range ch.t {
		n := t.len()
		for i := 0; i < n; i++ {
			if !r.chance(g.cfg.BadRows) {
				continue
			}
			d := g.pickDefect(r, e)
			for k := 0; k < t.ncol; k++ {
				v, ok := d.fields[k]
				switch {
				case ok:
					t.str(v)
				case d.freshKey && k == keyColumn[e]:
					fresh++
					if e == eLines {
						t.int(int64(1000 + fresh))
					} else {
						t.str("X" + strconv.Itoa(idx) + "-" + strconv.Itoa(fresh))
					}
				default:
					t.byts(t.field(i, k))
				}
			}
			t.bad = append(t.bad, badRow{row: t.done(), rule: d.rule})
		}
	}
}

func (g *gen) pickDefect(r rng, e int) defect {
	for {
		d := defects[e][r.IntN(len(defects[e]))]
		if g.csv || !d.csvOnly {
			return d
		}
	}
}

// badProducts appends bad copies of catalogue rows.
func (g *gen) badProducts(t *rows, r rng) {
	n := t.len()
	fresh := 0
	for i := 0; i < n; i++ {
		if !r.chance(g.cfg.BadRows) {
			continue
		}
		var rule canon.Rule
		switch r.IntN(3) {
		case 0:
			rule = canon.MissingKey
			t.copyRow(i, 0, nil)
		case 1:
			rule = canon.NegativeAmount
			fresh++
			for k := 0; k < t.ncol; k++ {
				switch k {
				case 0:
					t.str("PX" + strconv.Itoa(fresh))
				case 5:
					t.str("-" + string(t.field(i, 5)))
				default:
					t.byts(t.field(i, k))
				}
			}
			t.done()
		default:
			rule = canon.DuplicateKey
			t.copyRow(i, 2, []byte("Duplicate product"))
		}
		t.bad = append(t.bad, badRow{row: t.len() - 1, rule: rule})
	}
}
