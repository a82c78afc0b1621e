package pipeline

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// updateBYO rewrites the bring-your-own-export fixtures in testdata/byo:
// go test ./pipeline -run TestWriteBYOFixtures -update-byo
var updateBYO = flag.Bool("update-byo", false, "rewrite the fixtures of testdata/byo")

const byoDir = "../testdata/byo"

// TestWriteBYOFixtures writes three exports shaped like real ones, each
// dirty as its kind is: a marketplace's (CRLF, US dates, blank padding rows,
// per-order customer ids, no amounts on orders, orphan items, items of
// broken orders, products missing from the catalogue), a single transactions
// file shaped like the public Online Retail data set (cancellations as C
// invoices with negative quantities, rows without a customer), and a Russian
// accounting system's (';', Windows-1251, DD.MM.YYYY, decimal comma, statuses
// in Russian). Seeded: the same files every time, which the test checks:
// the fixtures in testdata/byo are what the generator writes (-update-byo
// rewrites them).
func TestWriteBYOFixtures(t *testing.T) {
	dir := t.TempDir()
	if *updateBYO {
		dir = byoDir
	}
	writers := map[string]func(*testing.T, string){"marketplace": writeMarketplace, "marketplace-sampled": writeMarketplaceSampled,
		"online-retail": writeOnlineRetail, "accounting-ru": writeAccounting}
	for name, write := range writers {
		write(t, filepath.Join(dir, name))
		if *updateBYO {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, name, "*.csv"))
		if len(files) == 0 {
			t.Fatalf("%s: nothing written", name)
		}
		for _, f := range files {
			got, _ := os.ReadFile(f)
			want, err := os.ReadFile(filepath.Join(byoDir, name, filepath.Base(f)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from what the generator writes (%v): go test ./pipeline -run TestWriteBYOFixtures -update-byo", name, filepath.Base(f), err)
			}
		}
	}
}

// table is a file's rows, written as CSV with sep, CRLF when crlf.
type table struct {
	header []string
	rows   [][]string
}

func (tb *table) add(r ...string) { tb.rows = append(tb.rows, r) }

