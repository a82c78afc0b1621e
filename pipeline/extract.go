package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/identity"
	"github.com/tessera-cdp/tessera/source"
	"github.com/tessera-cdp/tessera/synth"
	"github.com/tessera-cdp/tessera/warehouse"
)

// rawSink is where extract lands rows.
type rawSink interface {
	source.Watermarks
	identity.Store
	OpenRaw(ctx context.Context, e canon.Entity, runID string, landedAt time.Time) (warehouse.BatchWriter, error)
	InsertRejected(ctx context.Context, runID string, at time.Time, rs []canon.Rejection) error
	EndExtract(err error) error
	OnePerKey() bool
	SaveWatermark(ctx context.Context, source, entity string, value time.Time, runID string) error
	SaveIdentities(ctx context.Context, ls []warehouse.Identity, runID string, at time.Time) error
	RawKeys(ctx context.Context, e canon.Entity, fn func(string)) error
}

// EntityCount is what extract did with one entity from one source.
// Read = Landed + Rejected + Blank.
type EntityCount struct {
	Entity   canon.Entity `json:"entity"`
	Source   string       `json:"source"`
	Read     int64        `json:"read"`
	Landed   int64        `json:"landed"`
	Rejected int64        `json:"rejected"`
	// Blank counts wholly blank records (",,,," padding an export): skipped,
	// neither landed nor rejected.
	Blank int64 `json:"blank_skipped"`
	// OtherPods counts, in a sharded extract, the rows read that other pods
	// land (or reject): not in Read.
	OtherPods int64 `json:"other_pods,omitempty"`
	// ByRule counts the rejected rows by rule.
	ByRule map[canon.Rule]int64 `json:"rejected_by_rule,omitempty"`
	// UnknownProduct counts order lines landed whose product the catalogue
	// lacks (source.unknown_product: count).
	UnknownProduct int64 `json:"unknown_product,omitempty"`
	// Replaced counts rows that a newer version of their key, read later in
	// the run, replaced: dropped from their batch (and among Rejected, as
	// duplicate_key) or, when already landed, hidden by the newer version.
	Replaced int64 `json:"replaced_by_newer"`
	// Linked counts rows whose customer_id was made the canonical one of a
	// customer known under another id (identities).
	Linked int64 `json:"linked"`
	// ZeroValue counts orders landed (not cancelled) worth 0: a net amount
	// of 0, as when an export's amounts come from lines it lacks.
	ZeroValue int64 `json:"zero_value,omitempty"`
	// MovedCustomer counts orders landed that the warehouse held under
	// another customer (a correction, or two ids linked as one person): the
	// old row and its lines are marked deleted, the lines moved along.
	MovedCustomer int64                 `json:"moved_customer,omitempty"`
	Seconds       float64               `json:"seconds"`
	examples      map[canon.Rule]string // a rejected row's detail per rule
	// landedTwice counts rows landed although a newer version of their key
	// landed after them in the run (the raw table keeps that one).
	landedTwice int64
}

func (c *EntityCount) count(r canon.Rule, pos int64, detail string) {
	if c.ByRule == nil {
		c.ByRule, c.examples = map[canon.Rule]int64{}, map[canon.Rule]string{}
	}
	if c.ByRule[r]++; c.ByRule[r] == 1 {
		c.examples[r] = fmt.Sprintf("e.g. row %d: %s", pos, detail)
	}
}

// ExtractResult sums up an extract run.
type ExtractResult struct {
	Entities []EntityCount `json:"entities"`
	// Shard ("I/N") and Job name a pod's share of a sharded extract.
	Shard string `json:"shard,omitempty"`
	Job   string `json:"job,omitempty"`
}

// Totals adds up the entities.
func (r *ExtractResult) Totals() (read, landed, rejected, blank int64) {
	for _, e := range r.Entities {
		read, landed, rejected, blank = read+e.Read, landed+e.Landed, rejected+e.Rejected, blank+e.Blank
	}
	return
}

// sourceList lists the sources of one entity, read in order.
type sourceList func(t *canon.Table) []source.Entity

// required entities: without them there is nothing to segment.
var required = map[canon.Entity]bool{canon.Customers: true, canon.Orders: true, canon.OrderLines: true}

