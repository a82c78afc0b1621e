package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// publishStore is where publish reads what score staged and what was
// published before, swaps the date's partitions in and records the night.
type publishStore interface {
	ReadRun(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string) (arrow.Record, error)
	ReadRunSlice(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, runID string, s warehouse.Slice) (arrow.Record, error)
	EachPart(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time, job string, parts []warehouse.Slice, batch int, fn func(arrow.Record) error) error
	OpenPart(ctx context.Context, table string, schema *arrow.Schema, asOf time.Time, job string, s warehouse.Slice, runID string) (warehouse.PartWriter, error)
	PartsWritten(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
	StageParts(ctx context.Context, table string, asOf time.Time, job string, of int) (int, error)
	PartitionRuns(ctx context.Context, table string, asOf time.Time) (map[string]int, error)
	Stage(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	RunRecord(ctx context.Context, id string) (warehouse.Run, bool, error)
	Swap(ctx context.Context, table string, asOf time.Time) error
	Publication(ctx context.Context, asOf time.Time) (warehouse.Publication, error)
	PublicationDates(ctx context.Context) ([]time.Time, error)
	RecordPublication(ctx context.Context, p warehouse.Publication) error
}

// changeDimensions are the customer_scores columns whose moves segment_changes lists.
var changeDimensions = []string{"micro_segment", "rfm_segment", "lifecycle_stage", "vip_tier"}

// changeSchema reads the customer_scores columns whose moves segment_changes
// lists.
var changeSchema = warehouse.CustomerScores.Columns(append([]string{"customer_id"}, changeDimensions...)...)

// partTables are the tables each shard of publish writes its part of.
// segment_feed's part is the segments dealt to the shard (segmentFeeds).
var partTables = []string{warehouse.CustomerScores.Name, warehouse.SegmentMembers.Name, warehouse.SegmentChanges.Name, warehouse.SegmentFeed.Name}

// PublishResult is what publish swapped in.
type PublishResult struct {
	Tables     []string       // the tables swapped in, in order
	ScoreRun   string         // the score run whose output was published
	Previous   time.Time      // the published date compared with; zero for none
	Customers  int            // rows of customer_scores
	Changes    map[string]int // rows of segment_changes per dimension (a shard's own, when sharded)
	ChangeRows int            // rows of segment_changes
	Part       bool           // a shard other than 0: it wrote its parts only
}

// Publish builds the shard's rows of customer_scores, segment_members and
// segment_changes (against the previous published date) from the profiles
// and the plan score wrote, and writes them as its parts. Shard 0 (the only
// shard of a run that is not sharded) then waits for every part, stages
// them, checks that every table is whole and of one score run, swaps every
// table's staged partition in, and records, last, the date's publication
// naming the runs its tables hold. Nothing live changes until all is staged
// and checked; readers read only the runs a publication names, so a publish
// cut short between two swaps leaves them the night before, whole (or
// none), never a mix.
func Publish(ctx context.Context, r Run, st publishStore, o PublishOptions, so ScoreOptions) (PublishResult, error) {
	sh := r.Shard
	res := PublishResult{}
	scoreRun, pl, err := findPlan(ctx, r, st)
	if err != nil {
		return res, err
	}
	if err := previousDate(ctx, r, st, &res); err != nil {
		return res, err
	}
	finish, err := gatherParts(ctx, r, st, partTables, func() (err error) {
		res.Changes, err = publishPart(ctx, r, st, so, scoreRun, pl, res.Previous)
		return err
	})
	if err != nil {
		return res, err
	}
	if !finish {
		res.Part, res.ScoreRun = true, scoreRun
		return res, nil
	}
	if sh.Sharded() {
		res.Changes = nil // each shard counted its own
	}
	staged := map[string]int{}
	for _, t := range partTables {
		if staged[t], err = st.StageParts(ctx, t, r.AsOf, sh.Job, sh.Of); err != nil {
			return res, err
		}
	}
	run, rows, err := checkStaged(ctx, r, st, map[string]int{warehouse.SegmentFeed.Name: staged[warehouse.SegmentFeed.Name]})
	if err != nil {
		return res, err
	}
	if run != scoreRun {
		return res, fmt.Errorf("staged customer_scores are of score run %s, the plan of %s: run publish again", run, scoreRun)
	}
	rows[warehouse.SegmentChanges.Name] = staged[warehouse.SegmentChanges.Name]
	res.ChangeRows = rows[warehouse.SegmentChanges.Name]
	res.ScoreRun, res.Customers = scoreRun, rows[warehouse.CustomerScores.Name]
	for i, t := range warehouse.Published {
		if i > 0 && o.BeforeSwap != nil {
			if err := o.BeforeSwap(t.Name); err != nil {
				return res, fmt.Errorf("publish stopped before %s: %w", t.Name, err)
			}
		}
		if err := retrying(ctx, r, "swap "+t.Name, o.Backoff, func() error { return st.Swap(ctx, t.Name, r.AsOf) }); err != nil {
			return res, fmt.Errorf("publish %s: %w%s", t.Name, err, stillWhole(err))
		}
		res.Tables = append(res.Tables, t.Name)
	}
	if o.BeforeSwap != nil {
		if err := o.BeforeSwap("publications"); err != nil {
			return res, fmt.Errorf("publish stopped before its record: %w", err)
		}
	}
	pub := warehouse.Publication{AsOf: r.AsOf, ScoreRun: scoreRun, PublishRun: scoreRun, Rows: rows, PublishedAt: time.Now().UTC()}
	if err := retrying(ctx, r, "record the publication", o.Backoff, func() error { return st.RecordPublication(ctx, pub) }); err != nil {
		return res, fmt.Errorf("publish: %w%s", err, stillWhole(err))
	}
	if fs, ok := st.(feedStore); ok && sh.Sharded() {
		if err := fs.PurgePurchases(ctx); err != nil {
			r.Log.WithError(err).Warn("the purchases the pods shared before are kept: the next publish deletes them")
		}
	}
	r.Log.WithFields(logrus.Fields{"score_run": res.ScoreRun, "previous_as_of": DateOrNone(res.Previous), "customers": res.Customers,
		"changes": res.Changes, "tables": res.Tables, "rows": rows}).Info("published")
	return res, nil
}

// stillWhole says, after the warehouse stopped answering, what readers see.
func stillWhole(err error) string {
	if errors.Is(err, warehouse.ErrUnavailable) {
		return "; each published date still reads as one complete night: run publish again"
	}
	return ""
}

// checkStaged finds the score run staged for the date and checks that every
// table it stages holds that run's rows alone, as many as the run recorded
// staging (a staging insert cut short, or two runs' rows, is refused naming
// the table), and that each of publish's own (ours: its rows by table,
// staged under the score run) does; it returns the run and the rows of each
// table.
func checkStaged(ctx context.Context, r Run, st publishStore, ours map[string]int) (string, map[string]int, error) {
	day := r.AsOf.Format(time.DateOnly)
	runs, err := st.PartitionRuns(ctx, warehouse.CustomerScores.Name+"_staging", r.AsOf)
	if err != nil {
		return "", nil, err
	}
	if len(runs) == 0 {
		return "", nil, fmt.Errorf("nothing staged for %s: run score first", day)
	}
	if len(runs) > 1 {
		return "", nil, fmt.Errorf("staged customer_scores of %s mixes the rows of score runs %v: run score again", day, runs)
	}
	var scoreRun string
	for run := range runs {
		scoreRun = run
	}
	rec, ok, err := st.RunRecord(ctx, scoreRun)
	if err != nil {
		return "", nil, err
	}
	var detail struct {
		Staged map[string]int `json:"staged"`
	}
	if ok {
		json.Unmarshal([]byte(rec.Detail), &detail)
	}
	if !ok || rec.Status != "ok" || rec.Stage != "score" || detail.Staged == nil {
		return "", nil, fmt.Errorf("score run %s, whose rows are staged for %s, did not finish staging (no record of it in runs): run score again", scoreRun, day)
	}
	rows := maps.Clone(detail.Staged)
	for _, t := range warehouse.Scored {
		want, who := detail.Staged[t.Name], "score run "+scoreRun
		if n, ok := ours[t.Name]; ok {
			want, who, rows[t.Name] = n, "publish", n
		}
		runs, err := st.PartitionRuns(ctx, t.Name+"_staging", r.AsOf)
		if err != nil {
			return "", nil, err
		}
		if len(runs) > 1 || runs[scoreRun] != want || (want == 0 && len(runs) > 0) {
			return "", nil, fmt.Errorf("staged %s of %s holds %v rows by run, %s staged %d: run score again", t.Name, day, runs, who, want)
		}
	}
	return scoreRun, rows, nil
}

// previousDate finds the newest date published before this one (none: zero).
func previousDate(ctx context.Context, r Run, st publishStore, res *PublishResult) error {
	dates, err := st.PublicationDates(ctx)
	if err != nil {
		return err
	}
	for _, d := range dates {
		if d.Before(r.AsOf) {
			res.Previous = d
		}
	}
	return nil
}

// changeStream lists, per customer and dimension, a value that differs
// between the previous published date (prev; nil for none) and now: joined
// (none before), left (none now) or moved. The customers come in id order;
// prev's are merged in. Counts per dimension go to counts.
type changeStream struct {
	prev     arrow.Record
	prevIDs  *array.String
	prevDims [4]*array.String // changeDimensions
	order    []int32          // prev's rows in id order
	next     int
	prevDate arrow.Date32
	b        *array.RecordBuilder
	// the columns of segment_changes
	previousAsOf                          *array.Date32Builder
	id, dimension, change, fromVal, toVal *array.StringBuilder
	counts                                map[string]int
	rows                                  int
}

func newChangeStream(mem memory.Allocator, prev arrow.Record, prevDate time.Time) *changeStream {
	if prevDate.IsZero() {
		prevDate = time.Unix(0, 0).UTC() // ClickHouse's smallest Date: no previous date
	}
	b := array.NewRecordBuilder(mem, warehouse.SegmentChanges.Schema)
	str := func(name string) *array.StringBuilder { return canon.BuilderOf[*array.StringBuilder](b, name) }
	cs := &changeStream{prev: prev, prevDate: arrow.Date32FromTime(prevDate), b: b, counts: map[string]int{},
		previousAsOf: canon.BuilderOf[*array.Date32Builder](b, "previous_as_of"), id: str("customer_id"), dimension: str("dimension"),
		change: str("change"), fromVal: str("from_value"), toVal: str("to_value")}
	if prev != nil {
		ids := canon.ArrayOf[*array.String](prev, "customer_id")
		cs.prevIDs = ids
		for d, dim := range changeDimensions {
			cs.prevDims[d] = canon.ArrayOf[*array.String](prev, dim)
		}
		cs.order = make([]int32, prev.NumRows())
		for i := range cs.order {
			cs.order[i] = int32(i)
		}
		slices.SortFunc(cs.order, func(a, b int32) int { return strings.Compare(ids.Value(int(a)), ids.Value(int(b))) })
	}
	return cs
}

// prevID is the id of prev's k-th row in id order.
func (cs *changeStream) prevID(k int) string {
	return cs.prevIDs.Value(int(cs.order[k]))
}

// prevValues are the values of prev's k-th row in id order.
func (cs *changeStream) prevValues(k int) [4]string {
	var v [4]string
	for d := range v {
		v[d] = cs.prevDims[d].Value(int(cs.order[k]))
	}
	return v
}

// add lists the changes of a customer now, after those of the customers
// before it in id order who are gone.
func (cs *changeStream) add(id string, now [4]string) {
	for cs.next < len(cs.order) && cs.prevID(cs.next) < id {
		cs.emit(cs.prevID(cs.next), cs.prevValues(cs.next), [4]string{})
		cs.next++
	}
	var before [4]string
	if cs.next < len(cs.order) && cs.prevID(cs.next) == id {
		before = cs.prevValues(cs.next)
		cs.next++
	}
	cs.emit(id, before, now)
}

// rest lists the changes of the customers gone after the last one now.
func (cs *changeStream) rest() {
	for ; cs.next < len(cs.order); cs.next++ {
		cs.emit(cs.prevID(cs.next), cs.prevValues(cs.next), [4]string{})
	}
}

func (cs *changeStream) emit(id string, from, to [4]string) {
	for d, dim := range changeDimensions {
		if from[d] == to[d] {
			continue
		}
		change := "moved"
		switch {
		case from[d] == "":
			change = "joined"
		case to[d] == "":
			change = "left"
		}
		cs.previousAsOf.Append(cs.prevDate)
		cs.id.Append(id)
		cs.dimension.Append(dim)
		cs.change.Append(change)
		cs.fromVal.Append(from[d])
		cs.toVal.Append(to[d])
		cs.counts[dim]++
		cs.rows++
	}
}
