package pipeline

import (
	"context"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/transform"
)

// TestFeaturesMatchSQL: on a generated shop loaded in ClickHouse, the features
// computed in Go equal the same features computed by GROUP BY in ClickHouse, for
// every customer.
func TestFeaturesMatchSQL(t *testing.T) {
	cfg, wh := testClickHouse(t)
	dir, _ := generateShop(t, 3000, 0.005, "csv")
	cfg.Source.Files.Dir = dir
	ctx := context.Background()
	day := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC) // leaves a month of orders after as_of
	if err := runStages(ctx, cfg, day, nil, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	d := day.Format(time.DateOnly)
	cols := "toFloat64(orders), toFloat64(cancelled_orders), revenue, avg_check, items_per_order, return_rate, cancel_rate, discount_share, discount_depth, rating_mean, toFloat64(toUInt32(first_order_date)), toFloat64(toUInt32(last_order_date)), days_since_first, days_since_last, interorder_mean_days, revenue_12m, last_gap_days"
	sqlFeatures := `
		SELECT customer_id, toFloat64(o), toFloat64(c), rev, rev / o, items / o, ret / o, c / (o + c), disc / o,
			if(disc_gross > 0, disc_sum / disc_gross, 0), rating, toFloat64(toUInt32(first)), toFloat64(toUInt32(last)),
			toFloat64(toDate('` + d + `') - first), toFloat64(toDate('` + d + `') - last),
			toFloat64(if(days > 1, (last - first) / (days - 1), 0)), rev12,
			toFloat64(if(days > 1, arraySort(day_list)[-1] - arraySort(day_list)[-2], 0))
		FROM (
			SELECT customer_id,
				countIf(status != 'cancelled') AS o, countIf(status = 'cancelled') AS c,
				sumIf(net_amount, status != 'cancelled') AS rev, sumIf(items_count, status != 'cancelled') AS items,
				countIf(status IN ('returned', 'partially_returned')) AS ret,
				countIf(status != 'cancelled' AND discount_amount > 0) AS disc,
				sumIf(discount_amount, status != 'cancelled' AND discount_amount > 0) AS disc_sum,
				sumIf(gross_amount, status != 'cancelled' AND discount_amount > 0) AS disc_gross,
				avgIf(rating, status != 'cancelled' AND rating > 0) AS rating,
				minIf(toDate(ordered_at), status != 'cancelled') AS first, maxIf(toDate(ordered_at), status != 'cancelled') AS last,
				uniqExactIf(toDate(ordered_at), status != 'cancelled') AS days,
				sumIf(net_amount, status != 'cancelled' AND ordered_at >= toDateTime('` + d + ` 00:00:00') - 365 * 86400) AS rev12,
				groupUniqArrayIf(toDate(ordered_at), status != 'cancelled') AS day_list
			FROM {db}.raw_orders FINAL WHERE ordered_at < toDateTime('` + d + ` 00:00:00')
			GROUP BY customer_id HAVING o > 0
		)`
	readFloats := func(q string, n int) map[string][]float64 {
		rows, err := wh.Conn().Query(ctx, strings.ReplaceAll(q, "{db}", wh.Database()))
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		defer rows.Close()
		out := map[string][]float64{}
		for rows.Next() {
			var id string
			v := make([]float64, n)
			dest := []any{&id}
			for i := range v {
				dest = append(dest, &v[i])
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			out[id] = v
		}
		return out
	}
	want := readFloats(sqlFeatures, 17)
	got := readFloats("SELECT customer_id, "+cols+" FROM {db}.customer_features WHERE as_of = toDate('"+d+"')", 17)
	// Site behaviour and preferred hour and weekday, by SQL too (18.16 runs one
	// JOIN per query: the parts are joined here).
	before := "toDateTime('" + d + " 00:00:00')"
	evAgg := `SELECT customer_id,
			toFloat64(countIf(type = 'product_view' AND ts >= s30)), toFloat64(countIf(type = 'category_view' AND ts >= s30)),
			toFloat64(countIf(type = 'search' AND ts >= s30)), toFloat64(countIf(type = 'add_to_cart' AND ts >= s30)),
			toFloat64(countIf(type = 'remove_from_cart' AND ts >= s30)), toFloat64(countIf(type = 'favorite' AND ts >= s30)),
			toFloat64(countIf(type = 'product_view' AND ts >= s90)), toFloat64(countIf(type = 'category_view' AND ts >= s90)),
			toFloat64(countIf(type = 'search' AND ts >= s90)), toFloat64(countIf(type = 'add_to_cart' AND ts >= s90)),
			toFloat64(countIf(type = 'remove_from_cart' AND ts >= s90)), toFloat64(countIf(type = 'favorite' AND ts >= s90)),
			toFloat64(uniqExactIf(session_id, type = 'add_to_cart' AND ts >= s90))
		FROM (SELECT customer_id, ts, type, session_id, ` + before + ` - 30 * 86400 AS s30, ` + before + ` - 90 * 86400 AS s90
			FROM {db}.raw_events FINAL WHERE customer_id != '' AND ts < ` + before + `)
		GROUP BY customer_id`
	orders90 := `SELECT customer_id, toFloat64(countIf(status != 'cancelled' AND ordered_at >= ` + before + ` - 90 * 86400))
		FROM {db}.raw_orders FINAL WHERE ordered_at < ` + before + ` GROUP BY customer_id HAVING countIf(status != 'cancelled') > 0`
	modeOf := func(f string) string {
		return `SELECT customer_id, toFloat64(argMax(v, (c, -v))) FROM (
			SELECT customer_id, v, count() AS c FROM (
				SELECT customer_id, ` + f + `(ordered_at) AS v FROM {db}.raw_orders FINAL WHERE status != 'cancelled' AND ordered_at < ` + before + `
				UNION ALL
				SELECT customer_id, ` + f + `(ts) AS v FROM {db}.raw_events FINAL WHERE customer_id != '' AND ts < ` + before + `
				UNION ALL
				SELECT customer_id, ` + f + `(ts) AS v FROM {db}.raw_campaign_events FINAL WHERE type IN ('open', 'click') AND ts < ` + before + `
			) GROUP BY customer_id, v
		) GROUP BY customer_id`
	}
	evCols := "toFloat64(product_views_30d), toFloat64(category_views_30d), toFloat64(searches_30d), toFloat64(cart_adds_30d), toFloat64(cart_removes_30d), toFloat64(favorites_30d), " +
		"toFloat64(product_views_90d), toFloat64(category_views_90d), toFloat64(searches_90d), toFloat64(cart_adds_90d), toFloat64(cart_removes_90d), toFloat64(favorites_90d), " +
		"cart_to_order_90d, toFloat64(preferred_hour), toFloat64(preferred_weekday)"
	events, o90 := readFloats(evAgg, 13), readFloats(orders90, 1)
	hours, weekdays := readFloats(modeOf("toHour"), 1), readFloats(modeOf("toDayOfWeek"), 1)
	wantEv := map[string][]float64{}
	for id, o := range o90 {
		e := events[id]
		if e == nil {
			e = make([]float64, 13)
		}
		conv := 0.0
		if e[12] > 0 {
			conv = o[0] / e[12]
		}
		wantEv[id] = append(append(append([]float64{}, e[:12]...), conv), hours[id][0], weekdays[id][0])
	}
	gotEv := readFloats("SELECT customer_id, "+evCols+" FROM {db}.customer_features WHERE as_of = toDate('"+d+"')", 15)
	evNames := []string{"product_views_30d", "category_views_30d", "searches_30d", "cart_adds_30d", "cart_removes_30d", "favorites_30d",
		"product_views_90d", "category_views_90d", "searches_90d", "cart_adds_90d", "cart_removes_90d", "favorites_90d",
		"cart_to_order_90d", "preferred_hour", "preferred_weekday"}
	for id, w := range wantEv {
		for k := range w {
			if g := gotEv[id]; g == nil || math.Abs(g[k]-w[k]) > 1e-9*math.Max(1, math.Abs(w[k])) {
				t.Errorf("customer %s %s: Go %v, SQL %v", id, evNames[k], g, w[k])
				break
			}
		}
	}
	// The first week, by SQL.
	firsts := `(SELECT customer_id, minIf(toDate(ordered_at), status != 'cancelled') AS first FROM {db}.raw_orders FINAL
		WHERE ordered_at < ` + before + ` GROUP BY customer_id HAVING countIf(status != 'cancelled') > 0)`
	fwOrders := readFloats(`SELECT customer_id, toFloat64(countIf(d <= first + 6)), sumIf(net_amount, d <= first + 6),
			toFloat64(sumIf(items_count, d <= first + 6)), countIf(d <= first + 6 AND discount_amount > 0) / countIf(d <= first + 6),
			avgIf(rating, d <= first + 6 AND rating > 0)
		FROM (SELECT customer_id, toDate(ordered_at) AS d, net_amount, items_count, discount_amount, rating FROM {db}.raw_orders FINAL
			WHERE status != 'cancelled' AND ordered_at < `+before+`) ANY INNER JOIN `+firsts+` USING customer_id
		GROUP BY customer_id`, 5)
	fwEvents := readFloats(`SELECT customer_id, toFloat64(count())
		FROM (SELECT customer_id, toDate(ts) AS d FROM {db}.raw_events FINAL WHERE customer_id != '' AND ts < `+before+`)
		ANY INNER JOIN `+firsts+` USING customer_id WHERE d >= first AND d <= first + 6 GROUP BY customer_id`, 1)
	gotFW := readFloats("SELECT customer_id, toFloat64(first_week_orders), first_week_revenue, toFloat64(first_week_items), first_week_discount_share, first_week_rating_mean, toFloat64(first_week_events) FROM {db}.customer_features WHERE as_of = toDate('"+d+"')", 6)
	fwNames := []string{"first_week_orders", "first_week_revenue", "first_week_items", "first_week_discount_share", "first_week_rating_mean", "first_week_events"}
	for id, w := range fwOrders {
		w = append(w, 0)
		if e := fwEvents[id]; e != nil {
			w[5] = e[0]
		}
		g := gotFW[id]
		for k := range w {
			if g == nil || !(math.Abs(g[k]-w[k]) <= 1e-9*math.Max(1, math.Abs(w[k])) || (math.IsNaN(g[k]) && math.IsNaN(w[k]))) {
				t.Errorf("customer %s %s: Go %v, SQL %v", id, fwNames[k], g, w[k])
				break
			}
		}
	}
	if len(fwOrders) != len(gotFW) {
		t.Errorf("%d customers with a first week by SQL, %d in Go", len(fwOrders), len(gotFW))
	}
	// Campaign engagement and opt-ins, by SQL.
	rates := readFloats(`SELECT customer_id,
			toFloat64(countIf(channel = 'email' AND type = 'delivered')), toFloat64(countIf(channel = 'email' AND type = 'open')), toFloat64(countIf(channel = 'email' AND type = 'click')),
			toFloat64(countIf(channel = 'sms' AND type = 'delivered')), toFloat64(countIf(channel = 'sms' AND type = 'open')), toFloat64(countIf(channel = 'sms' AND type = 'click')),
			toFloat64(countIf(channel = 'push' AND type = 'delivered')), toFloat64(countIf(channel = 'push' AND type = 'open')), toFloat64(countIf(channel = 'push' AND type = 'click'))
		FROM {db}.raw_campaign_events FINAL WHERE ts < `+before+` GROUP BY customer_id`, 9)
	optins := readFloats(`SELECT customer_id, toFloat64(optin_email), toFloat64(optin_sms), toFloat64(optin_push) FROM {db}.raw_customers FINAL`, 3)
	gotC := readFloats("SELECT customer_id, email_open_rate, email_click_rate, push_open_rate, push_click_rate, sms_click_rate, toFloat64(optin_email), toFloat64(optin_sms), toFloat64(optin_push) FROM {db}.customer_features WHERE as_of = toDate('"+d+"')", 8)
	channelOf := map[string]string{}
	for _, id := range queryStrings(t, wh, "SELECT concat(customer_id, ' ', preferred_channel) FROM {db}.customer_features WHERE as_of = toDate('"+d+"')") {
		k, v, _ := strings.Cut(id, " ")
		channelOf[k] = v
	}
	cNames := []string{"email_open_rate", "email_click_rate", "push_open_rate", "push_click_rate", "sms_click_rate", "optin_email", "optin_sms", "optin_push"}
	for id, g := range gotC {
		r := rates[id]
		if r == nil {
			r = make([]float64, 9)
		}
		div := func(n, d float64) float64 {
			if d == 0 {
				return 0
			}
			return n / d
		}
		w := []float64{div(r[1], r[0]), div(r[2], r[0]), div(r[7], r[6]), div(r[8], r[6]), div(r[5], r[3])}
		w = append(w, optins[id]...)
		for k := range w {
			if math.Abs(g[k]-w[k]) > 1e-9 {
				t.Errorf("customer %s %s: Go %v, SQL %v", id, cNames[k], g[k], w[k])
				break
			}
		}
		best, bestRate := "", -1.0
		for c, name := range []string{"email", "sms", "push"} {
			if r[3*c] > 0 && div(r[3*c+1]+r[3*c+2], r[3*c]) > bestRate {
				best, bestRate = name, div(r[3*c+1]+r[3*c+2], r[3*c])
			}
		}
		if channelOf[id] != best {
			t.Errorf("customer %s preferred_channel: Go %q, SQL %q", id, channelOf[id], best)
		}
	}
	// Basket and affinity, by SQL: the counted lines with their customer and
	// category come from ClickHouse; ranking and the ratio are done here.
	linesSQL := `SELECT customer_id, product_id, top, brand, unit_price, quantity * unit_price - discount AS spend, toUInt32(day) FROM (
			SELECT * FROM (SELECT order_id, product_id, quantity, unit_price, discount FROM {db}.raw_order_lines FINAL)
			ANY INNER JOIN (SELECT order_id, customer_id, toDate(ordered_at) AS day FROM {db}.raw_orders FINAL WHERE status != 'cancelled' AND ordered_at < ` + before + `) USING order_id
		) ANY LEFT JOIN (SELECT product_id, splitByChar('/', category)[1] AS top, brand FROM {db}.raw_products FINAL) USING product_id`
	type lineRow struct {
		cust, product, top, brand string
		unit, spend               float64
		day                       uint32
	}
	var lines []lineRow
	lrows, err := wh.Conn().Query(ctx, strings.ReplaceAll(linesSQL, "{db}", wh.Database()))
	if err != nil {
		t.Fatalf("%v\n%s", err, linesSQL)
	}
	for lrows.Next() {
		var l lineRow
		if err := lrows.Scan(&l.cust, &l.product, &l.top, &l.brand, &l.unit, &l.spend, &l.day); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	lrows.Close()
	// Each category's median unit price: the middle one, the upper of two.
	pricesByTop := map[string][]float64{}
	for _, l := range lines {
		pricesByTop[l.top] = append(pricesByTop[l.top], l.unit)
	}
	medians := map[string][]float64{}
	for top, ps := range pricesByTop {
		sort.Float64s(ps)
		medians[top] = []float64{ps[len(ps)/2]}
	}
	firstOrderDay := map[string]uint32{}
	for _, l := range lines {
		if d, ok := firstOrderDay[l.cust]; !ok || l.day < d {
			firstOrderDay[l.cust] = l.day
		}
	}
	type basketWant struct {
		products, cats, firstWeekCats map[string]bool
		catSpend, brandSpend          map[string]float64
		total, level                  float64
		levelN                        int
	}
	bw := map[string]*basketWant{}
	for _, l := range lines {
		w := bw[l.cust]
		if w == nil {
			w = &basketWant{products: map[string]bool{}, cats: map[string]bool{}, firstWeekCats: map[string]bool{}, catSpend: map[string]float64{}, brandSpend: map[string]float64{}}
			bw[l.cust] = w
		}
		w.products[l.product] = true
		if l.top != "" {
			w.cats[l.top] = true
			w.catSpend[l.top] += l.spend
			if l.day <= firstOrderDay[l.cust]+6 {
				w.firstWeekCats[l.top] = true
			}
		}
		if l.brand != "" {
			w.brandSpend[l.brand] += l.spend
		}
		w.total += l.spend
		if m := medians[l.top][0]; m > 0 {
			w.level += l.unit / m
			w.levelN++
		}
	}
	rank := func(spend map[string]float64) []string {
		var ks []string
		for k := range spend {
			ks = append(ks, k)
		}
		sort.Slice(ks, func(i, j int) bool {
			if spend[ks[i]] != spend[ks[j]] {
				return spend[ks[i]] > spend[ks[j]]
			}
			return ks[i] < ks[j]
		})
		return ks
	}
	gotB := map[string][]string{}
	for _, r := range queryStrings(t, wh, "SELECT concat(customer_id, '|', toString(distinct_products), '|', toString(distinct_categories), '|', toString(price_level), '|', top_category, '|', toString(top_category_share), '|', second_category, '|', top_brand, '|', toString(top_brand_share), '|', toString(first_week_categories)) FROM {db}.customer_features WHERE as_of = toDate('"+d+"')") {
		f := strings.Split(r, "|")
		gotB[f[0]] = f[1:]
	}
	near := func(a string, b float64) bool {
		v, err := strconv.ParseFloat(a, 64)
		return err == nil && math.Abs(v-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	for id, w := range bw {
		g := gotB[id]
		if g == nil {
			t.Errorf("customer %s has lines but no features", id)
			continue
		}
		cats, brands := rank(w.catSpend), rank(w.brandSpend)
		second := ""
		if len(cats) > 1 {
			second = cats[1]
		}
		ok := g[0] == strconv.Itoa(len(w.products)) && g[1] == strconv.Itoa(len(w.cats)) && near(g[2], w.level/float64(w.levelN)) &&
			g[3] == cats[0] && near(g[4], w.catSpend[cats[0]]/w.total) && g[5] == second && g[6] == brands[0] && near(g[7], w.brandSpend[brands[0]]/w.total) &&
			g[8] == strconv.Itoa(len(w.firstWeekCats))
		if !ok {
			t.Errorf("customer %s basket: Go %v; SQL products %d categories %d level %v top %s %v second %s brand %s %v", id, g,
				len(w.products), len(w.cats), w.level/float64(w.levelN), cats[0], w.catSpend[cats[0]]/w.total, second, brands[0], w.brandSpend[brands[0]]/w.total)
		}
	}
	if len(wantEv) != len(gotEv) {
		t.Errorf("%d customers with site features by SQL, %d in Go", len(wantEv), len(gotEv))
	}
	if len(want) < 1000 || len(got) != len(want) {
		t.Fatalf("%d customers in customer_features, %d by SQL", len(got), len(want))
	}
	names := []string{"orders", "cancelled_orders", "revenue", "avg_check", "items_per_order", "return_rate", "cancel_rate",
		"discount_share", "discount_depth", "rating_mean", "first_order_date", "last_order_date", "days_since_first", "days_since_last", "interorder_mean_days"}
	bad := 0
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("customer %s missing from customer_features", id)
		}
		for k := range w {
			same := math.Abs(g[k]-w[k]) <= 1e-9*math.Max(1, math.Abs(w[k])) || (math.IsNaN(g[k]) && math.IsNaN(w[k]))
			if !same && bad < 10 {
				t.Errorf("customer %s %s: Go %v, SQL %v", id, names[k], g[k], w[k])
				bad++
			}
		}
	}
}

// The feature table, its ClickHouse columns and docs/analysts.md list the same features.
func TestFeaturesDocumentedEverywhere(t *testing.T) {
	_, wh := testClickHouse(t)
	if _, err := wh.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	cols := queryStrings(t, wh, "SELECT name FROM system.columns WHERE database = '{db}' AND table = 'customer_features'")
	want := []string{"as_of"}
	readme, err := os.ReadFile("../docs/analysts.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range transform.Features {
		want = append(want, f.Name)
		if f.Name != "customer_id" && !strings.Contains(string(readme), "| `"+f.Name+"` | "+f.Unit+" | "+f.Definition+" |") {
			t.Errorf("docs/analysts.md lacks the row of feature %s", f.Name)
		}
	}
	want = append(want, "run_id")
	if strings.Join(cols, ",") != strings.Join(want, ",") {
		t.Errorf("customer_features columns\n%v\nwant\n%v", cols, want)
	}
}
