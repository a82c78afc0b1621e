package model_test

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	arrowcsv "github.com/apache/arrow/go/v17/arrow/csv"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/transform"
)

// writeTransactions simulates n customers of a CDNOW-like shop (the published
// BG/NBD and Gamma-Gamma fits, weeks) who arrive in the first 12 weeks and are
// watched for 78, and writes their transactions as CSV.
func writeTransactions(tb testing.TB, path string, n int) int {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("customer_id,ordered_at,net_amount\n")
	rng := rand.New(rand.NewPCG(1, 2))
	gamma := func(shape, rate float64) float64 { return gammaDraw(rng, shape) / rate }
	start := time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := 0
	for i := 0; i < n; i++ {
		lambda := gamma(0.2426, 4.4135)
		ga, gb := gammaDraw(rng, 0.7929), gammaDraw(rng, 2.4259)
		p := ga / (ga + gb)
		nu := gamma(3.74, 15.44)
		t := rng.Float64() * 12
		for k := 0; t < 78; k++ {
			day := start.AddDate(0, 0, int(t*7))
			fmt.Fprintf(w, "C%07d,%s,%.2f\n", i, day.Format(time.DateOnly), gamma(6.25, nu))
			rows++
			if k > 0 && rng.Float64() < p {
				break
			}
			t += rng.ExpFloat64() / lambda
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return rows
}

func gammaDraw(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaDraw(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		if math.Log(r.Float64()) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// BenchmarkLTV is the work a data team does with pandas and lifetimes: read a
// transactions CSV, summarise, fit BG/NBD and Gamma-Gamma, and predict for every
// customer the expected purchases, P(alive) and 12-month CLV.
// TESSERA_BENCH_CUSTOMERS sets the size (default 100,000; make bench: 1,000,000).
func BenchmarkLTV(b *testing.B) {
	n := 100000
	if s := os.Getenv("TESSERA_BENCH_CUSTOMERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	path := filepath.Join(b.TempDir(), "transactions.csv")
	rows := writeTransactions(b, path, n)
	b.ReportMetric(float64(rows), "transactions")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ltv(b, path, n)
	}
}

func ltv(tb testing.TB, path string, n int) {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "ordered_at", Type: &arrow.TimestampType{Unit: arrow.Second}},
		{Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	t0 := time.Now()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := arrowcsv.NewReader(f, schema, arrowcsv.WithHeader(true), arrowcsv.WithChunk(1<<16), arrowcsv.WithAllocator(mem))
	var recs []arrow.Record
	for r.Next() {
		rec := r.Record()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := r.Err(); err != nil {
		tb.Fatal(err)
	}
	tRead := time.Since(t0)
	sum, err := transform.Summary(mem, recs, transform.SummaryOptions{CalibrationEnd: time.Date(1998, 6, 30, 0, 0, 0, 0, time.UTC), Unit: 7 * 24 * time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	for _, rec := range recs {
		rec.Release()
	}
	defer sum.Release()
	col := func(i int) []float64 { return sum.Column(i).(*array.Float64).Float64Values() }
	x, tx, T, mv := col(1), col(2), col(3), col(4)
	tSummary := time.Since(t0)
	d, err := model.NewData(x, tx, T)
	if err != nil {
		tb.Fatal(err)
	}
	bg, bgFit, err := model.FitBGNBD(d, false, model.FitOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tBG := time.Since(t0)
	sd, err := model.NewSpendData(x, mv)
	if err != nil {
		tb.Fatal(err)
	}
	gg, _, err := model.FitGammaGamma(sd, model.FitOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tGG := time.Since(t0)
	p := model.Predict(bg, gg, x, tx, T, mv, 52, model.CLVOptions{Months: 12, DiscountMonthly: 0.01, UnitsPerMonth: 52.0 / 12, Margin: 1})
	tPred := time.Since(t0)
	if len(p.ExpectedPurchases) != n && len(p.ExpectedPurchases) != int(sum.NumRows()) {
		tb.Fatalf("%d predictions", len(p.ExpectedPurchases))
	}
	if b, ok := tb.(*testing.B); ok {
		b.ReportMetric(tRead.Seconds(), "s-read")
		b.ReportMetric((tSummary - tRead).Seconds(), "s-summary")
		b.ReportMetric((tBG - tSummary).Seconds(), "s-bgnbd")
		b.ReportMetric((tGG - tBG).Seconds(), "s-gammagamma")
		b.ReportMetric((tPred - tGG).Seconds(), "s-predict")
		b.ReportMetric(float64(len(d.X)), "distinct-rows")
		b.ReportMetric(float64(bgFit.Evaluations), "bgnbd-evals")
	}
}
