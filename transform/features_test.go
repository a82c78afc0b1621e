package transform

import (
	"context"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/tessera-cdp/tessera/synth"
)

var canonOrders = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "ordered_at", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
	{Name: "status", Type: arrow.BinaryTypes.String},
	{Name: "gross_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "discount_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "items_count", Type: arrow.PrimitiveTypes.Int32},
	{Name: "rating", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
}, nil)

type order struct {
	id, at, status   string
	gross, disc, net float64
	items, rating    int32
}

func orderRecord(mem memory.Allocator, os []order) arrow.Record {
	b := array.NewRecordBuilder(mem, canonOrders)
	defer b.Release()
	for _, o := range os {
		t, _ := time.Parse(time.DateTime, o.at)
		b.Field(0).(*array.StringBuilder).Append(o.id)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(t.Unix()))
		b.Field(2).(*array.StringBuilder).Append(o.status)
		b.Field(3).(*array.Float64Builder).Append(o.gross)
		b.Field(4).(*array.Float64Builder).Append(o.disc)
		b.Field(5).(*array.Float64Builder).Append(o.net)
		b.Field(6).(*array.Int32Builder).Append(o.items)
		if o.rating == 0 {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.Int32Builder).Append(o.rating)
		}
	}
	return b.NewRecord()
}

var shopOrders = []order{
	{"a", "2025-01-01 10:00:00", "completed", 100, 20, 80, 2, 5},
	{"a", "2025-01-01 18:00:00", "cancelled", 50, 0, 50, 1, 0},
	{"a", "2025-01-11 09:00:00", "returned", 40, 0, 40, 1, 3},
	{"a", "2025-01-31 23:59:59", "completed", 60, 0, 60, 3, 0},
	{"b", "2025-01-20 00:00:00", "partially_returned", 30, 3, 27, 4, 0},
	{"c", "2025-01-25 12:00:00", "cancelled", 10, 0, 10, 1, 0}, // only cancelled: not a buyer
}

type event struct{ id, ts, session, typ string }

var shopEvents = []event{
	{"a", "2025-01-27 10:00:00", "s1", "product_view"},
	{"a", "2025-01-27 10:05:00", "s1", "add_to_cart"},
	{"a", "2025-01-27 10:06:00", "s1", "add_to_cart"}, // same visit
	{"a", "2025-01-28 20:00:00", "s2", "add_to_cart"},
	{"a", "2025-01-28 21:00:00", "s2", "product_view"},
	{"a", "2024-11-10 10:00:00", "s0", "product_view"}, // 83 days before: 90d only
	{"a", "2025-01-03 08:00:00", "s6", "favorite"},     // in the first week
	{"b", "2024-10-01 10:00:00", "s3", "search"},       // more than 90 days before
	{"b", "2024-12-01 11:00:00", "s4", "search"},
	{"z", "2025-01-30 11:00:00", "s5", "search"}, // not a buyer: no row
}

func eventRecord(mem memory.Allocator, es []event) arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
		{Name: "session_id", Type: arrow.BinaryTypes.String},
		{Name: "type", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, e := range es {
		t, _ := time.Parse(time.DateTime, e.ts)
		b.Field(0).(*array.StringBuilder).Append(e.id)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(t.Unix()))
		b.Field(2).(*array.StringBuilder).Append(e.session)
		b.Field(3).(*array.StringBuilder).Append(e.typ)
	}
	return b.NewRecord()
}

type campaign struct{ id, channel, typ, ts string }

// At 10:30 on Monday 2025-01-27: preferred hour and weekday stay as they are.
var shopCampaigns = []campaign{
	{"a", "email", "sent", "2025-01-27 10:00:00"},
	{"a", "email", "delivered", "2025-01-27 10:01:00"},
	{"a", "email", "open", "2025-01-27 10:30:00"},
	{"a", "email", "click", "2025-01-27 10:31:00"},
	{"a", "email", "delivered", "2025-01-20 10:01:00"},
	{"a", "push", "delivered", "2025-01-27 10:01:00"},
	{"a", "push", "open", "2025-01-27 10:40:00"},
	{"z", "email", "open", "2025-01-27 10:30:00"}, // not a buyer
}

