package pipeline

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/lift"
	"github.com/tessera-cdp/tessera/synth"
)

// TestLift: every segment published for a date is measured, its treated
// members and control group adding up to its members but those who switched
// arms inside the window; with no effect given (the generated shop knows
// nothing of the segments) an effect is called no more often than the 5%
// false-positive rate allows; a re-run replaces the date's rows; and a
// window the extracts have not read to its end is labelled so, with NULL
// where nothing was measured, although the files already hold later orders.
func TestLift(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 8000, 0, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	d := time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
	if err := runStages(ctx, cfg, d, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	p, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	day := "toDate('" + d.Format(time.DateOnly) + "')"
	// Extracted for the date only: the shop's files run to 2026-11-01, but
	// no extract has read the sources after the window.
	res, err := p.Lift(ctx, d, 28)
	if err != nil {
		t.Fatal(err)
	}
	var rows, nulls uint64
	queryRow(t, wh, "SELECT count(), countIf(conversion_diff IS NULL AND treated_conversion IS NULL AND revenue_diff IS NULL AND verdict = 'window not over') FROM {db}.segment_lift WHERE as_of = "+day, &rows, &nulls)
	if rows == 0 || nulls != rows || res.ExtractedThrough != d.Format(time.DateOnly) {
		t.Errorf("extracted through %s: %d of %d segments not over with NULL differences", res.ExtractedThrough, nulls, rows)
	}
	if err := runStages(ctx, cfg, d.AddDate(0, 0, 28), []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		if res, err = p.Lift(ctx, d, 28); err != nil {
			t.Fatal(err)
		}
	}
	var segments, members, arms uint64
	queryRow(t, wh, "SELECT count() FROM {db}.segments WHERE as_of = "+day, &segments)
	queryRow(t, wh, "SELECT count(), toUInt64(sum(treated + control)) FROM {db}.segment_lift WHERE as_of = "+day, &rows, &arms)
	queryRow(t, wh, "SELECT count() FROM {db}.segment_members WHERE as_of = "+day, &members)
	// 2026-09-15's window holds a new campaign period (2026-09-24): the
	// members drawn into its control group leave the treated arm.
	if rows != segments || arms+uint64(res.Switched) != members || res.Switched == 0 || len(res.Segments) != int(segments) {
		t.Errorf("segment_lift holds %d rows of %d members (and %d switched) after two runs; the date has %d segments of %d members",
			rows, arms, res.Switched, segments, members)
	}
	called, measured := 0, 0
	for _, s := range res.Segments {
		m := s.Result
		t.Logf("%s: %d treated, %d control; conversion %.3f vs %.3f, %+.3f [%.3f, %.3f], MDE %.3f: %s",
			s.ID, m.Treated, m.Control, m.TreatedConversion, m.ControlConversion, m.ConversionDiff, m.ConversionLow, m.ConversionHigh, m.MDE, m.Verdict)
		switch m.Verdict {
		case lift.Lift, lift.Negative:
			called++
			measured++
		case lift.NoEffect:
			measured++
		case lift.WindowNotOver:
			t.Errorf("%s: window not over, but the sources were extracted through %s", s.ID, res.ExtractedThrough)
		case lift.TooSmall:
			if !math.IsNaN(m.ConversionDiff) {
				t.Errorf("%s: too small to tell, with a difference %v", s.ID, m.ConversionDiff)
			}
		}
	}
	// With no effect, each measured segment calls one at 5%: more than
	// 2 + 10% of them would happen by chance about once in a thousand runs.
	if measured == 0 || called > 2+measured/10 {
		t.Errorf("an effect called in %d of %d measured segments, where none was given", called, measured)
	}

	late := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	if err := runStages(ctx, cfg, late, []string{"features", "train", "score", "publish"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	res, err = p.Lift(ctx, late, 28)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Segments {
		if s.Verdict != lift.WindowNotOver {
			t.Errorf("%s: %q for a window past the extracts (%s)", s.ID, s.Verdict, res.ExtractedThrough)
		}
	}
	if _, err := p.Lift(ctx, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), 28); err == nil {
		t.Error("lift of a date never published succeeded")
	}
	// Another control share than the date was published with: its arms can
	// no longer be told, and lift says so rather than measure.
	changed := cfg
	changed.Export.ControlShare = 0.3
	q, err := Open(ctx, changed, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Lift(ctx, d, 28); err == nil || !strings.Contains(err.Error(), "control group was not drawn the way export.control_share") {
		t.Errorf("lift with another control share: %v", err)
	}
}

// TestLiftRecoversKnownEffect: the shop is published for a date, and a
// marketer follows the nightly control flags through the window: each member
// of the date's segments gets the campaign's effect (the generator again,
// with an uplift: three times its purchase rate while it has not dropped
// out) on the days it is not held out. The orders are extracted again, for
// the window's end, and lift measures. The known effect on each segment's
// conversion, computed from the generator's truth, lies within the segment's
// 95% interval in all but the share of segments chance allows, and the
// effect is found where the segment is large enough to see it; over all
// segments, the measured difference is the known one within 3 standard
// errors. The second date's window holds a new campaign period 2 days in:
// were its control group released then, the control would get the campaign
// for 26 of its 28 days and the pooled difference would all but vanish.
func TestLiftRecoversKnownEffect(t *testing.T) {
	for _, d := range []time.Time{time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 9, 22, 0, 0, 0, 0, time.UTC)} {
		t.Run(d.Format(time.DateOnly), func(t *testing.T) { liftRecovers(t, d) })
	}
}

func liftRecovers(t *testing.T, d time.Time) {
	cfg, wh := testClickHouse(t)
	ctx := context.Background()
	c := synth.Defaults()
	c.Customers = 12000
	before := t.TempDir()
	if _, err := synth.Generate(ctx, c, before); err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.Dir = before
	if err := runStages(ctx, cfg, d, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	day := "toDate('" + d.Format(time.DateOnly) + "')"
	const window, factor = 28, 3.0
	hold := newControlHold(cfg.Export.ControlShare, cfg.Export.CampaignDays, cfg.Export.LiftWindowDays)
	from := d.Unix() / 86400
	up := &synth.Uplift{From: d, Days: window, Treated: map[string]bool{}, RateFactor: factor, SpendFactor: 1.5, Spans: map[string][2]time.Time{}}
	members, switched := map[string][]string{}, 0
	for _, row := range queryStrings(t, wh, "SELECT concat(segment_id, ' ', customer_id, ' ', toString(control_group)) FROM {db}.segment_members WHERE as_of = "+day) {
		f := strings.Fields(row)
		seg, id, flag := f[0], f[1], f[2]
		u := place(id)
		if hold.held(u, from) != (flag == "1") {
			t.Fatalf("%s: control_group %s on %s, the hold says otherwise", id, flag, d.Format(time.DateOnly))
		}
		// The first run of days in the window it is not held out.
		start := int64(-1)
		for k := int64(0); k < window; k++ {
			if h := hold.held(u, from+k); !h && start < 0 {
				start = k
			} else if h && start >= 0 {
				up.Spans[id] = [2]time.Time{d.AddDate(0, 0, int(start)), d.AddDate(0, 0, int(k))}
				break
			}
		}
		if start >= 0 {
			up.Treated[id] = true
		}
		switch hold.arm(u, from, window) {
		case armTreated:
			members[seg] = append(members[seg], id)
		case armSwitched:
			switched++
		}
	}
	c.Uplift = up
	after := t.TempDir()
	if _, err := synth.Generate(ctx, c, after); err != nil {
		t.Fatal(err)
	}
	cfg.Source.Files.Dir = after
	if err := runStages(ctx, cfg, d.AddDate(0, 0, window), []string{"extract"}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	p, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Lift(ctx, d, window)
	if err != nil {
		t.Fatal(err)
	}
	if res.Switched != switched {
		t.Errorf("lift left %d members out as switched, the hold says %d", res.Switched, switched)
	}

	// The known effect: a member who dropped out before the date buys in
	// neither world; one who drops out in the window bought then in both
	// (dropping out follows a purchase); one alive through it buys at its
	// rate thinned by its chance of dropping after each purchase, λ(1−p),
	// and with the uplift also at λ(factor − 1).
	known := knownConversionLift(t, before, d, window, factor)
	var measured, covered, found, powered int
	var pool struct{ treated, control, tBuyers, cBuyers, known float64 }
	for _, s := range res.Segments {
		m := s.Result
		want := 0.0
		for _, id := range members[s.ID] {
			want += known[id]
		}
		if m.Treated != len(members[s.ID]) {
			t.Errorf("%s: %d treated, the hold says %d", s.ID, m.Treated, len(members[s.ID]))
		}
		pool.treated += float64(m.Treated)
		pool.control += float64(m.Control)
		pool.tBuyers += float64(m.TreatedBuyers)
		pool.cBuyers += float64(m.ControlBuyers)
		pool.known += want
		if m.Verdict == lift.TooSmall {
			continue
		}
		want /= float64(len(members[s.ID]))
		in := m.ConversionLow <= want && want <= m.ConversionHigh
		t.Logf("%s: %d treated, %d control; known %+.3f, measured %+.3f [%+.3f, %+.3f], MDE %.3f: %s",
			s.ID, m.Treated, m.Control, want, m.ConversionDiff, m.ConversionLow, m.ConversionHigh, m.MDE, m.Verdict)
		measured++
		if in {
			covered++
		}
		if want > m.MDE {
			powered++
			if m.Verdict == lift.Lift {
				found++
			}
		}
	}
	t.Logf("known effect within the 95%% interval in %d of %d measured segments; found in %d of the %d whose MDE is below it; %d members switched arms",
		covered, measured, found, powered, switched)
	// 95% coverage: more than 2 + 10% misses would happen by chance about
	// once in a thousand; at the MDE a segment finds the effect 80% of the time.
	if measured < 5 || measured-covered > 2+measured/10 {
		t.Errorf("the known effect fell outside the interval in %d of %d segments", measured-covered, measured)
	}
	if powered == 0 || float64(found) < 0.6*float64(powered) {
		t.Errorf("the effect was found in %d of %d segments large enough to see it", found, powered)
	}
	pt, pc := pool.tBuyers/pool.treated, pool.cBuyers/pool.control
	se := math.Sqrt(pt*(1-pt)/pool.treated + pc*(1-pc)/pool.control)
	knownAll := pool.known / pool.treated
	t.Logf("all segments: %.0f treated, %.0f control; measured %+.4f, known %+.4f (standard error %.4f)", pool.treated, pool.control, pt-pc, knownAll, se)
	if math.Abs(pt-pc-knownAll) > 3*se {
		t.Errorf("over all segments the measured difference %+.4f is %.1f standard errors from the known %+.4f", pt-pc, math.Abs(pt-pc-knownAll)/se, knownAll)
	}
}

// knownConversionLift is, per customer, how much the uplift raises the
// chance of buying in the window, from the generator's truth.
func knownConversionLift(t *testing.T, shop string, from time.Time, days int, factor float64) map[string]float64 {
	col, recs := readTruth(t, shop)
	start, end := from.Format(time.DateTime), from.AddDate(0, 0, days).Format(time.DateTime)
	w := float64(days)
	out := map[string]float64{}
	for _, r := range recs {
		dropped := r[col["dropout_at"]]
		if dropped != "" && dropped < end { // out before the window, or bought in it in both worlds
			continue
		}
		if r[col["buyer"]] != "true" || r[col["first_order_at"]] >= start {
			continue
		}
		lambda, _ := strconv.ParseFloat(r[col["purchase_rate_per_day"]], 64)
		p, _ := strconv.ParseFloat(r[col["dropout_probability"]], 64)
		base := lambda * (1 - p) * w
		out[r[col["customer_id"]]] = math.Exp(-base) - math.Exp(-base-lambda*(factor-1)*w)
	}
	return out
}