// Extract reads every entity of the configured sources in load order,
// validates each row and lands batches of at most BatchRows rows; every row
// read is either landed or rejected. Customer ids are made canonical across
// sources (identities) on the way. With no source configured, the sample shop
// is generated on first use and read.
func Extract(ctx context.Context, r Run, st rawSink, o ExtractOptions) (*ExtractResult, error) {
	src := o.Source
	if !source.Configured(src) {
		src.Files.Dir = o.SampleDir
		if _, err := os.Stat(filepath.Join(src.Files.Dir, synth.TruthFile)); err != nil {
			r.Log.WithField("dir", src.Files.Dir).Info("no source configured: generating the sample shop")
			if _, err := synth.Generate(ctx, o.Sample, src.Files.Dir); err != nil {
				return nil, fmt.Errorf("generate the sample shop: %w", err)
			}
		}
	}
	st, err := forShard(r.Shard, st)
	if err != nil {
		return nil, err
	}
	sources, err := source.Open(ctx, src, st, source.Options{Mem: r.Mem, BatchRows: o.BatchRows, Log: r.Log, Location: o.Location})
	if err != nil {
		return nil, err
	}
	defer sources.Close()
	res, err := extract(ctx, r, func(t *canon.Table) []source.Entity { return sources.Of(ctx, t) }, st, o)
	if r.Shard.Sharded() {
		res.Shard, res.Job = r.Shard.String(), r.Shard.Job
	}
	if err == nil {
		warnZeroValue(r, res)
		err = awaitShards(ctx, r, st)
	}
	if err == nil {
		err = settleForJob(ctx, r, st, res)
	}
	return res, st.EndExtract(err)
}

// zeroValueWarn is the share of the orders landed worth 0 above which
// extract warns: revenue, CLV and value tiers then say little.
const zeroValueWarn = 0.2

// ZeroValueOrders are the orders a run landed, and those worth 0.
func (r *ExtractResult) ZeroValueOrders() (zero, landed int64) {
	for _, e := range r.Entities {
		if e.Entity == canon.Orders {
			zero, landed = zero+e.ZeroValue, landed+e.Landed
		}
	}
	return zero, landed
}

// ZeroValueWarning says, when too many orders landed are worth 0, so and
// what it does to the scores; "" otherwise.
func (r *ExtractResult) ZeroValueWarning() string {
	zero, landed := r.ZeroValueOrders()
	if landed == 0 || float64(zero) <= zeroValueWarn*float64(landed) {
		return ""
	}
	return fmt.Sprintf("%d of %d orders landed (%.0f%%) are worth 0 (net_amount 0, not cancelled): revenue, CLV and value tiers will say little of them; "+
		"check where the amounts come from (an export whose amounts are the sum of its lines, with lines missing, gives 0)", zero, landed, 100*float64(zero)/float64(landed))
}

func warnZeroValue(r Run, res *ExtractResult) {
	if w := res.ZeroValueWarning(); w != "" {
		r.Log.Warn(w)
	}
}

