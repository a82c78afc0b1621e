package transform

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestSortFacts: whether the warehouse hands each customer's orders together
// (customers numbered as they first appear) or mixed, the facts come out in
// the order one comparison sort of them all gives.
func TestSortFacts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fact := func(cust int32) orderFacts {
		return orderFacts{cust: cust, day: rng.Int32N(5), ts: rng.Int64N(3), net: float64(rng.IntN(4)), gross: float64(rng.IntN(2)),
			discount: float64(rng.IntN(2)), items: rng.Int32N(2), rating: rng.Int32N(2)}
	}
	var together []orderFacts
	for c := range int32(300) {
		for range rng.IntN(6) + 1 {
			together = append(together, fact(c))
		}
	}
	mixed := slices.Clone(together)
	rng.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
	for _, tc := range []struct {
		name  string
		facts []orderFacts
	}{{"each customer's orders together", together}, {"mixed", mixed}, {"one", together[:1]}, {"none", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := slices.Clone(tc.facts), slices.Clone(tc.facts)
			slices.SortFunc(want, func(a, b orderFacts) int {
				return cmp.Or(cmp.Compare(a.cust, b.cust), cmp.Compare(a.day, b.day), cmp.Compare(a.ts, b.ts), cmp.Compare(a.net, b.net),
					cmp.Compare(a.gross, b.gross), cmp.Compare(a.discount, b.discount), cmp.Compare(a.items, b.items), cmp.Compare(a.rating, b.rating))
			})
			sortFacts(got)
			if !slices.Equal(got, want) {
				t.Errorf("sortFacts gave another order than one sort of every fact")
			}
		})
	}
}

// TestEventTypesUsedFrom: the features of events whose type and session
// are blanked where a reader may leave them out (a type before
// EventTypesUsedFrom, a session there or not in the cart) are the features
// of the events whole; the time is midnight 90 days before as_of's day (an
// event at it counts in the 90 days, one a second before does not).
func TestEventTypesUsedFrom(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	from := EventTypesUsedFrom(asOf)
	if want := time.Date(2024, 11, 3, 0, 0, 0, 0, time.UTC); !from.Equal(want) {
		t.Fatalf("from %v, want %v", from, want)
	}
	whole := append(slices.Clone(shopEvents),
		event{"a", from.Format(time.DateTime), "s7", "search"}, event{"a", from.Add(-time.Second).Format(time.DateTime), "s8", "search"},
		event{"b", from.Add(-time.Second).Format(time.DateTime), "s9", "add_to_cart"})
	var blanked []event
	for _, e := range whole {
		at, _ := time.Parse(time.DateTime, e.ts)
		if at.Before(from) {
			e.typ = ""
		}
		if e.typ != SessionsUsedFor {
			e.session = ""
		}
		blanked = append(blanked, e)
	}
	orders := orderRecord(mem, shopOrders)
	defer orders.Release()
	features := func(es []event) (arrow.Record, error) {
		rec := eventRecord(mem, es)
		defer rec.Release()
		return CustomerFeatures(mem, FeatureInputs{Orders: []arrow.Record{orders}, Events: Records(rec)}, asOf)
	}
	want, err := features(whole)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	got, err := features(blanked)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	sameFeatures(t, got, want)
	searches := want.Column(FeatureSchema.FieldIndices("searches_90d")[0]).(*array.Int32)
	if searches.Value(0) != 1 { // customer a: the search at from, not the one before
		t.Errorf("customer a made %d searches in the 90 days, want 1", searches.Value(0))
	}
}

// TestCampaignTypesUsed: the features of the campaign events of the types
// CampaignTypesUsed names are those of every campaign event.
func TestCampaignTypesUsed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	all := append(slices.Clone(shopCampaigns), campaign{"a", "sms", "conversion", "2025-01-27 11:00:00"}, campaign{"b", "email", "unsubscribe", "2025-01-27 12:00:00"})
	var used []campaign
	for _, c := range all {
		if slices.Contains(CampaignTypesUsed, c.typ) {
			used = append(used, c)
		}
	}
	if len(used) == len(all) {
		t.Fatal("every campaign event is of a type used: the test compares nothing")
	}
	orders := orderRecord(mem, shopOrders)
	defer orders.Release()
	features := func(cs []campaign) arrow.Record {
		rec := campaignRecord(mem, cs)
		defer rec.Release()
		f, err := CustomerFeatures(mem, FeatureInputs{Orders: []arrow.Record{orders}, Campaigns: Records(rec)}, asOf)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	want, got := features(all), features(used)
	defer want.Release()
	defer got.Release()
	sameFeatures(t, got, want)
}

// sameFeatures fails the test where got's features differ from want's (as
// text: NaN is NaN).
func sameFeatures(t *testing.T, got, want arrow.Record) {
	t.Helper()
	if got.NumRows() != want.NumRows() {
		t.Fatalf("%d rows, want %d", got.NumRows(), want.NumRows())
	}
	for c := range int(want.NumCols()) {
		for i := range int(want.NumRows()) {
			if g, w := got.Column(c).ValueStr(i), want.Column(c).ValueStr(i); g != w {
				t.Errorf("row %d, %s: %s, want %s", i, want.ColumnName(c), g, w)
			}
		}
	}
}
