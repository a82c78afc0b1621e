package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/transform"
)

// LTVSummary is a buy-till-you-die summary, one row per customer, as `tessera ltv`
// reads it.
type LTVSummary struct {
	ID             []string
	X, Tx, T       []float64
	Money          []float64 // mean repeat-purchase value; nil when the file has none
	Unit           string    // "week" or "day", when known
	CalibrationEnd string
}

// summaryColumns: lifetimes' names, then BTYD's.
var summaryColumns = [][4]string{
	{"frequency", "recency", "T", "monetary_value"},
	{"x", "t_x", "T", "zbar"},
}

// ReadSummaryCSV reads a summary file with lifetimes' columns
// (frequency,recency,T[,monetary_value]) or BTYD's (x,t_x,T[,zbar]); an ID,
// id, customer_id or unnamed column names the customer.
func ReadSummaryCSV(r io.Reader) (*LTVSummary, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("summary: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	idCol := -1
	for _, n := range []string{"ID", "id", "customer_id", ""} {
		if i, ok := col[n]; ok {
			idCol = i
			break
		}
	}
	var names [4]string
	found := false
	for _, c := range summaryColumns {
		if _, ok := col[c[0]]; ok {
			names, found = c, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("summary: the header %q has neither lifetimes' columns (frequency, recency, T[, monetary_value]) nor BTYD's (x, t_x, T[, zbar])", header)
	}
	for _, n := range names[1:3] {
		if _, ok := col[n]; !ok {
			return nil, fmt.Errorf("summary: column %s missing", n)
		}
	}
	_, hasMoney := col[names[3]]
	s := &LTVSummary{}
	err = eachRecord(cr, "summary", func(line int, rec []string) error {
		var v [4]float64
		for k, n := range names {
			if k == 3 && !hasMoney {
				continue
			}
			var err error
			if v[k], err = strconv.ParseFloat(strings.TrimSpace(rec[col[n]]), 64); err != nil {
				return fmt.Errorf("summary line %d: %s %q is not a number", line, n, rec[col[n]])
			}
		}
		id := strconv.Itoa(line - 1)
		if idCol >= 0 {
			id = rec[idCol]
		}
		s.ID = append(s.ID, id)
		s.X, s.Tx, s.T = append(s.X, v[0]), append(s.Tx, v[1]), append(s.T, v[2])
		if hasMoney {
			s.Money = append(s.Money, v[3])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(s.X) == 0 {
		return nil, errors.New("summary: no rows")
	}
	return s, nil
}

// TransactionColumns name the columns of a transactions CSV.
type TransactionColumns struct{ Customer, Date, Amount string }

// SummaryFromTransactions reads a transactions CSV (one row per purchase) and
// summarises it up to calEnd in the given unit.
func SummaryFromTransactions(r io.Reader, cols TransactionColumns, calEnd time.Time, unit time.Duration) (*LTVSummary, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("transactions: header: %w", err)
	}
	ci, di, ai := -1, -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case cols.Customer:
			ci = i
		case cols.Date:
			di = i
		case cols.Amount:
			ai = i
		}
	}
	if ci < 0 || di < 0 || (cols.Amount != "" && ai < 0) {
		return nil, fmt.Errorf("transactions: the header %q lacks %q, %q or %q", header, cols.Customer, cols.Date, cols.Amount)
	}
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "ordered_at", Type: canon.TimestampType},
		{Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	idB, atB := canon.BuilderOf[*array.StringBuilder](b, "customer_id"), canon.BuilderOf[*array.TimestampBuilder](b, "ordered_at")
	amountB := canon.BuilderOf[*array.Float64Builder](b, "net_amount")
	err = eachRecord(cr, "transactions", func(line int, rec []string) error {
		ts, ok := canon.ParseTime([]byte(strings.TrimSpace(rec[di])))
		if !ok {
			return fmt.Errorf("transactions line %d: %s %q is not a date", line, cols.Date, rec[di])
		}
		v := 0.0
		if ai >= 0 {
			var err error
			if v, err = strconv.ParseFloat(strings.TrimSpace(rec[ai]), 64); err != nil || math.IsNaN(v) {
				return fmt.Errorf("transactions line %d: %s %q is not a number", line, cols.Amount, rec[ai])
			}
		}
		idB.Append(rec[ci])
		atB.Append(arrow.Timestamp(ts))
		amountB.Append(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	orders := b.NewRecord()
	defer orders.Release()
	sum, err := transform.Summary(mem, []arrow.Record{orders}, transform.SummaryOptions{CalibrationEnd: calEnd, Unit: unit})
	if err != nil {
		return nil, err
	}
	defer sum.Release()
	s := &LTVSummary{CalibrationEnd: calEnd.Format(time.DateOnly), Unit: unitName(unit)}
	ids := canon.ArrayOf[*array.String](sum, "customer_id")
	for i := 0; i < ids.Len(); i++ {
		s.ID = append(s.ID, ids.Value(i))
	}
	f := func(name string) []float64 {
		return append([]float64(nil), canon.ArrayOf[*array.Float64](sum, name).Float64Values()...)
	}
	s.X, s.Tx, s.T = f("frequency"), f("recency"), f("T")
	if ai >= 0 {
		s.Money = f("monetary_value")
	}
	if len(s.X) == 0 {
		return nil, fmt.Errorf("transactions: no purchase on or before %s", s.CalibrationEnd)
	}
	return s, nil
}

func unitName(u time.Duration) string {
	if u == 24*time.Hour {
		return "day"
	}
	return "week"
}

// LTVModels are the model names `tessera ltv fit --model` takes.
var LTVModels = append(slices.Clone(model.Candidates), "gg")

// FitLTV fits one model to a summary and returns it as an artefact.
func FitLTV(kind string, s *LTVSummary, penalty float64) (*model.Artefact, error) {
	unit := s.Unit
	if unit == "" {
		unit = "week"
	}
	opt := model.FitOptions{Penalty: penalty}
	if kind == "gg" {
		if s.Money == nil {
			return nil, errors.New("gg needs mean repeat-purchase values: a monetary_value or zbar column, or --amount-col")
		}
		d, err := model.NewSpendData(s.X, s.Money)
		if err != nil {
			return nil, err
		}
		gg, fit, err := model.FitGammaGamma(d, opt)
		if err != nil {
			return nil, err
		}
		return model.NewSpendArtefact(gg, fit, unit, s.CalibrationEnd), nil
	}
	d, err := model.NewData(s.X, s.Tx, s.T)
	if err != nil {
		return nil, err
	}
	pm, fit, err := model.FitPurchases(kind, d, opt)
	if err != nil {
		return nil, err
	}
	return model.NewArtefact(pm, fit, unit, s.CalibrationEnd)
}

// PredictLTV scores every customer of a summary with a purchase model (and,
// for value and CLV, a spend model) and writes CSV.
func PredictLTV(w io.Writer, purchases, spend *model.Artefact, s *LTVSummary, horizon float64, clv model.CLVOptions) error {
	pm, err := purchases.Purchases()
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	header := []string{"customer_id", "p_alive", "expected_purchases", "next_order_in"}
	var p model.Predictions
	withValue := spend != nil && spend.Spend != nil && s.Money != nil
	if withValue {
		header = append(header, "expected_value", "clv")
		p = model.Predict(pm, *spend.Spend, s.X, s.Tx, s.T, s.Money, horizon, clv)
	} else {
		p = model.Predict(pm, model.GammaGamma{P: 1, Q: 2, Gamma: 1}, s.X, s.Tx, s.T, make([]float64, len(s.X)), horizon, clv)
	}
	cw.Write(header)
	next, hasNext := pm.(interface {
		NextOrder(x, tx, T float64) (float64, bool)
	})
	for i := range s.X {
		row := []string{s.ID[i], fmtF(p.ProbAlive[i]), fmtF(p.ExpectedPurchases[i]), ""}
		if hasNext {
			if tau, ok := next.NextOrder(s.X[i], s.Tx[i], s.T[i]); ok {
				row[3] = fmtF(tau)
			} else {
				row[3] = "none expected"
			}
		}
		if withValue {
			row = append(row, fmtF(p.ExpectedValue[i]), fmtF(p.CLV[i]))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

// OpenFile opens a named file, or standard input for "-".
func OpenFile(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(path)
}

// eachRecord hands fn each record after the header with its line number (the
// header is line 1); what names the file in errors.
func eachRecord(cr *csv.Reader, what string, fn func(line int, rec []string) error) error {
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s line %d: %w", what, line, err)
		}
		if err := fn(line, rec); err != nil {
			return err
		}
	}
}
