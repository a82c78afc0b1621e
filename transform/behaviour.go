package transform

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// tally counts a moment of activity in the customer's hours and weekdays,
// on the wall clock of the run's time zone.
func (fr *featureRun) tally(b *behaviour, ts int64) {
	ts = fr.zone.local(ts)
	b.hours[(ts%86400+86400)%86400/3600]++
	b.weekdays[(floorDiv(ts, 86400)+3)%7]++ // 1970-01-01 was a Thursday
}

// zone shifts Unix seconds to the wall clock of a time zone (nil: UTC). The
// offset is looked up once per UTC hour: a transition inside an hour (a few
// zones shift at half past) moves that one hour's activity by the difference.
type zone struct {
	loc   *time.Location
	cache map[int64]int64 // UTC hour → offset in seconds
}

func newZone(loc *time.Location) zone {
	if loc == nil || loc.String() == "UTC" {
		return zone{}
	}
	return zone{loc: loc, cache: map[int64]int64{}}
}

func (z zone) local(ts int64) int64 {
	if z.loc == nil {
		return ts
	}
	h := floorDiv(ts, 3600)
	off, ok := z.cache[h]
	if !ok {
		_, o := time.Unix(h*3600, 0).In(z.loc).Zone()
		off = int64(o)
		z.cache[h] = off
	}
	return ts + off
}

// behaviour tallies the orders' times, the site and campaign events and the
// opt-ins.
func (fr *featureRun) behaviour(in FeatureInputs) error {
	for _, f := range fr.facts {
		if f.cancelled {
			continue
		}
		if int64(fr.asOfDay)-int64(f.day) <= 90 {
			fr.beh[f.cust].orders90++
		}
		fr.tally(&fr.beh[f.cust], f.ts) // hours and weekdays of the orders themselves
	}
	if err := fr.events(in.Events); err != nil {
		return err
	}
	if err := fr.campaigns(in.Campaigns); err != nil {
		return err
	}
	return fr.optins(in.Customers)
}

// SessionsUsedFor is the one type of site event whose session_id the
// features use (visits with something put in the cart): a reader may leave
// the others' sessions out.
const SessionsUsedFor = "add_to_cart"

// recentDays: the features count site events by type (and visits to the
// cart) in the last 90 days before as_of.
const recentDays = 90

// EventTypesUsedFrom is when the site events whose type (and session) the
// features use as of asOf start: older ones count by their time alone.
func EventTypesUsedFrom(asOf time.Time) time.Time {
	return time.Unix((floorDiv(asOf.UTC().Unix(), 86400)-recentDays)*86400, 0).UTC()
}

// events tallies the site events of each customer: hours and weekdays,
// events in the first week, events by type in the last 30 and 90 days, and
// the visits with something put in the cart.
func (fr *featureRun) events(events Batches) error {
	asOfDay64 := int64(fr.asOfDay)
	type visit struct {
		cust    int32
		session string // copied: it outlives its batch
	}
	seenVisit := map[visit]struct{}{}
	find := newCustomerLookup(fr.ids, fr.names)
	return events.each(func(rec arrow.Record) error {
		find.on = false // its last id was a view of the previous batch
		c, err := eventColumns(rec)
		if err != nil {
			return err
		}
		perSecond := int64(arrow.Second.Multiplier() / c.ts.DataType().(*arrow.TimestampType).Unit.Multiplier())
		for i := 0; i < int(rec.NumRows()); i++ {
			if c.id.IsNull(i) || c.ts.IsNull(i) {
				continue
			}
			k, ok := find.index(c.id.Value(i))
			ts := int64(c.ts.Value(i)) / perSecond
			if !ok || ts >= fr.limit {
				continue
			}
			b := &fr.beh[k]
			fr.tally(b, ts)
			if d := int32(floorDiv(ts, 86400)); d >= fr.firstDay[k] && d <= fr.firstDay[k]+6 {
				fr.firstWeekEvents[k]++
			}
			// 1 for the day before as_of; older than recentDays: counted by
			// time alone (see EventTypesUsedFrom)
			ago := asOfDay64 - floorDiv(ts, 86400)
			if ago > recentDays {
				continue
			}
			typ := c.typ.Value(i)
			for t, name := range eventTypes {
				if typ == name {
					b.last90[t]++
					if ago <= 30 {
						b.last30[t]++
					}
				}
			}
			if typ == SessionsUsedFor && c.session != nil {
				key := visit{k, c.session.Value(i)}
				if _, seen := seenVisit[key]; !seen {
					key.session = strings.Clone(key.session)
					seenVisit[key] = struct{}{}
					fr.cartVisits[k]++
				}
			}
		}
		return nil
	})
}

// CampaignTypesUsed are the types of campaign event the features count (not
// those sent, converted or unsubscribed): a reader may leave the others out.
var CampaignTypesUsed = []string{"delivered", "open", "click"}

// campaigns tallies each customer's deliveries, opens and clicks per channel;
// opens and clicks count as activity in the hours and weekdays too.
func (fr *featureRun) campaigns(campaigns Batches) error {
	find := newCustomerLookup(fr.ids, fr.names)
	return campaigns.each(func(rec arrow.Record) error {
		find.on = false
		id, okID := column(rec, "customer_id").(*array.String)
		ch, okCh := column(rec, "channel").(*array.String)
		typ, okT := column(rec, "type").(*array.String)
		at, okTs := column(rec, "ts").(*array.Timestamp)
		if !(okID && okCh && okT && okTs) {
			return fmt.Errorf("features: campaign events need customer_id, channel, type and ts columns of the canonical types")
		}
		perSecond := int64(arrow.Second.Multiplier() / at.DataType().(*arrow.TimestampType).Unit.Multiplier())
		for i := 0; i < int(rec.NumRows()); i++ {
			k, ok := find.index(id.Value(i))
			ts := int64(at.Value(i)) / perSecond
			c := slices.Index(channels, ch.Value(i))
			if !ok || ts >= fr.limit || c < 0 {
				continue
			}
			switch typ.Value(i) {
			case "delivered":
				fr.eng[k].delivered[c]++
			case "open":
				fr.eng[k].opens[c]++
				fr.tally(&fr.beh[k], ts)
			case "click":
				fr.eng[k].clicks[c]++
				fr.tally(&fr.beh[k], ts)
			}
		}
		return nil
	})
}

// optins keeps each buyer's opt-ins as the customers' table has them.
func (fr *featureRun) optins(customers Batches) error {
	return customers.each(func(rec arrow.Record) error {
		id, ok := column(rec, "customer_id").(*array.String)
		if !ok {
			return fmt.Errorf("features: customers need a customer_id column")
		}
		flags := [3]*array.Boolean{}
		for c, name := range []string{"optin_email", "optin_sms", "optin_push"} {
			if flags[c], ok = column(rec, name).(*array.Boolean); !ok {
				return fmt.Errorf("features: customers need a boolean %s column", name)
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if k, ok := fr.ids[id.Value(i)]; ok {
				for c, f := range flags {
					fr.eng[k].optin[c] = f.IsValid(i) && f.Value(i)
				}
			}
		}
		return nil
	})
}
