package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
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

// publishTables are swapped in, in this order, once everything is staged.
var publishTables = []string{"customer_scores", "segments", "segment_members", "segment_feed", "segment_changes"}

// publishFault, set by tests, runs before every swap but the first: a publish
// that dies half-way.
var publishFault func(table string) error

// changeDimensions are the customer_scores columns whose moves segment_changes lists.
var changeDimensions = []string{"micro_segment", "rfm_segment", "lifecycle_stage", "vip_tier"}

var changeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "micro_segment", Type: arrow.BinaryTypes.String},
	{Name: "rfm_segment", Type: arrow.BinaryTypes.String},
	{Name: "lifecycle_stage", Type: arrow.BinaryTypes.String},
	{Name: "vip_tier", Type: arrow.BinaryTypes.String},
	{Name: "run_id", Type: arrow.BinaryTypes.String},
}, nil)

var changesOutSchema = arrow.NewSchema([]arrow.Field{
	{Name: "previous_as_of", Type: arrow.FixedWidthTypes.Date32},
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "dimension", Type: arrow.BinaryTypes.String},
	{Name: "change", Type: arrow.BinaryTypes.String},
	{Name: "from_value", Type: arrow.BinaryTypes.String},
	{Name: "to_value", Type: arrow.BinaryTypes.String},
}, nil)

// PublishResult is what publish swapped in.
type PublishResult struct {
	ScoreRun  string         // the score run whose output was published
	Previous  time.Time      // the published date compared with; zero for none
	Customers int            // rows of customer_scores
	Changes   map[string]int // rows of segment_changes per dimension
}

// publish computes segment_changes against the previous published date and
// swaps every table's staged partition of the date in. Nothing live changes
// until all is staged; then each swap is one ALTER, so every partition shows
// one complete night.
func publish(ctx context.Context, rc *runContext, st publishStore) (PublishResult, error) {
	cur, err := st.ReadPartition(ctx, rc.mem, "customer_scores_staging", changeSchema, rc.asOf)
	if errors.Is(err, warehouse.ErrNoPartition) {
		return PublishResult{}, fmt.Errorf("nothing staged for %s: run score first", rc.asOf.Format(time.DateOnly))
	}
	if err != nil {
		return PublishResult{}, err
	}
	defer cur.Release()
	res := PublishResult{Customers: int(cur.NumRows()), Changes: map[string]int{}}
	res.ScoreRun = cur.Column(5).(*array.String).Value(0)
	segs, err := st.ReadPartition(ctx, rc.mem, "segments_staging", arrow.NewSchema([]arrow.Field{{Name: "run_id", Type: arrow.BinaryTypes.String}}, nil), rc.asOf)
	if err != nil {
		return res, fmt.Errorf("staged segments: %w", err)
	}
	segRun := segs.Column(0).(*array.String).Value(0)
	segs.Release()
	if segRun != res.ScoreRun {
		return res, fmt.Errorf("staged scores come from run %s, segments from run %s: run score again", res.ScoreRun, segRun)
	}
	dates, err := st.PublishedDates(ctx, "customer_scores")
	if err != nil {
		return res, err
	}
	var prev arrow.Record
	for _, d := range dates {
		if d.Before(rc.asOf) {
			res.Previous = d
		}
	}
	if !res.Previous.IsZero() {
		if prev, err = st.ReadPartition(ctx, rc.mem, "customer_scores", changeSchema, res.Previous); err != nil {
			return res, err
		}
		defer prev.Release()
	}
	changes := segmentChanges(rc.mem, prev, cur, res.Previous, res.Changes)
	defer changes.Release()
	if err := st.Stage(ctx, "segment_changes", rc.asOf, rc.runID, changes); err != nil {
		return res, err
	}
	for i, t := range publishTables {
		if i > 0 && publishFault != nil {
			if err := publishFault(t); err != nil {
				return res, fmt.Errorf("publish stopped before %s: %w", t, err)
			}
		}
		if err := swapRetrying(ctx, rc, st, t); err != nil {
			return res, fmt.Errorf("publish %s: %w", t, err)
		}
	}
	rc.log.WithFields(logrus.Fields{"score_run": res.ScoreRun, "previous_as_of": dateOrNone(res.Previous), "customers": res.Customers,
		"changes": res.Changes, "tables": publishTables}).Info("published")
	return res, nil
}

// swapBackoff is how long publish waits before each new attempt of a swap
// that ClickHouse did not answer (it restarts, the network drops).
var swapBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

// swapRetrying swaps a table's partition in, again after a pause when the
// connection fails: REPLACE PARTITION from the staging table gives the same
// result however often it runs.
func swapRetrying(ctx context.Context, rc *runContext, st publishStore, table string) error {
	for attempt := 0; ; attempt++ {
		err := st.Swap(ctx, table, rc.asOf)
		if err == nil || !connectionFailed(err) {
			return err
		}
		if attempt == len(swapBackoff) {
			return fmt.Errorf("ClickHouse did not answer in %d attempts: %w; each published partition holds one complete night: run publish again", attempt+1, err)
		}
		rc.log.WithError(err).WithFields(logrus.Fields{"table": table, "attempt": attempt + 1, "retry_in": swapBackoff[attempt].String()}).
			Warn("ClickHouse did not answer the swap: retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(swapBackoff[attempt]):
		}
	}
}

// connectionFailed tells a lost or refused connection from an error of the
// statement itself.
func connectionFailed(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "acquire conn timeout")
}

func dateOrNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.DateOnly)
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
	b := array.NewRecordBuilder(mem, changesOutSchema)
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
