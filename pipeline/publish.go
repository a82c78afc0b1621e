package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sirupsen/logrus"

	"github.com/tessera-cdp/tessera/warehouse"
)

// publishStore is where publish reads what score staged and what was published
// before, and swaps the date's partitions in.
type publishStore interface {
	ReadPartition(ctx context.Context, mem memory.Allocator, table string, schema *arrow.Schema, asOf time.Time) (arrow.Record, error)
	Stage(ctx context.Context, table string, asOf time.Time, runID string, rec arrow.Record) error
	Swap(ctx context.Context, table string, asOf time.Time) error
	PublishedDates(ctx context.Context, table string) ([]time.Time, error)
}

// changeDimensions are the customer_scores columns whose moves segment_changes lists.
var changeDimensions = []string{"micro_segment", "rfm_segment", "lifecycle_stage", "vip_tier"}

// changeSchema reads the customer_scores columns whose moves segment_changes
// lists, and the run that wrote them.
var changeSchema = warehouse.CustomerScores.Columns(append([]string{"customer_id"}, append(slices.Clone(changeDimensions), "run_id")...)...)

// PublishResult is what publish swapped in.
type PublishResult struct {
	Tables    []string       // the tables swapped in, in order
	ScoreRun  string         // the score run whose output was published
	Previous  time.Time      // the published date compared with; zero for none
	Customers int            // rows of customer_scores
	Changes   map[string]int // rows of segment_changes per dimension
}

// Publish computes segment_changes against the previous published date and
// swaps every table's staged partition of the date in. Nothing live changes
// until all is staged; then each swap is one ALTER, so every partition shows
// one complete night.
func Publish(ctx context.Context, r Run, st publishStore, o PublishOptions) (PublishResult, error) {
	cur, err := st.ReadPartition(ctx, r.Mem, warehouse.CustomerScores.Name+"_staging", changeSchema, r.AsOf)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return PublishResult{}, fmt.Errorf("nothing staged for %s: run score first", r.AsOf.Format(time.DateOnly))
	}
	if err != nil {
		return PublishResult{}, err
	}
	defer cur.Release()
	res := PublishResult{Customers: int(cur.NumRows()), Changes: map[string]int{}}
	res.ScoreRun = cur.Column(5).(*array.String).Value(0)
	segs, err := st.ReadPartition(ctx, r.Mem, warehouse.Segments.Name+"_staging", warehouse.Segments.Columns("run_id"), r.AsOf)
	if err != nil {
		return res, fmt.Errorf("staged segments: %w", err)
	}
	segRun := segs.Column(0).(*array.String).Value(0)
	segs.Release()
	if segRun != res.ScoreRun {
		return res, fmt.Errorf("staged scores come from run %s, segments from run %s: run score again", res.ScoreRun, segRun)
	}
	dates, err := st.PublishedDates(ctx, warehouse.CustomerScores.Name)
	if err != nil {
		return res, err
	}
	var prev arrow.Record
	for _, d := range dates {
		if d.Before(r.AsOf) {
			res.Previous = d
		}
	}
	if !res.Previous.IsZero() {
		if prev, err = st.ReadPartition(ctx, r.Mem, warehouse.CustomerScores.Name, changeSchema, res.Previous); err != nil {
			return res, err
		}
		defer prev.Release()
	}
	changes := segmentChanges(r.Mem, prev, cur, res.Previous, res.Changes)
	defer changes.Release()
	if err := st.Stage(ctx, warehouse.SegmentChanges.Name, r.AsOf, r.ID, changes); err != nil {
		return res, err
	}
	for i, t := range warehouse.Published {
		if i > 0 && o.BeforeSwap != nil {
			if err := o.BeforeSwap(t.Name); err != nil {
				return res, fmt.Errorf("publish stopped before %s: %w", t.Name, err)
			}
		}
		if err := swapRetrying(ctx, r, st, t.Name, o.Backoff); err != nil {
			return res, fmt.Errorf("publish %s: %w", t.Name, err)
		}
		res.Tables = append(res.Tables, t.Name)
	}
	r.Log.WithFields(logrus.Fields{"score_run": res.ScoreRun, "previous_as_of": DateOrNone(res.Previous), "customers": res.Customers,
		"changes": res.Changes, "tables": res.Tables}).Info("published")
	return res, nil
}

// swapRetrying swaps a table's partition in, again after a pause when the
// warehouse does not answer: REPLACE PARTITION from the staging table gives the same
// result however often it runs.
func swapRetrying(ctx context.Context, r Run, st publishStore, table string, backoff []time.Duration) error {
	for attempt := 0; ; attempt++ {
		err := st.Swap(ctx, table, r.AsOf)
		if err == nil || !errors.Is(err, warehouse.ErrUnavailable) {
			return err
		}
		if attempt == len(backoff) {
			return fmt.Errorf("ClickHouse did not answer in %d attempts: %w; each published partition holds one complete night: run publish again", attempt+1, err)
		}
		r.Log.WithError(err).WithFields(logrus.Fields{"table": table, "attempt": attempt + 1, "retry_in": backoff[attempt].String()}).
			Warn("ClickHouse did not answer the swap: retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff[attempt]):
		}
	}
}

// segmentChanges lists, per customer and dimension, a value that differs
// between the previous published date (prev; nil for none) and now: joined
// (none before), left (none now) or moved. Counts per dimension go to counts.
func segmentChanges(mem memory.Allocator, prev, cur arrow.Record, prevDate time.Time, counts map[string]int) arrow.Record {
	values := func(rec arrow.Record) map[string][]string {
		out := map[string][]string{}
		if rec == nil {
			return out
		}
		ids := rec.Column(0).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			v := make([]string, len(changeDimensions))
			for d := range changeDimensions {
				v[d] = rec.Column(1 + d).(*array.String).Value(i)
			}
			out[ids.Value(i)] = v
		}
		return out
	}
	before, now := values(prev), values(cur)
	ids := make([]string, 0, len(now))
	for id := range now {
		ids = append(ids, id)
	}
	for id := range before {
		if _, ok := now[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	b := array.NewRecordBuilder(mem, warehouse.SegmentChanges.Schema)
	defer b.Release()
	none := make([]string, len(changeDimensions))
	if prevDate.IsZero() {
		prevDate = time.Unix(0, 0).UTC() // ClickHouse's smallest Date: no previous date
	}
	for _, id := range ids {
		from, to := before[id], now[id]
		if from == nil {
			from = none
		}
		if to == nil {
			to = none
		}
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
			b.Field(0).(*array.Date32Builder).Append(arrow.Date32FromTime(prevDate))
			b.Field(1).(*array.StringBuilder).Append(strings.Clone(id))
			b.Field(2).(*array.StringBuilder).Append(dim)
			b.Field(3).(*array.StringBuilder).Append(change)
			b.Field(4).(*array.StringBuilder).Append(from[d])
			b.Field(5).(*array.StringBuilder).Append(to[d])
			counts[dim]++
		}
	}
	return b.NewRecord()
}