// extract lands every entity from the sources that list gives for it. An
// entity whose landing fails because the warehouse does not answer (it
// restarts) is read again from its sources after a pause, with its key
// tables and the identities as the warehouse has them: what landed twice is
// one row in the raw tables, and the run counts the attempt that completed.
func extract(ctx context.Context, r Run, list sourceList, sink rawSink, o ExtractOptions) (*ExtractResult, error) {
	res := &ExtractResult{}
	keys := canon.KeySets{}
	defer keys.Free()
	ids, err := identity.Load(ctx, sink)
	defer func() { ids.Free() }()
	if err != nil {
		return res, err
	}
	for _, t := range canon.Tables {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var counts []EntityCount
		var partial bool
		attempt := 0
		err = retrying(ctx, r, "extract "+string(t.Entity), o.Backoff, func() error {
			if attempt++; attempt > 1 { // again, as the warehouse has them
				keys[t.Entity].Free()
				ids.Free()
				var err error
				if ids, err = identity.Load(ctx, sink); err != nil {
					return err
				}
			}
			var err error
			counts, partial, err = extractTable(ctx, r, t, list, sink, o, keys, ids)
			return err
		})
		if err != nil {
			res.Entities = append(res.Entities, counts...)
			return res, err
		}
		if err := tooManyRejected(t.Entity, counts, partial, o.Source.MaxRejectedShare.Of(string(t.Entity))); err != nil {
			return res, err
		}
		if checksOnly(r.Shard, t.Entity) {
			for i := range counts { // checked here, landed by pod 0
				counts[i] = EntityCount{Entity: t.Entity, Source: counts[i].Source, OtherPods: counts[i].Read, Seconds: counts[i].Seconds}
			}
		}
		res.Entities = append(res.Entities, counts...)
		if len(counts) == 0 && !required[t.Entity] {
			keys[t.Entity].Free() // no source has it: its children are not checked against it
			delete(keys, t.Entity)
			continue
		}
		if !isParent(t.Entity) {
			keys[t.Entity].Free() // no row refers to these
			delete(keys, t.Entity)
			continue
		}
		keys[t.Entity].Seal() // children only look the keys up
		if partial {
			// Read in part: the rows of this run refer to parents landed before too.
			if err := sink.RawKeys(ctx, t.Entity, func(k string) { keys[t.Entity].Add([]byte(k)) }); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// orderSettler is a warehouse that keys orders by their customer too
// (ClickHouse, sorted for shards): an order landed under another customer
// than before is settled after its source (see SettleMovedOrders).
type orderSettler interface {
	SettleMovedOrders(ctx context.Context, runID string) (int, error)
}

// extractTable lands one entity from each of its sources, with a fresh key
// table. A warehouse whose raw tables keep one row per key can take a key
// twice: there, duplicates are caught within a window of keys, so that memory
// does not grow with the rows read, and the keys landed again beyond it are
// counted from a spill of every landed row's key hash (Keys.TallyLanded).
// Parents also remember every key, 8 bytes each, which their children are
// checked against.
func extractTable(ctx context.Context, r Run, t *canon.Table, list sourceList, sink rawSink, o ExtractOptions, keys canon.KeySets, ids *identity.Resolver) ([]EntityCount, bool, error) {
	quiet := false // a pod that checks the rows pod 0 lands, and lands none
	if s, ok := sink.(shardSink); ok && checksOnly(r.Shard, t.Entity) {
		s.quiet, quiet = true, true
		sink = s
	}
	tallied := false
	if sink.OnePerKey() {
		keys[t.Entity] = canon.NewWindow(o.DedupWindow)
		if isParent(t.Entity) {
			keys[t.Entity].RememberAll()
		}
		// What lands beyond the window is counted as it lands, in SpillDir.
		if !quiet {
			if err := keys[t.Entity].TallyLanded(o.SpillDir); err != nil {
				return nil, false, err
			}
			tallied = true
		}
	} else {
		keys[t.Entity] = canon.NewKeys()
	}
	var counts []EntityCount
	var landedTwice int64 // by the sources read so far
	partial, found := false, false
	var looked []string // where sources looked for the entity and found nothing
	for _, src := range list(t) {
		rows, err := src.Open()
		if errors.Is(err, fs.ErrNotExist) {
			looked = append(looked, strings.TrimSuffix(err.Error(), ": "+fs.ErrNotExist.Error()))
			continue
		}
		if err != nil {
			return counts, partial, fmt.Errorf("open %s: %w", t.Entity, err)
		}
		found = true
		var c EntityCount
		// Labelled for profiles: go tool pprof -tagfocus entity=orders
		pprof.Do(ctx, pprof.Labels("entity", string(t.Entity)), func(ctx context.Context) {
			c, err = extractEntity(ctx, r, t, src.System, rows, keys, ids, sink, o)
		})
		rows.Close()
		if settler, ok := sink.(orderSettler); ok && err == nil && t.Entity == canon.Orders {
			// Before the watermark moves and the lines land (under the
			// orders' settled customers); a run that stops before settling
			// leaves them to the next, which settles every moved order.
			var n int
			n, err = settler.SettleMovedOrders(ctx, r.ID)
			c.MovedCustomer = int64(n)
			if n > 0 {
				r.Log.WithFields(logrus.Fields{"entity": t.Entity, "source": c.Source, "orders": n}).Info("orders moved to another customer: their old rows and lines marked deleted, the lines moved along")
			}
		}
		if err == nil && tallied && keys[t.Entity].Rotations() > 0 {
			err = countLandedTwice(r, keys[t.Entity], t.Entity, &c, landedTwice, o.DedupWindow)
		}
		landedTwice += c.landedTwice
		counts = append(counts, c)
		if err != nil {
			return counts, partial, err
		}
		if w, ok := rows.(*source.Incremental); ok { // read in full: the next run starts from here
			partial = partial || w.Partial()
			if mark, ok := w.Mark(); ok {
				if err := sink.SaveWatermark(ctx, w.Source, w.Entity, mark, r.ID); err != nil {
					return counts, partial, err
				}
			}
		}
	}
	if !found {
		if required[t.Entity] {
			if len(looked) == 0 {
				looked = []string{"configure source.files.dir, a database query or a Shopify export"}
			}
			if f := o.Source.Files; len(f.Mapping) > 0 && !source.NewExport(f, nil).Has(t.Entity) {
				looked = append(looked, "source.files.mapping has no "+string(t.Entity))
			}
			return counts, partial, fmt.Errorf("open %s: no source has %s (%s): %w", t.Entity, t.Entity, strings.Join(looked, "; "), fs.ErrNotExist)
		}
		r.Log.WithField("entity", t.Entity).Warn("the source has no " + string(t.Entity) + ": nothing to extract for it")
	}
	return counts, partial, nil
}

// countLandedTwice adds to c the rows that repeat a key read further back than
// the duplicate window: they landed, and the raw table keeps one row per key.
// before is what the entity's earlier sources in the run landed twice.
func countLandedTwice(r Run, keys *canon.Keys, e canon.Entity, c *EntityCount, before int64, window int) error {
	start := time.Now()
	n, err := keys.LandedTwice()
	c.Seconds = round(c.Seconds + time.Since(start).Seconds()) // part of the entity's time
	if err != nil {
		return err
	}
	beyond := n - before - c.landedTwice
	if beyond <= 0 {
		return nil
	}
	c.Replaced += beyond
	c.landedTwice += beyond
	r.Log.WithFields(logrus.Fields{"entity": e, "source": c.Source, "rows": beyond, "dedup_window": window}).
		Warn("rows repeat a key read more than dedup_window keys before: both landed, the raw table keeps one (the newest version, else the later; read it with FINAL); counted in replaced_by_newer")
	return nil
}

// isParent reports whether rows of other entities refer to e.
func isParent(e canon.Entity) bool {
	for _, t := range canon.Tables {
		for _, r := range t.Refs {
			if r.Entity == e {
				return true
			}
		}
	}
	return false
}

// tooManyRejected fails an entity of which more than share of the rows read
// (blank records aside) were rejected for a reason other than a repeated key
// (a newer version, another id of a customer), or of which nothing landed
// from a full read: naming the share and the top rules, with an example of
// each.
func tooManyRejected(e canon.Entity, counts []EntityCount, partial bool, share float64) error {
	var read, landed, bad int64
	byRule := map[canon.Rule]int64{}
	examples := map[canon.Rule]string{}
	for _, c := range counts {
		read += c.Read - c.Blank
		landed += c.Landed
		for r, n := range c.ByRule {
			byRule[r] += n
			if r != canon.DuplicateKey {
				bad += n
			}
			if _, ok := examples[r]; !ok {
				examples[r] = c.examples[r]
			}
		}
	}
	others := int64(0)
	for _, c := range counts {
		others += c.OtherPods
	}
	if read == 0 && others == 0 && required[e] && !partial && len(counts) > 0 {
		return fmt.Errorf("%s: the source has no rows (%s): there is nothing to segment", e, counts[0].Source)
	}
	// A pod judges its own share; one whose share is empty has nothing to judge.
	if read == 0 || (float64(bad) <= share*float64(read) && (landed > 0 || partial)) {
		return nil
	}
	rules := slices.Collect(maps.Keys(byRule))
	slices.SortFunc(rules, func(a, b canon.Rule) int { return cmp.Or(cmp.Compare(byRule[b], byRule[a]), cmp.Compare(a, b)) })
	var top []string
	for _, r := range rules[:min(3, len(rules))] {
		top = append(top, fmt.Sprintf("%s %d (%s)", r, byRule[r], examples[r]))
	}
	what := fmt.Sprintf("%.1f%% of the %d rows read were rejected, above source.max_rejected_share.%s (%g%%)", 100*float64(bad)/float64(read), read, e, 100*share)
	if landed == 0 {
		what = fmt.Sprintf("none of the %d rows read landed", read)
	}
	return fmt.Errorf("%s: %s: %s. Fix the source or its mapping (source.files.mapping) and run extract again", e, what, strings.Join(top, "; "))
}