func (tb *table) write(t *testing.T, path string, sep rune, crlf bool, cm *charmap.Charmap) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma, w.UseCRLF = sep, crlf
	w.Write(tb.header)
	for _, r := range tb.rows {
		w.Write(r)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if cm != nil {
		var err error
		if b, err = cm.NewEncoder().Bytes(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pad adds n wholly blank records (",,,,") among and after the rows.
func (tb *table) pad(rnd *rand.Rand, n int) {
	blank := make([]string, len(tb.header))
	for range n {
		i := rnd.IntN(len(tb.rows) + 1)
		if rnd.IntN(2) == 0 {
			i = len(tb.rows) // most padding trails, as spreadsheets leave it
		}
		tb.rows = append(tb.rows[:i], append([][]string{blank}, tb.rows[i:]...)...)
	}
}

func hexID(rnd *rand.Rand) string { return fmt.Sprintf("%016x%016x", rnd.Uint64(), rnd.Uint64()) }

// buyer is a person of a generated export: when they bought.
type buyer struct {
	id     string
	orders []time.Time
}

// buyers draws n people over days before end: each buys once, a share of
// them again at their own rate, so that repeat buyers are a minority as in
// real shops.
func buyers(rnd *rand.Rand, n int, repeatShare float64, start, end time.Time, id func(int) string) []buyer {
	span := end.Sub(start)
	out := make([]buyer, n)
	for i := range out {
		first := start.Add(time.Duration(rnd.Int64N(int64(span))))
		b := buyer{id: id(i), orders: []time.Time{first}}
		if rnd.Float64() < repeatShare {
			// Their own mean gap, exponential gaps, and after each order a
			// chance to leave for good.
			mean := float64(20+rnd.IntN(200)) * 24
			for at := first; ; {
				at = at.Add(time.Duration(rnd.ExpFloat64()*mean) * time.Hour)
				if !at.Before(end) || rnd.IntN(6) == 0 {
					break
				}
				b.orders = append(b.orders, at)
			}
		}
		out[i] = b
	}
	return out
}

func writeMarketplace(t *testing.T, dir string) {
	writeMarketplaceShaped(t, dir, marketplaceShape{seed: 19, people: 1800, repeatShare: 0.12, itemShare: 1})
}

// writeMarketplaceSampled writes a marketplace's export whose files were
// sampled each on its own, as public extracts of such data often are: the
// items of only a tenth of the orders are there (the others are worth 0),
// one buyer of a thousand came back, and some customers never ordered.
func writeMarketplaceSampled(t *testing.T, dir string) {
	writeMarketplaceShaped(t, dir, marketplaceShape{seed: 23, people: 1000, oneRepeat: true, itemShare: 0.1, nonBuyers: 120, paymentShare: 0.15})
}

// marketplaceShape is what a generated marketplace export holds.
type marketplaceShape struct {
	seed        uint64
	people      int
	repeatShare float64
	oneRepeat   bool    // exactly one buyer orders twice (repeatShare 0)
	itemShare   float64 // of the orders whose items the export has
	nonBuyers   int     // customers without an order
	// paymentShare of the orders have their payments in a payments file
	// (0: no such file): what they paid, items and freight.
	paymentShare float64
}

func writeMarketplaceShaped(t *testing.T, dir string, shape marketplaceShape) {
	rnd := rand.New(rand.NewPCG(shape.seed, 1))
	sample := rand.New(rand.NewPCG(shape.seed, 2)) // which orders keep their items: apart, so the rest is drawn alike
	paying := rand.New(rand.NewPCG(shape.seed, 3)) // which orders have payments, and how they split
	payments := table{header: []string{"order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"}}
	start, end := time.Date(2016, 9, 4, 0, 0, 0, 0, time.UTC), time.Date(2018, 8, 29, 0, 0, 0, 0, time.UTC)
	products := table{header: []string{"product_id", "product_category_name", "product_name_lenght", "product_description_lenght", "product_photos_qty", "product_weight_g", "product_length_cm", "product_height_cm", "product_width_cm"}}
	cats := []string{"cama_mesa_banho", "beleza_saude", "esporte_lazer", "moveis_decoracao", "informatica_acessorios", "utilidades_domesticas", "relogios_presentes", "telefonia", "brinquedos", "automotivo"}
	var catalogue []string
	for range 300 {
		id := hexID(rnd)
		catalogue = append(catalogue, id)
		products.add(id, cats[rnd.IntN(len(cats))], fmt.Sprint(20+rnd.IntN(40)), fmt.Sprint(100+rnd.IntN(2000)), fmt.Sprint(1+rnd.IntN(5)),
			fmt.Sprint(100+rnd.IntN(5000)), fmt.Sprint(10+rnd.IntN(60)), fmt.Sprint(2+rnd.IntN(40)), fmt.Sprint(10+rnd.IntN(40)))
	}
	customers := table{header: []string{"customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"}}
	orders := table{header: []string{"order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date", "order_delivered_customer_date", "order_estimated_delivery_date"}}
	items := table{header: []string{"order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date", "price", "freight_value"}}
	us := func(at time.Time) string { return at.Format("1/2/2006 15:04") }
	cities := [][2]string{{"sao paulo", "SP"}, {"rio de janeiro", "RJ"}, {"belo horizonte", "MG"}, {"brasilia", "DF"}, {"curitiba", "PR"}, {"porto alegre", "RS"}}
	people := buyers(rnd, shape.people, shape.repeatShare, start, end, func(int) string { return hexID(rnd) })
	if shape.oneRepeat {
		p := &people[0]
		p.orders = append(p.orders[:1], p.orders[0].Add(-30*24*time.Hour))
		p.orders[0], p.orders[1] = p.orders[1], p.orders[0]
	}
	for n, p := range people {
		city := cities[rnd.IntN(len(cities))]
		for k, at := range p.orders {
			cust, order := hexID(rnd), hexID(rnd) // a customer id per order, as the marketplace issues them
			customers.add(cust, p.id, fmt.Sprintf("%05d", rnd.IntN(99999)), city[0], city[1])
			status := []string{"delivered", "delivered", "delivered", "delivered", "delivered", "delivered", "shipped", "invoiced", "canceled", "unavailable"}[rnd.IntN(10)]
			ordered := us(at)
			if (n*7+k)%97 == 3 {
				ordered = "0000-00-00 00:00" // a broken export row: this order is rejected, its items are parent_rejected
			}
			orders.add(order, cust, status, ordered, us(at.Add(time.Hour)), us(at.Add(48*time.Hour)), us(at.Add(200*time.Hour)), at.Add(20*24*time.Hour).Format("1/2/2006 0:00"))
			kept := shape.itemShare >= 1 || sample.Float64() < shape.itemShare
			total := 0.0
			for line := range 1 + rnd.IntN(3) {
				product := catalogue[rnd.IntN(len(catalogue))]
				if rnd.IntN(150) == 0 {
					product = hexID(rnd) // a product the catalogue lacks
				}
				seller := hexID(rnd)
				price := 10 + rnd.Float64()*300
				freight := 5 + rnd.Float64()*30
				total += math.Round(price*100)/100 + math.Round(freight*100)/100
				item := []string{order, fmt.Sprint(line + 1), product, seller, us(at.Add(72 * time.Hour)), fmt.Sprintf("%.2f", price), fmt.Sprintf("%.2f", freight)}
				if kept {
					items.add(item...)
				}
			}
			if shape.paymentShare > 0 && paying.Float64() < shape.paymentShare {
				if paying.IntN(4) == 0 { // a voucher and a card
					voucher := math.Round(total*30) / 100
					payments.add(order, "1", "voucher", "1", fmt.Sprintf("%.2f", voucher))
					payments.add(order, "2", "credit_card", fmt.Sprint(1+paying.IntN(10)), fmt.Sprintf("%.2f", total-voucher))
				} else {
					payments.add(order, "1", "credit_card", fmt.Sprint(1+paying.IntN(10)), fmt.Sprintf("%.2f", total))
				}
			}
		}
	}
	for range 12 { // items of orders that are not in the export at all
		items.add(hexID(rnd), "1", catalogue[rnd.IntN(len(catalogue))], hexID(rnd), us(end), "49.90", "12.00")
	}
	for range shape.nonBuyers {
		city := cities[rnd.IntN(len(cities))]
		customers.add(hexID(rnd), hexID(rnd), fmt.Sprintf("%05d", rnd.IntN(99999)), city[0], city[1])
	}
	customers.pad(rnd, 900)
	orders.pad(rnd, 1100)
	items.pad(rnd, 1500)
	products.pad(rnd, 200)
	customers.write(t, filepath.Join(dir, "olist_customers_dataset.csv"), ',', true, nil)
	orders.write(t, filepath.Join(dir, "olist_orders_dataset.csv"), ',', true, nil)
	items.write(t, filepath.Join(dir, "olist_order_items_dataset.csv"), ',', true, nil)
	products.write(t, filepath.Join(dir, "olist_products_dataset.csv"), ',', true, nil)
	if shape.paymentShare > 0 {
		payments.pad(rnd, 300)
		payments.write(t, filepath.Join(dir, "olist_order_payments_dataset.csv"), ',', true, nil)
	}
}

func writeOnlineRetail(t *testing.T, dir string) {
	rnd := rand.New(rand.NewPCG(19, 2))
	start, end := time.Date(2009, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2011, 12, 9, 0, 0, 0, 0, time.UTC)
	tx := table{header: []string{"Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"}}
	type item struct {
		code, desc string
		price      float64
	}
	var stock []item
	words := []string{"WHITE", "HANGING", "HEART", "T-LIGHT", "HOLDER", "REGENCY", "CAKESTAND", "3 TIER", "JUMBO BAG", "RED", "RETROSPOT", "LUNCH BAG", "PARTY BUNTING", "SET OF 3", "CAKE TINS", "PANTRY"}
	for i := range 400 {
		desc := words[rnd.IntN(len(words))] + " " + words[rnd.IntN(len(words))]
		if i%9 == 0 {
			desc += ", ASSORTED" // a comma: the field is quoted
		}
		stock = append(stock, item{fmt.Sprintf("%05d%s", 20000+i, []string{"", "A", "B"}[i%3]), desc, float64(rnd.IntN(1500)+29) / 100})
	}
	countries := []string{"United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom", "Germany", "France", "EIRE", "Netherlands"}
	people := buyers(rnd, 900, 0.55, start, end, func(i int) string { return fmt.Sprint(12346 + i) })
	invoice := 489434
	type inv struct {
		at       time.Time
		customer string
		country  string
	}
	var invoices []inv
	for _, p := range people {
		country := countries[rnd.IntN(len(countries))]
		for _, at := range p.orders {
			invoices = append(invoices, inv{at, p.id, country})
		}
	}
	for range 200 { // guests: no customer id
		invoices = append(invoices, inv{start.Add(time.Duration(rnd.Int64N(int64(end.Sub(start))))), "", "United Kingdom"})
	}
	rnd.Shuffle(len(invoices), func(i, j int) { invoices[i], invoices[j] = invoices[j], invoices[i] })
	for _, v := range invoices {
		invoice++
		lines := make([]item, 1+rnd.IntN(6))
		qty := make([]int, len(lines))
		for k := range lines {
			lines[k], qty[k] = stock[rnd.IntN(len(stock))], 1+rnd.IntN(12)
		}
		at := v.at.Truncate(time.Minute)
		for k, it := range lines {
			tx.add(fmt.Sprint(invoice), it.code, it.desc, fmt.Sprint(qty[k]), at.Format("1/2/2006 15:04"), fmt.Sprintf("%.2f", it.price), v.customer, v.country)
		}
		if v.customer != "" && rnd.IntN(25) == 0 { // a cancellation of part of it, days later
			at = at.Add(time.Duration(1+rnd.IntN(5)) * 24 * time.Hour)
			it := lines[0]
			tx.add(fmt.Sprintf("C%d", invoice), it.code, it.desc, fmt.Sprint(-qty[0]), at.Format("1/2/2006 15:04"), fmt.Sprintf("%.2f", it.price), v.customer, v.country)
		}
	}
	tx.write(t, filepath.Join(dir, "online_retail.csv"), ',', true, nil)
}

func writeAccounting(t *testing.T, dir string) {
	rnd := rand.New(rand.NewPCG(19, 3))
	start, end := time.Date(2023, 1, 9, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 26, 0, 0, 0, 0, time.UTC)
	msk := time.FixedZone("MSK", 3*3600)
	comma := func(x float64) string { // "1 234,56"
		s := fmt.Sprintf("%.2f", x)
		whole, frac, _ := strings.Cut(s, ".")
		var b strings.Builder
		for i, c := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteRune('\u00a0')
			}
			b.WriteRune(c)
		}
		return b.String() + "," + frac
	}
	groups := []string{"Бытовая химия", "Канцтовары", "Посуда", "Текстиль", "Продукты питания", "Электротовары"}
	names := []string{"Мыло хозяйственное", "Тетрадь 48 л.", "Кружка «Гжель»", "Полотенце махровое", "Чай чёрный", "Лампа настольная", "Ручка шариковая", "Кастрюля 3 л"}
	goods := table{header: []string{"Код", "Наименование", "Группа", "Цена"}}
	prices := map[string]float64{}
	var codes []string
	for i := range 120 {
		code := fmt.Sprintf("00-%08d", 1000+i)
		price := float64(rnd.IntN(500000)+5000) / 100
		codes, prices[code] = append(codes, code), price
		goods.add(code, names[rnd.IntN(len(names))], groups[rnd.IntN(len(groups))], comma(price))
	}
	firms := []string{"ООО «Ромашка»", "ИП Иванов И.И.", "АО «Вектор»", "ООО «Север»", "ИП Петрова А.С."}
	cities := []string{"Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск"}
	// A wholesaler's clients buy again as BG/NBD assumes: each at a rate of
	// their own, each leaving after an order with a chance of their own.
	people := make([]buyer, 900)
	for i := range people {
		rate := rnd.ExpFloat64() / 45 // orders a day
		leave := rnd.Float64() * 0.4
		at := start.Add(time.Duration(rnd.Int64N(int64(end.Sub(start)) * 2 / 3)))
		b := buyer{id: fmt.Sprintf("00-%06d", 1+i), orders: []time.Time{at}}
		for rnd.Float64() >= leave {
			at = at.Add(time.Duration(rnd.ExpFloat64() / rate * 24 * float64(time.Hour)))
			if !at.Before(end) {
				break
			}
			b.orders = append(b.orders, at)
		}
		people[i] = b
	}
	clients := table{header: []string{"Код", "Наименование", "ЭлектроннаяПочта", "ДатаРегистрации", "Город"}}
	orders := table{header: []string{"Номер", "Дата", "Контрагент", "Статус", "Сумма", "Скидка", "СуммаКОплате"}}
	lines := table{header: []string{"Заказ", "НомерСтроки", "Номенклатура", "Количество", "Цена", "СуммаСкидки"}}
	number := 0
	for i, p := range people {
		size := 1 + rnd.IntN(3)*rnd.IntN(6) // a client's usual order size: most small, a few large
		reg := p.orders[0].Add(-time.Duration(rnd.IntN(60)) * 24 * time.Hour)
		clients.add(p.id, firms[rnd.IntN(len(firms))]+" "+fmt.Sprint(i), fmt.Sprintf("client%d@example.ru", i), reg.In(msk).Format("02.01.2006"), cities[rnd.IntN(len(cities))])
		for _, at := range p.orders {
			number++
			id := fmt.Sprintf("ЗК-%06d", number)
			status := []string{"Выполнен", "Выполнен", "Выполнен", "Выполнен", "Выполнен", "Выполнен", "Выполнен", "Отменён", "Возврат", "Частичный возврат"}[rnd.IntN(10)]
			var gross, disc float64
			for k := range 1 + rnd.IntN(4) {
				code := codes[rnd.IntN(len(codes))]
				q := size * (1 + rnd.IntN(3))
				d := 0.0
				if rnd.IntN(4) == 0 {
					d = float64(int(prices[code]*float64(q)*10)) / 100
				}
				gross, disc = gross+prices[code]*float64(q), disc+d
				lines.add(id, fmt.Sprint(k+1), code, fmt.Sprint(q), comma(prices[code]), comma(d))
			}
			orders.add(id, at.In(msk).Format("02.01.2006 15:04:05"), p.id, status, comma(gross), comma(disc), comma(gross-disc))
		}
	}
	cm := charmap.Windows1251
	clients.write(t, filepath.Join(dir, "kontragenty.csv"), ';', true, cm)
	orders.write(t, filepath.Join(dir, "zakazy.csv"), ';', true, cm)
	lines.write(t, filepath.Join(dir, "stroki_zakazov.csv"), ';', true, cm)
	goods.write(t, filepath.Join(dir, "nomenklatura.csv"), ';', true, cm)
}