func campaignRecord(mem memory.Allocator, cs []campaign) arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "channel", Type: arrow.BinaryTypes.String},
		{Name: "type", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, c := range cs {
		t, _ := time.Parse(time.DateTime, c.ts)
		b.Field(0).(*array.StringBuilder).Append(c.id)
		b.Field(1).(*array.StringBuilder).Append(c.channel)
		b.Field(2).(*array.StringBuilder).Append(c.typ)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(t.Unix()))
	}
	return b.NewRecord()
}

func customerRecord(mem memory.Allocator) arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "optin_email", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "optin_sms", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "optin_push", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, c := range []struct {
		id      string
		e, s, p bool
	}{{"a", true, false, true}, {"b", false, true, false}} {
		b.Field(0).(*array.StringBuilder).Append(c.id)
		b.Field(1).(*array.BooleanBuilder).Append(c.e)
		b.Field(2).(*array.BooleanBuilder).Append(c.s)
		b.Field(3).(*array.BooleanBuilder).Append(c.p)
	}
	return b.NewRecord()
}

func TestCustomerFeatures(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	asOf := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	rec := orderRecord(mem, shopOrders)
	defer rec.Release()
	events := eventRecord(mem, shopEvents)
	defer events.Release()
	campaigns := campaignRecord(mem, shopCampaigns)
	defer campaigns.Release()
	customers := customerRecord(mem)
	defer customers.Release()
	in := FeatureInputs{Orders: []arrow.Record{rec}, Events: Records(events), Campaigns: Records(campaigns), Customers: Records(customers)}
	f, err := CustomerFeatures(mem, in, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if f.NumRows() != 2 {
		t.Fatalf("%d customers, want 2 buyers", f.NumRows())
	}
	num := func(row int, name string) float64 {
		c := f.Column(FeatureSchema.FieldIndices(name)[0])
		switch c := c.(type) {
		case *array.Float64:
			return c.Value(row)
		case *array.Int64:
			return float64(c.Value(row))
		case *array.Date32:
			return float64(c.Value(row))
		}
		t.Fatalf("%s: %T", name, c)
		return 0
	}
	jan1 := float64(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	want := map[string][2]float64{
		"orders":               {3, 1},
		"cancelled_orders":     {1, 0},
		"revenue":              {180, 27},
		"avg_check":            {60, 27},
		"items_per_order":      {2, 4},
		"return_rate":          {1.0 / 3, 1},
		"cancel_rate":          {0.25, 0},
		"discount_share":       {1.0 / 3, 1},
		"discount_depth":       {0.2, 0.1},
		"rating_mean":          {4, math.NaN()},
		"first_order_date":     {jan1, jan1 + 19},
		"last_order_date":      {jan1 + 30, jan1 + 19},
		"days_since_first":     {31, 12},
		"days_since_last":      {1, 12},
		"interorder_mean_days": {15, 0}, // gaps 10 and 20
		"interorder_std_days":  {5, 0},
		"product_views_30d":    {2, 0},
		"product_views_90d":    {3, 0},
		"cart_adds_30d":        {3, 0},
		"cart_adds_90d":        {3, 0},
		"searches_90d":         {0, 1},
		"favorites_30d":        {1, 0},
		// a: 3 orders in the last 90 days, add_to_cart in 2 visits
		"cart_to_order_90d": {1.5, 0},
		// a: orders at 10, 9 and 23 h, events at 10, 10, 10, 20 and 21 h
		"preferred_hour": {10, 0},
		// a: orders Wed 01-01, Sat 01-11, Fri 01-31; events Mon 01-27 ×3, Tue 01-28 ×2, Sun 2024-11-10.
		// b: order Mon 01-20; events Tue and Sun: a tie, the earliest day wins
		"preferred_weekday": {1, 1},
		// a: first week 01-01..01-07 holds the 01-01 order only (the cancelled one does not count)
		"first_week_orders":         {1, 1},
		"first_week_revenue":        {80, 27},
		"first_week_items":          {2, 4},
		"first_week_discount_share": {1, 1},
		"first_week_rating_mean":    {5, math.NaN()},
		"first_week_events":         {1, 0},
		"email_open_rate":           {0.5, 0},
		"email_click_rate":          {0.5, 0},
		"push_open_rate":            {1, 0},
		"push_click_rate":           {0, 0},
		"sms_click_rate":            {0, 0},
	}
	for name, w := range want {
		for row := 0; row < 2; row++ {
			var got float64
			if c, ok := f.Column(FeatureSchema.FieldIndices(name)[0]).(*array.Int32); ok {
				got = float64(c.Value(row))
			} else {
				got = num(row, name)
			}
			if !(math.Abs(got-w[row]) < 1e-9 || (math.IsNaN(w[row]) && math.IsNaN(got))) {
				t.Errorf("customer %d %s = %v, want %v", row, name, got, w[row])
			}
		}
	}

	// a: e-mail (1+1)/2 ties push 1/1: e-mail comes first; b has no deliveries.
	pc := f.Column(FeatureSchema.FieldIndices("preferred_channel")[0]).(*array.String)
	if pc.Value(0) != "email" || pc.Value(1) != "" {
		t.Errorf("preferred_channel %q, %q; want email and none", pc.Value(0), pc.Value(1))
	}
	for name, want := range map[string][2]bool{"optin_email": {true, false}, "optin_sms": {false, true}, "optin_push": {true, false}} {
		c := f.Column(FeatureSchema.FieldIndices(name)[0]).(*array.Boolean)
		if c.Value(0) != want[0] || c.Value(1) != want[1] {
			t.Errorf("%s: %v, %v; want %v", name, c.Value(0), c.Value(1), want)
		}
	}

	// Point in time: orders on or after the as-of date change nothing.
	late := orderRecord(mem, []order{{"a", "2025-02-01 00:00:00", "completed", 999, 0, 999, 9, 1}, {"d", "2025-03-01 00:00:00", "completed", 5, 0, 5, 1, 0}})
	defer late.Release()
	lateEvents := eventRecord(mem, []event{{"a", "2025-02-01 00:00:00", "s9", "add_to_cart"}, {"b", "2025-02-03 10:00:00", "s9", "search"}})
	defer lateEvents.Release()
	lateCampaigns := campaignRecord(mem, []campaign{{"b", "sms", "delivered", "2025-02-01 00:00:00"}, {"b", "sms", "click", "2025-02-02 09:00:00"}})
	defer lateCampaigns.Release()
	in.Orders, in.Events, in.Campaigns = []arrow.Record{rec, late}, Records(events, lateEvents), Records(campaigns, lateCampaigns)
	g, err := CustomerFeatures(mem, in, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if !array.RecordApproxEqual(f, g, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
		t.Error("orders at or after as_of changed the features")
	}
}

func TestFeaturesDocumented(t *testing.T) {
	for _, f := range Features {
		if f.Name != "customer_id" && (f.Unit == "" || f.Definition == "") {
			t.Errorf("feature %s lacks a unit or definition", f.Name)
		}
	}
}

// shuffled cuts records into slices of a few rows and returns them in reverse:
// rows no longer come grouped by customer, nor lines in the orders' order.
func shuffled(recs []arrow.Record) []arrow.Record {
	var out []arrow.Record
	for _, r := range recs {
		for lo := int64(0); lo < r.NumRows(); lo += 7 {
			out = append(out, r.NewSlice(lo, min(lo+7, r.NumRows())))
		}
	}
	slices.Reverse(out)
	return out
}

// TestFeaturesInputOrder: the features do not depend on the order of the
// input rows. Sorted input takes the fast paths (one lookup per customer and
// per order, lines already grouped); shuffled input takes the general ones.
func TestFeaturesInputOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := synth.Defaults()
	cfg.Customers = 3000
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	in := loadShop(t, mem, dir)
	defer in.release()
	mix := shopRecords{orders: shuffled(in.orders), events: shuffled(in.events), lines: shuffled(in.lines),
		campaigns: shuffled(in.campaigns)}
	defer mix.release()
	mixed := mix.inputs()
	mixed.Products = in.products
	rows := func(in FeatureInputs) map[string][]string {
		rec, err := CustomerFeatures(mem, in, cfg.End)
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		out := map[string][]string{}
		ids := rec.Column(0).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			var vals []string
			for c := 1; c < int(rec.NumCols()); c++ {
				if f, ok := rec.Column(c).(*array.Float64); ok { // sums in another order differ in the last bits
					vals = append(vals, strconv.FormatFloat(f.Value(i), 'g', -1, 64))
					continue
				}
				vals = append(vals, rec.Column(c).ValueStr(i))
			}
			out[ids.Value(i)] = vals
		}
		return out
	}
	want, got := rows(in.inputs()), rows(mixed)
	if len(want) < 1000 || len(got) != len(want) {
		t.Fatalf("%d buyers from shuffled input, %d from sorted", len(got), len(want))
	}
	for id, w := range want {
		for c, v := range got[id] {
			if v != w[c] && !nearlyEqual(v, w[c]) {
				t.Errorf("customer %s, %s: %s from shuffled input, %s from sorted", id, Features[c+1].Name, v, w[c])
			}
		}
	}
}

// nearlyEqual: two formatted floats within a relative 1e-9.
func nearlyEqual(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y))
}

