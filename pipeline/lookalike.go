package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/lookalike"
	"github.com/tessera-cdp/tessera/segment"
	"github.com/tessera-cdp/tessera/warehouse"
)

// LookalikeResult is what a look-alike run ranked and wrote.
type LookalikeResult struct {
	AsOf    string `json:"as_of"`
	Method  string `json:"method"`
	Seed    int    `json:"seed"`    // seed customers found among the customers
	Base    int    `json:"base"`    // customers ranked: every other registered customer
	Written int    `json:"written"` // rows of the file: opted in to e-mail, most alike first
	File    string `json:"file"`
	// Ranked are the customer ids of the base, most alike first.
	Ranked []string `json:"-"`
}

// lookalikeInputs are what a customer is compared on: what it bought (0 for
// customers who never did, with buyer 0) and what it did on the site and
// with campaign messages in the 90 days before the date.
var lookalikeInputs = []string{"buyer", "orders", "revenue", "avg_check", "items_per_order", "discount_share", "days_since_last",
	"distinct_categories", "price_level", "revenue_12m", "product_views", "category_views", "searches", "cart_adds", "favorites",
	"checkouts", "email_opens", "clicks"}

var lookalikeFeatures = warehouse.CustomerFeatures.Columns("customer_id", "orders", "revenue", "avg_check", "items_per_order",
	"discount_share", "days_since_last", "distinct_categories", "price_level", "revenue_12m")

// Seed resolves a look-alike seed: a segment id of the published date, vip
// (its VIP tier), or a file of customer ids (one per line; a first line
// customer_id is a header).
func (p *Runner) Seed(ctx context.Context, asOf time.Time, spec string) ([]string, error) {
	r := NewRun(p.Log, p.Mem, "lookalike", asOf)
	switch {
	case spec == "vip":
		rec, err := p.Store.ReadPartition(ctx, r.Mem, warehouse.CustomerScores.Name, warehouse.CustomerScores.Columns("customer_id", "vip_tier"), asOf)
		if err != nil {
			return nil, fmt.Errorf("seed vip: %w", err)
		}
		defer rec.Release()
		tiers := canon.ArrayOf[*array.String](rec, "vip_tier")
		r.Log.Warn("the VIP tier is a cut-off on 12-month revenue, one of the look-alike's inputs: its look-alikes are mostly the next customers by revenue " +
			"(on CDNOW, ranking by last-year revenue found as many of the future top customers); seed with a list or a segment to find customers like them in other ways")
		return pick(rec, func(i int) bool { return tiers.Value(i) == segment.VIP }), nil
	case strings.HasPrefix(spec, "seg-"):
		rec, err := p.Store.ReadPartition(ctx, r.Mem, warehouse.SegmentMembers.Name, warehouse.SegmentMembers.Columns("customer_id", "segment_id"), asOf)
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", spec, err)
		}
		defer rec.Release()
		segs := canon.ArrayOf[*array.String](rec, "segment_id")
		ids := pick(rec, func(i int) bool { return segs.Value(i) == spec })
		if len(ids) == 0 {
			return nil, fmt.Errorf("seed %s: no such segment on %s", spec, asOf.Format(time.DateOnly))
		}
		return ids, nil
	}
	f, err := os.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("seed: %w (a segment id seg-..., vip, or a file of customer ids)", err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		id := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if id == "" || (n == 0 && id == "customer_id") {
			continue
		}
		ids = append(ids, id)
	}
	return ids, sc.Err()
}

func pick(rec arrow.Record, keep func(int) bool) []string {
	var out []string
	ids := canon.ArrayOf[*array.String](rec, "customer_id")
	for i := 0; i < int(rec.NumRows()); i++ {
		if keep(i) {
			out = append(out, strings.Clone(ids.Value(i)))
		}
	}
	return out
}

// Lookalike ranks every registered customer not in the seed (buyers and
// customers with only site behaviour) by its likeness to the seed as of
// asOf, and writes the size most alike among those who opted in to e-mail
// to out, as their e-mail's hex SHA-256 (of the trimmed, lower-cased
// address: what ad platforms' customer-list uploads take). A re-run
// replaces the file.
func (p *Runner) Lookalike(ctx context.Context, asOf time.Time, seed []string, size int, method, out string) (LookalikeResult, error) {
	r := NewRun(p.Log, p.Mem, "lookalike", asOf)
	res := LookalikeResult{AsOf: asOf.Format(time.DateOnly), Method: method, File: out}
	if size < 1 {
		return res, errors.New("lookalike: the size must be at least 1")
	}
	ids, x, hashes, err := p.lookalikeRows(ctx, r, asOf)
	if err != nil {
		return res, fmt.Errorf("lookalike: %w", err)
	}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	in := make([]bool, len(ids))
	for _, id := range seed {
		if i, ok := index[id]; ok && !in[i] {
			in[i] = true
			res.Seed++
		}
	}
	if res.Seed == 0 {
		return res, fmt.Errorf("lookalike: none of the %d seed ids is a customer registered before %s", len(seed), res.AsOf)
	}
	ranked, err := lookalike.Rank(lookalikeInputs, x, in, method)
	if err != nil {
		return res, err
	}
	res.Base = len(ranked)
	var lines []string
	for _, s := range ranked {
		res.Ranked = append(res.Ranked, ids[s.Index])
		if h := hashes[s.Index]; h != "" && len(lines) < size {
			lines = append(lines, h)
		}
	}
	res.Written = len(lines)
	if out != "" {
		if err := writeAudience(out, lines); err != nil {
			return res, fmt.Errorf("lookalike: %w", err)
		}
	}
	r.Log.WithField("seed", res.Seed).WithField("base", res.Base).WithField("written", res.Written).Info("look-alike audience")
	return res, nil
}

