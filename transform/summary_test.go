package transform

import (
	"bufio"
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var ordersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "ordered_at", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
	{Name: "net_amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "status", Type: arrow.BinaryTypes.String},
}, nil)

// cdnowOrders reads CDNOW_sample.txt (master id, sample id, YYYYMMDD, CDs, dollars)
// as canonical orders keyed by the sample id.
func cdnowOrders(t *testing.T, mem memory.Allocator) arrow.Record {
	t.Helper()
	f, err := os.Open("../testdata/cdnow/CDNOW_sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := array.NewRecordBuilder(mem, ordersSchema)
	defer b.Release()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 5 {
			t.Fatalf("line %q", sc.Text())
		}
		d, err := time.Parse("20060102", fs[2])
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.ParseFloat(fs[4], 64)
		b.Field(0).(*array.StringBuilder).Append(fs[1])
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(d.Unix() + 3600*13)) // any time of the day
		b.Field(2).(*array.Float64Builder).Append(v)
		b.Field(3).(*array.StringBuilder).Append("completed")
	}
	return b.NewRecord()
}

// TestSummaryCDNOW reproduces the published CDNOW summary for all 2,357 customers.
func TestSummaryCDNOW(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	orders := cdnowOrders(t, mem)
	defer orders.Release()
	sum, err := Summary(mem, []arrow.Record{orders}, SummaryOptions{
		CalibrationEnd: time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC), Unit: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer sum.Release()

	f, err := os.Open("../testdata/cdnow/cdnow_customers_summary_with_transactions.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want = want[1:]
	if int(sum.NumRows()) != len(want) || len(want) != 2357 {
		t.Fatalf("%d customers, want %d", sum.NumRows(), len(want))
	}
	ids := sum.Column(0).(*array.String)
	cols := []*array.Float64{sum.Column(1).(*array.Float64), sum.Column(2).(*array.Float64), sum.Column(3).(*array.Float64), sum.Column(4).(*array.Float64)}
	row := map[string]int{}
	for i := 0; i < ids.Len(); i++ {
		id, _ := strconv.Atoi(ids.Value(i))
		row[strconv.Itoa(id)] = i
	}
	for _, w := range want {
		i, ok := row[w[0]]
		if !ok {
			t.Fatalf("customer %s missing", w[0])
		}
		for k, c := range cols {
			exp, _ := strconv.ParseFloat(w[k+1], 64)
			// The file rounds to 2 decimals.
			if got := c.Value(i); math.Abs(got-exp) > 0.005+1e-9 {
				t.Errorf("customer %s %s = %.4f, want %s", w[0], SummarySchema.Field(k+1).Name, got, w[k+1])
			}
		}
	}
}

// TestSummaryPointInTime: orders after the calibration end and cancelled orders
// change nothing.
func TestSummaryPointInTime(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	day := func(s string) arrow.Timestamp {
		d, _ := time.Parse(time.DateTime, s)
		return arrow.Timestamp(d.Unix())
	}
	build := func(extra bool) arrow.Record {
		b := array.NewRecordBuilder(mem, ordersSchema)
		defer b.Release()
		add := func(id, at string, v float64, status string) {
			b.Field(0).(*array.StringBuilder).Append(id)
			b.Field(1).(*array.TimestampBuilder).Append(day(at))
			b.Field(2).(*array.Float64Builder).Append(v)
			b.Field(3).(*array.StringBuilder).Append(status)
		}
		add("a", "2025-01-01 10:00:00", 10, "completed")
		add("a", "2025-01-01 18:00:00", 5, "completed") // same day: one purchase of 15
		add("a", "2025-01-11 09:00:00", 20, "completed")
		add("a", "2025-01-21 23:59:59", 40, "returned")
		add("b", "2025-01-31 00:00:00", 7, "completed")
		if extra {
			add("a", "2025-02-01 00:00:00", 99, "completed") // the day after the end
			add("a", "2025-01-15 12:00:00", 99, "cancelled")
			add("c", "2025-03-01 12:00:00", 99, "completed")
		}
		return b.NewRecord()
	}
	opt := SummaryOptions{CalibrationEnd: time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC), Unit: 24 * time.Hour}
	var got [2]string
	for i, extra := range []bool{false, true} {
		rec := build(extra)
		s, err := Summary(mem, []arrow.Record{rec}, opt)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for r := 0; r < int(s.NumRows()); r++ {
			b.WriteString(s.Column(0).(*array.String).Value(r))
			for c := 1; c <= 4; c++ {
				b.WriteString(" " + strconv.FormatFloat(s.Column(c).(*array.Float64).Value(r), 'g', 6, 64))
			}
			b.WriteString(";")
		}
		s.Release()
		got[i] = b.String()
	}
	if want := "a 2 20 30 30;b 0 0 0 0;"; got[0] != want {
		t.Errorf("summary %q, want %q", got[0], want)
	}
	if got[1] != got[0] {
		t.Errorf("later and cancelled orders changed the summary: %q", got[1])
	}
}