// TestPreferredHourInTimeZone: the preferred hour and weekday are on the
// wall clock of the configured time zone, across its daylight-saving change.
func TestPreferredHourInTimeZone(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// Sunday evenings in UTC: 22:30 in winter, 21:30 in summer, which are
	// 23:30 local in Berlin both times (UTC+1, then +2); one Monday noon.
	rec := orderRecord(mem, []order{
		{"a", "2025-03-16 22:30:00", "completed", 10, 0, 10, 1, 0},
		{"a", "2025-04-06 21:30:00", "completed", 10, 0, 10, 1, 0},
		{"a", "2025-04-07 12:00:00", "completed", 10, 0, 10, 1, 0},
	})
	defer rec.Release()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for _, c := range []struct {
		loc           *time.Location
		hour, weekday int32
	}{
		{nil, 12, 7},    // UTC: 22:30, 21:30 and 12:00 once each, the earliest on ties; Sunday twice
		{berlin, 23, 7}, // both 23:30 on Sunday
		{tokyo, 6, 1},   // 07:30 and 06:30 on Monday, 21:00 on Monday: Monday, the earliest hour on ties
	} {
		f, err := CustomerFeatures(mem, FeatureInputs{Location: c.loc, Orders: []arrow.Record{rec}}, time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		hour := f.Column(FeatureSchema.FieldIndices("preferred_hour")[0]).(*array.Int32).Value(0)
		weekday := f.Column(FeatureSchema.FieldIndices("preferred_weekday")[0]).(*array.Int32).Value(0)
		if hour != c.hour || weekday != c.weekday {
			t.Errorf("%v: preferred hour %d, weekday %d; want %d, %d", c.loc, hour, weekday, c.hour, c.weekday)
		}
		f.Release()
	}
}

// TestCustomerLookup: ids in the customers' order, repeated, skipping some,
// going back, unknown, found as the map has them.
func TestCustomerLookup(t *testing.T) {
	names := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	ids := map[string]int32{}
	for k, id := range names {
		ids[id] = int32(k)
	}
	find := newCustomerLookup(ids, names)
	for _, id := range []string{"c0", "c0", "c1", "x", "c2", "c2", "c6", "c9", "c3", "x", "y", "c4", "c8", "c0", "c1"} {
		k, ok := find.index(id)
		want, wantOK := ids[id]
		if k != want || ok != wantOK {
			t.Errorf("%s: %d %v, want %d %v", id, k, ok, want, wantOK)
		}
	}
}
