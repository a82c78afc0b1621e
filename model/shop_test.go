package model_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/model"
	"github.com/tessera-cdp/tessera/source"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/transform"
)

// TestProbAliveRanksChurn: on a generated shop, P(alive) from a BG/NBD fit on
// the orders ranks the customers who dropped out (truth file) below the others.
func TestProbAliveRanksChurn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := synth.Defaults()
	cfg.Customers, cfg.VIPShare = 20000, 0 // a pure BG/NBD population
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	orders := readOrders(t, mem, filepath.Join(dir, "orders.csv"))
	defer orders.Release()
	calEnd := cfg.End.AddDate(0, 0, -1)
	sum, err := transform.Summary(mem, []arrow.Record{orders}, transform.SummaryOptions{CalibrationEnd: calEnd, Unit: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer sum.Release()
	ids := sum.Column(0).(*array.String)
	col := func(i int) []float64 { return sum.Column(i).(*array.Float64).Float64Values() }
	x, tx, T := col(1), col(2), col(3)
	d, err := model.NewData(x, tx, T)
	if err != nil {
		t.Fatal(err)
	}
	m, fit, err := model.FitBGNBD(d, false, model.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := synth.DefaultParams(0).Regular
	t.Logf("BG/NBD on the shop (days): %+v ± %v; drawn from r=%g alpha=%g a=%g b=%g", m, fit.StdErr, p.R, p.Alpha, p.A, p.B)

	churned := truthChurned(t, filepath.Join(dir, synth.TruthCustomersFile))
	var scores []scored
	for i := 0; i < ids.Len(); i++ {
		c, ok := churned[ids.Value(i)]
		if !ok {
			t.Fatalf("customer %s not in the truth", ids.Value(i))
		}
		scores = append(scores, scored{m.ProbAlive(x[i], tx[i], T[i]), c})
	}
	auc := aucChurn(scores)
	t.Logf("AUC of P(alive) against the truth's dropouts: %.3f (%d buyers)", auc, len(scores))
	if auc < 0.8 {
		t.Errorf("AUC %.3f, want ≥ 0.8", auc)
	}
}

type scored struct {
	alive   float64
	churned bool
}

// aucChurn is the probability that a churned customer has a lower P(alive)
// than one still alive (ties count half).
func aucChurn(s []scored) float64 {
	sort.Slice(s, func(i, j int) bool { return s[i].alive < s[j].alive })
	var churned, alive, rankSum float64
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j].alive == s[i].alive {
			j++
		}
		mid := float64(i+j+1) / 2 // mean rank of the tie group, 1-based
		for k := i; k < j; k++ {
			if !s[k].churned {
				rankSum += mid
				alive++
			} else {
				churned++
			}
		}
		i = j
	}
	return (rankSum - alive*(alive+1)/2) / (alive * churned)
}

// readOrders reads a canonical orders file through the extract path's reader
// and validation.
func readOrders(t *testing.T, mem memory.Allocator, path string) arrow.Record {
	tbl, _ := canon.Lookup(canon.Orders)
	r, err := source.OpenCSV(path, tbl)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	customers := canon.NewKeys()
	keys := canon.KeySets{canon.Customers: customers}
	b, err := canon.NewBuilder(mem, tbl, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for r.Next() {
		customers.Add(r.Fields()[tbl.Index("customer_id")]) // customers are not read here
		if rule, detail := b.Append(r.Fields()); rule != "" {
			t.Fatalf("%s: %s", rule, detail)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return b.NewRecord()
}

func truthChurned(t *testing.T, path string) map[string]bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range recs[1:] {
		out[r[0]] = r[3] == "true"
	}
	return out
}