// writeAudience writes the hashed e-mail addresses under a header email,
// through a temporary file and a rename.
func writeAudience(path string, hashes []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("email\n"+strings.Join(hashes, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lookalikeRows are every customer registered before asOf, with its inputs
// and, when it opted in to e-mail, its e-mail hash.
func (p *Runner) lookalikeRows(ctx context.Context, r Run, asOf time.Time) (ids []string, x [][]float64, hashes []string, err error) {
	index := map[string]int{}
	err = p.Store.Each(ctx, r.Mem, warehouse.Query{Entity: canon.Customers, Columns: []string{"customer_id", "email_hash", "optin_email"},
		TimeColumn: "created_at", Before: asOf}, p.Options.Export.BatchRows, func(rec arrow.Record) error {
		id, hash, optin := canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.String](rec, "email_hash"), canon.ArrayOf[*array.Boolean](rec, "optin_email")
		for i := 0; i < int(rec.NumRows()); i++ {
			index[strings.Clone(id.Value(i))] = len(ids)
			ids = append(ids, strings.Clone(id.Value(i)))
			h := ""
			if optin.IsValid(i) && optin.Value(i) {
				h = strings.Clone(hash.Value(i))
			}
			hashes = append(hashes, h)
			x = append(x, make([]float64, len(lookalikeInputs)))
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	feats, err := p.Store.ReadPartition(ctx, r.Mem, warehouse.CustomerFeatures.Name, lookalikeFeatures, asOf)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return nil, nil, nil, fmt.Errorf("no customer features as of %s: run features first", asOf.Format(time.DateOnly))
	}
	if err != nil {
		return nil, nil, nil, err
	}
	defer feats.Release()
	fid := canon.ArrayOf[*array.String](feats, "customer_id")
	for i := 0; i < int(feats.NumRows()); i++ {
		k, ok := index[fid.Value(i)]
		if !ok {
			continue
		}
		row := x[k]
		row[0] = 1
		for c := 1; c < int(feats.NumCols()); c++ {
			v := 0.0
			switch a := feats.Column(c).(type) {
			case *array.Float64:
				v = a.Value(i)
			case *array.Int64:
				v = float64(a.Value(i))
			case *array.Int32:
				v = float64(a.Value(i))
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = 0
			}
			if c != 5 { // discount_share is a share; counts and amounts are skewed
				v = math.Log1p(math.Max(0, v))
			}
			row[c] = v
		}
	}
	since := asOf.AddDate(0, 0, -90).Unix()
	// Site events and campaign events of the 90 days, counted by type into
	// their input columns.
	for _, src := range []struct {
		entity canon.Entity
		col    map[string]int
	}{
		{canon.Events, map[string]int{"product_view": 10, "category_view": 11, "search": 12, "add_to_cart": 13, "favorite": 14, "checkout_start": 15}},
		{canon.CampaignEvents, map[string]int{"open": 16, "click": 17}},
	} {
		q := warehouse.Query{Entity: src.entity, Columns: []string{"customer_id", "type", "ts"}, TimeColumn: "ts", Before: asOf, NonEmpty: "customer_id"}
		err = p.Store.Each(ctx, r.Mem, q, p.Options.Export.BatchRows, func(rec arrow.Record) error {
			id, typ, ts := canon.ArrayOf[*array.String](rec, "customer_id"), canon.ArrayOf[*array.String](rec, "type"), canon.ArrayOf[*array.Timestamp](rec, "ts")
			for i := 0; i < int(rec.NumRows()); i++ {
				c, counted := src.col[typ.Value(i)]
				k, known := index[id.Value(i)]
				if counted && known && int64(ts.Value(i)) >= since {
					x[k][c]++
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, nil, err
		}
	}
	for _, row := range x {
		for c := 10; c < len(row); c++ {
			row[c] = math.Log1p(row[c])
		}
	}
	return ids, x, hashes, nil
}
