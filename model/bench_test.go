package model_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
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
	gamma := func(shape, rate float64) float64 { return model.GammaDraw(rng, shape) / rate }
	start := time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := 0
	for i := 0; i < n; i++ {
		lambda := gamma(0.2426, 4.4135)
		ga, gb := model.GammaDraw(rng, 0.7929), model.GammaDraw(rng, 2.4259)
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
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ltv(b, path, n, rows)
	}
	b.ReportMetric(float64(rows), "transactions")
}

func ltv(tb testing.TB, path string, n, rows int) {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "ordered_at", Type: &arrow.TimestampType{Unit: arrow.Second}},
		{Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	t0 := time.Now()
	recs, err := readCSVParallel(path, schema, mem, runtime.GOMAXPROCS(0))
	if err != nil {
		tb.Fatal(err)
	}
	read := 0
	for _, r := range recs {
		read += int(r.NumRows())
	}
	if read != rows {
		tb.Fatalf("read %d of %d transactions", read, rows)
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
	tData := time.Since(t0)
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
	// The other candidates train fits on the same summary, timed beside
	// BG/NBD: their cost is read as a ratio to it.
	_, mbgFit, err := model.FitBGNBD(d, true, model.FitOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tMBG := time.Since(t0)
	_, pnbdFit, err := model.FitParetoNBD(d, model.FitOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tPNBD := time.Since(t0)
	if len(p.ExpectedPurchases) != n || int(sum.NumRows()) != n {
		tb.Fatalf("%d predictions for %d customers", len(p.ExpectedPurchases), n)
	}
	if b, ok := tb.(*testing.B); ok {
		b.ReportMetric(tRead.Seconds(), "s-read")
		b.ReportMetric((tSummary - tRead).Seconds(), "s-summary")
		b.ReportMetric((tData - tSummary).Seconds(), "s-collapse")
		b.ReportMetric((tBG - tData).Seconds(), "s-bgnbd")
		b.ReportMetric((tGG - tBG).Seconds(), "s-gammagamma")
		b.ReportMetric((tPred - tGG).Seconds(), "s-predict")
		b.ReportMetric(float64(len(d.X)), "distinct-rows")
		b.ReportMetric(float64(bgFit.Evaluations), "bgnbd-evals")
		b.ReportMetric((tMBG - tPred).Seconds(), "s-mbgnbd")
		b.ReportMetric((tPNBD - tMBG).Seconds(), "s-paretonbd")
		b.ReportMetric(float64(mbgFit.Evaluations), "mbgnbd-evals")
		b.ReportMetric(float64(pnbdFit.Evaluations), "paretonbd-evals")
	}
}

// readCSVParallel reads a CSV file with a header in parts cut at line ends, one
// Arrow CSV reader per part, as a data team's loader would on several cores.
func readCSVParallel(path string, schema *arrow.Schema, mem memory.Allocator, parts int) ([]arrow.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Cut points just after a newline near each even share of the file.
	cuts := []int64{0}
	buf := make([]byte, 4096)
	for i := 1; i < parts; i++ {
		at := st.Size() * int64(i) / int64(parts)
		n, _ := f.ReadAt(buf, at)
		nl := bytes.IndexByte(buf[:n], '\n')
		if nl < 0 {
			break
		}
		cuts = append(cuts, at+int64(nl)+1)
	}
	cuts = append(cuts, st.Size())
	out := make([][]arrow.Record, len(cuts)-1)
	errs := make([]error, len(cuts)-1)
	var wg sync.WaitGroup
	for i := 0; i+1 < len(cuts); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := arrowcsv.NewReader(io.NewSectionReader(f, cuts[i], cuts[i+1]-cuts[i]), schema,
				arrowcsv.WithHeader(i == 0), arrowcsv.WithChunk(1<<16), arrowcsv.WithAllocator(mem))
			defer r.Release()
			for r.Next() {
				rec := r.Record()
				rec.Retain()
				out[i] = append(out[i], rec)
			}
			errs[i] = r.Err()
		}(i)
	}
	wg.Wait()
	var recs []arrow.Record
	for i := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		recs = append(recs, out[i]...)
	}
	return recs, nil
}
